"""Speed and memory of Cohen et al.'s Spherical MNIST S2CNN: equisphere against e3nn.

Both stacks compute the same network: S2 convolution (bandwidth 30 -> 10, 1 ->
20 channels, 24-point kernel grid), ReLU on the SO(3) grid, SO(3) convolution
(10 -> 6, 20 -> 40 channels, 72-rotation kernel grid), ReLU, mean over SO(3), a
linear layer to 10 logits. The e3nn version is written with e3nn's public API
(``o3.FromS2Grid``, ``o3.Linear`` with external weights, ``nn.SO3Activation``)
at the same band limits (``lmax = B - 1``) and on SO(3) grids of the same size
(``aspect_ratio=1``: ``2B x 2B x 2B`` points); e3nn's default grid
(``aspect_ratio=2``, four times the points) is timed as well.

Each figure comes from a fresh subprocess: the median time of ``--repeats``
runs after one warm-up, and the peak resident memory above the level before
the first forward pass (``ru_maxrss``, so it includes the autograd graph and
the e3nn precomputed tables built lazily, but not the model's construction).

Run: ``python benchmarks/bench_layers.py [--batch 32] [--repeats 5] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import time

import torch

N_CLASSES = 10


def build_equisphere() -> torch.nn.Module:
    from equisphere.models.s2cnn import S2CNNClassifier

    return S2CNNClassifier(1, N_CLASSES, (30, 10, 6), (20, 40))


def build_e3nn(aspect_ratio: int) -> torch.nn.Module:
    from e3nn import o3
    from e3nn.nn import SO3Activation

    from equisphere.nn import s2_near_identity_grid, so3_near_identity_grid

    def so3_irreps(lmax: int) -> o3.Irreps:
        return o3.Irreps([(2 * l + 1, (l, 1)) for l in range(lmax + 1)])

    class KernelS2Conv(torch.nn.Module):
        def __init__(self, f_in: int, f_out: int, lmax: int, kernel: torch.Tensor) -> None:
            super().__init__()
            beta, alpha = kernel[:, 0].float(), kernel[:, 1].float()
            harmonics = o3.spherical_harmonics_alpha_beta(
                list(range(lmax + 1)), alpha, beta, normalization="component"
            )
            self.register_buffer("basis", harmonics)  # (n_points, (lmax+1)^2)
            self.weight = torch.nn.Parameter(torch.randn(f_in, f_out, kernel.shape[0]))
            self.bias = torch.nn.Parameter(torch.zeros(f_out, 1))
            self.linear = o3.Linear(
                o3.Irreps.spherical_harmonics(lmax, p=1),
                so3_irreps(lmax),
                f_in=f_in,
                f_out=f_out,
                internal_weights=False,
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            psi = torch.einsum("kj,iok->ioj", self.basis, self.weight) / self.basis.shape[0] ** 0.5
            out = self.linear(x, weight=psi)
            return torch.cat([out[..., :1] + self.bias, out[..., 1:]], dim=-1)

    class KernelSO3Conv(torch.nn.Module):
        def __init__(self, f_in: int, f_out: int, lmax: int, kernel: torch.Tensor) -> None:
            super().__init__()
            alpha, beta, gamma = (kernel[:, i].float() for i in range(3))
            blocks = [
                (2 * l + 1) ** 0.5 * o3.wigner_D(l, alpha, beta, gamma).flatten(-2)
                for l in range(lmax + 1)
            ]
            self.register_buffer("basis", torch.cat(blocks, dim=-1))  # (n_points, K)
            self.weight = torch.nn.Parameter(torch.randn(f_in, f_out, kernel.shape[0]))
            self.bias = torch.nn.Parameter(torch.zeros(f_out, 1))
            self.linear = o3.Linear(
                so3_irreps(lmax), so3_irreps(lmax), f_in=f_in, f_out=f_out, internal_weights=False
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            psi = torch.einsum("kj,iok->ioj", self.basis, self.weight) / self.basis.shape[0] ** 0.5
            out = self.linear(x, weight=psi)
            return torch.cat([out[..., :1] + self.bias, out[..., 1:]], dim=-1)

    class E3nnS2CNN(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.from_s2 = o3.FromS2Grid((60, 60), lmax=9)
            self.conv1 = KernelS2Conv(1, 20, 9, s2_near_identity_grid())
            self.act1 = SO3Activation(9, 5, torch.relu, 10, aspect_ratio=aspect_ratio)
            self.conv2 = KernelSO3Conv(20, 40, 5, so3_near_identity_grid())
            self.act2 = SO3Activation(5, 0, torch.relu, 6, aspect_ratio=aspect_ratio)
            self.head = torch.nn.Linear(40, N_CLASSES)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.from_s2(x.transpose(-1, -2))  # (N, 1, (lmax+1)^2)
            x = self.act2(self.conv2(self.act1(self.conv1(x))))  # (N, 40, 1)
            return self.head(x.flatten(1))

    return E3nnS2CNN()


BUILDERS = {
    "equisphere": build_equisphere,
    "e3nn (same grid)": lambda: build_e3nn(aspect_ratio=1),
    "e3nn (default grid)": lambda: build_e3nn(aspect_ratio=2),
}


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def measure(name: str, backward: bool, batch: int, repeats: int, threads: int) -> dict:
    """Time and peak memory of one model and mode, in this process."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = BUILDERS[name]()
    signal = torch.rand(batch, 1, 60, 60)
    parameters = sum(p.numel() for p in model.parameters())
    before = _peak_rss_bytes()

    def step() -> None:
        if backward:
            model.zero_grad(set_to_none=True)
            model(signal).square().mean().backward()
        else:
            with torch.no_grad():
                model(signal)

    step()  # warm-up: lazy tables, allocator
    peak = _peak_rss_bytes() - before
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "peak_bytes": peak, "parameters": parameters}


def run_subprocess(name: str, backward: bool, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        json.dumps({"name": name, "backward": backward}),
        "--batch",
        str(args.batch),
        "--repeats",
        str(args.repeats),
        "--threads",
        str(args.threads),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        job = json.loads(args.worker)
        print(
            json.dumps(
                measure(job["name"], job["backward"], args.batch, args.repeats, args.threads)
            )
        )
        return

    print(
        f"S2CNN 30 -> 10 -> 6, batch {args.batch}, CPU, {args.threads} threads, "
        f"median of {args.repeats}"
    )
    results = {
        (name, backward): run_subprocess(name, backward, args)
        for name in BUILDERS
        for backward in (False, True)
    }
    header = f"{'stack':<22}{'params':>9}{'fwd ms':>9}{'fwd MiB':>9}{'f+b ms':>9}{'f+b MiB':>9}"
    print(header)
    for name in BUILDERS:
        forward, both = results[(name, False)], results[(name, True)]
        print(
            f"{name:<22}{forward['parameters']:>9,}{forward['seconds'] * 1e3:>9.1f}"
            f"{forward['peak_bytes'] / 2**20:>9.1f}{both['seconds'] * 1e3:>9.1f}"
            f"{both['peak_bytes'] / 2**20:>9.1f}"
        )
    ours = results[("equisphere", False)], results[("equisphere", True)]
    for name in list(BUILDERS)[1:]:
        theirs = results[(name, False)], results[(name, True)]
        ratios = [theirs[k]["seconds"] / ours[k]["seconds"] for k in (0, 1)] + [
            theirs[k]["peak_bytes"] / max(ours[k]["peak_bytes"], 1) for k in (0, 1)
        ]
        print(
            f"{name} / equisphere: time forward {ratios[0]:.2f}x, forward+backward "
            f"{ratios[1]:.2f}x; peak memory forward {ratios[2]:.2f}x, forward+backward "
            f"{ratios[3]:.2f}x (above 1: equisphere is faster / leaner)"
        )
    if not math.isfinite(ours[0]["seconds"]):
        raise SystemExit("equisphere timing failed")


if __name__ == "__main__":
    main()
