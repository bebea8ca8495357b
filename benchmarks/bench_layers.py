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
runs after one warm-up (``--clock wall``: elapsed time; ``--clock cpu``: this
process's CPU time, steadier when other jobs share the cores, meant for
``--threads 1``), and the peak resident memory of those runs above the
resident memory before them (Linux ``VmHWM`` after resetting it through
``/proc/self/clear_refs``): what one step needs on top of the model, its
precomputed tables and the input, autograd graph included. The workers run
with ``MALLOC_MMAP_THRESHOLD_=131072`` so that freed blocks go back to the
system and resident memory follows the live tensors.

With ``--equivariance`` it prints instead the measured equivariance errors
quoted in docs/equivariance.md: each linear layer against random rotations of
band-limited inputs (float64), and the whole classifier against the rotations
that permute its grids (float32) and against uniformly random rotations.

With ``--one-piece`` it compares instead with the same network with every
harmonic transform in one piece under plain autograd, which shows what running
them on blocks with nothing saved for backward saves.

Run: ``python benchmarks/bench_layers.py [--batch 32] [--repeats 5] [--threads 2]
[--clock wall|cpu] [--equivariance | --one-piece]``. The load average is printed with the results.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
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


def build_equisphere_one_piece() -> torch.nn.Module:
    """The same network with every harmonic transform in one piece under plain autograd.

    For ``--one-piece``: what running the transforms on blocks of the batch (with
    nothing saved for backward, ``equisphere.nn._spectral.blockwise``) saves.
    """
    from equisphere.nn import _spectral

    _spectral.blockwise.__defaults__ = (1 << 62,)  # block_elements: one block, whatever the size
    return build_equisphere()


BUILDERS = {
    "equisphere": build_equisphere,
    "e3nn (same grid)": lambda: build_e3nn(aspect_ratio=1),
    "e3nn (default grid)": lambda: build_e3nn(aspect_ratio=2),
    "equisphere, one piece": build_equisphere_one_piece,
}
PEERS = ["e3nn (same grid)", "e3nn (default grid)"]


def _memory_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status: peak memory needs Linux")


def _reset_peak() -> int:
    """Reset the resident-memory high-water mark; return the resident memory in bytes."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return _memory_kib("VmRSS") * 1024


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def measure(
    name: str,
    backward: bool,
    kind: str,
    batch: int,
    repeats: int,
    threads: int,
    clock: str = "wall",
) -> dict:
    """Median time (``kind="time"``) or peak memory (``"memory"``) of one model and mode."""
    now = CLOCKS[clock]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = BUILDERS[name]()
    signal = torch.rand(batch, 1, 60, 60)
    parameters = sum(p.numel() for p in model.parameters())

    def step() -> None:
        if backward:
            model.zero_grad(set_to_none=True)
            model(signal).square().mean().backward()
            model.zero_grad(set_to_none=True)
        else:
            with torch.no_grad():
                model(signal)

    step()  # warm-up: lazy tables, allocator
    values = []
    for _ in range(repeats):
        if kind == "time":
            start = now()
            step()
            values.append(now() - start)
        else:
            before = _reset_peak()
            step()
            values.append(_memory_kib("VmHWM") * 1024 - before)
    # Memory: the smallest peak, since page reclaim by other processes only adds to it.
    value = statistics.median(values) if kind == "time" else min(values)
    return {"value": value, "parameters": parameters}


def run_subprocess(name: str, backward: bool, kind: str, args: argparse.Namespace) -> dict:
    job = {"name": name, "backward": backward, "kind": kind}
    command = [sys.executable, __file__, "--worker", json.dumps(job)]
    command += ["--batch", str(args.batch), "--repeats", str(args.repeats)]
    command += ["--threads", str(args.threads), "--clock", args.clock]
    env = dict(os.environ)
    if kind == "memory":
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"  # freed blocks return to the system
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def equivariance_figures(rotation_count: int = 20) -> None:
    """Print the equivariance errors of every layer and of the Cohen et al. classifier."""
    from equisphere.harmonics import InverseSphericalHarmonicTransform, SphericalHarmonicTransform
    from equisphere.models.s2cnn import S2CNNClassifier
    from equisphere.nn import (
        BandLimit,
        EquivariantBatchNorm,
        GlobalPool,
        S2Convolution,
        SO3Convolution,
        SO3ToS2,
        ZonalS2Convolution,
    )
    from equisphere.so3 import SO3Grid, random_rotation_matrices
    from equisphere.sphere import EquiangularGrid
    from equisphere.testing import (
        SO3Rotation,
        SphereRotation,
        check_equivariance,
        grid_symmetry_rotations,
        invariant,
    )

    f64 = torch.float64
    torch.manual_seed(0)
    rotations = random_rotation_matrices(rotation_count, seed=1, dtype=f64)

    def sphere(bandwidth: int, channels: int) -> torch.Tensor:
        grid = EquiangularGrid(bandwidth)
        return InverseSphericalHarmonicTransform(grid)(
            torch.randn(4, channels, bandwidth**2, dtype=f64)
        )

    def so3(bandwidth: int, channels: int) -> torch.Tensor:
        from equisphere.harmonics import InverseSO3FourierTransform

        count = bandwidth * (4 * bandwidth**2 - 1) // 3
        return InverseSO3FourierTransform(bandwidth)(torch.randn(4, channels, count, dtype=f64))

    on_sphere = lambda b: SphereRotation(EquiangularGrid(b))  # noqa: E731
    layers = [
        (
            "S2Convolution 1->20, B 30->10",
            S2Convolution(1, 20, 30, 10),
            sphere(30, 1),
            on_sphere(30),
            SO3Rotation(10),
        ),
        (
            "SO3Convolution 20->40, B 10->6",
            SO3Convolution(20, 40, 10, 6),
            so3(10, 20),
            SO3Rotation(10),
            SO3Rotation(6),
        ),
        ("SO3ToS2 8->4, B 6->10", SO3ToS2(8, 4, 6, 10), so3(6, 8), SO3Rotation(6), on_sphere(10)),
        (
            "ZonalS2Convolution 4->8, B 16->8",
            ZonalS2Convolution(4, 8, 16, 8),
            sphere(16, 4),
            on_sphere(16),
            on_sphere(8),
        ),
        (
            "EquivariantBatchNorm (SO(3), B 6)",
            EquivariantBatchNorm(8, SO3Grid(6)),
            so3(6, 8),
            SO3Rotation(6),
            SO3Rotation(6),
        ),
        (
            "BandLimit SO(3) B 10->6",
            BandLimit(SO3Grid(10), 6),
            so3(10, 4),
            SO3Rotation(10),
            SO3Rotation(6),
        ),
        ("GlobalPool SO(3) B 6", GlobalPool(SO3Grid(6)), so3(6, 4), SO3Rotation(6), invariant),
    ]
    print(f"Linear layers, float64, {rotation_count} random rotations, band-limited inputs:")
    for name, layer, inputs, action_in, action_out in layers:
        report = check_equivariance(layer.double(), inputs, rotations, action_in, action_out)
        print(
            f"  {name:<36} relative max {report.relative_error:.1e}, "
            f"mean {report.mean_relative_error:.1e}"
        )

    model = S2CNNClassifier()  # Cohen et al.: 30 -> 10 -> 6, 20 and 40 channels
    with torch.no_grad():
        model.head.bias.zero_()  # a constant offset would flatter the relative change
    grid = EquiangularGrid(30)
    generator = torch.Generator().manual_seed(2)
    centres = torch.nn.functional.normalize(
        torch.randn(16, 6, 3, generator=generator, dtype=f64), dim=-1
    )
    cosine = torch.einsum("nkc,hwc->nkhw", centres, grid.vectors())
    bumps = torch.exp((cosine - 1) / (2 * 0.15**2)).sum(1, keepdim=True)  # (16, 1, 60, 60)
    spheres = InverseSphericalHarmonicTransform(grid)(SphericalHarmonicTransform(grid)(bumps))

    symmetric = grid_symmetry_rotations([30, 10, 6])
    report = check_equivariance(
        model, spheres.float(), symmetric, SphereRotation(grid, method="grid"), invariant
    )
    print("S2CNN 30->10->6 (58,550 parameters, untrained), 16 band-limited bump spheres:")
    print(
        f"  {len(symmetric)} grid-permuting rotations, float32: relative logit change "
        f"max {report.relative_error:.1e}, mean {report.mean_relative_error:.1e}"
    )
    for dtype in (torch.float32, torch.float64):
        model = model.to(dtype)
        report = check_equivariance(
            model, spheres.to(dtype), rotations, SphereRotation(grid), invariant
        )
        per_sample = report.sample_relative_errors
        print(
            f"  {rotation_count} random rotations, {str(dtype)[6:]}: relative logit change "
            f"(batch) max {report.relative_error:.2%}, mean {report.mean_relative_error:.2%}; "
            f"per sample max {float(per_sample.max()):.2%}, "
            f"mean {float(per_sample.mean()):.2%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall: elapsed time; cpu: this process's CPU time (use with --threads 1)",
    )
    parser.add_argument("--equivariance", action="store_true", help="print equivariance errors")
    parser.add_argument(
        "--one-piece",
        action="store_true",
        help="compare with the harmonic transforms in one piece instead of with e3nn",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.equivariance:
        torch.set_num_threads(args.threads)
        equivariance_figures()
        return
    if args.worker:
        job = json.loads(args.worker)
        result = measure(
            job["name"],
            job["backward"],
            job["kind"],
            args.batch,
            args.repeats,
            args.threads,
            args.clock,
        )
        print(json.dumps(result))
        return

    print(
        f"S2CNN 30 -> 10 -> 6, batch {args.batch}, CPU, {args.threads} threads; time "
        f"({args.clock} clock): median of {args.repeats}, peak memory: smallest of {args.repeats}"
    )
    print("load average at the start: " + ", ".join(f"{v:.1f}" for v in os.getloadavg()))
    from equisphere.nn import parameter_table

    print(parameter_table(build_equisphere()))
    stacks = ["equisphere", "equisphere, one piece"] if args.one_piece else ["equisphere"] + PEERS
    results = {
        (name, backward, kind): run_subprocess(name, backward, kind, args)
        for name in stacks
        for backward in (False, True)
        for kind in ("time", "memory")
    }
    print(f"{'stack':<22}{'params':>9}{'fwd ms':>9}{'fwd MiB':>9}{'f+b ms':>9}{'f+b MiB':>9}")
    for name in stacks:
        row = [results[(name, b, k)]["value"] for b in (False, True) for k in ("time", "memory")]
        print(
            f"{name:<22}{results[(name, False, 'time')]['parameters']:>9,}"
            f"{row[0] * 1e3:>9.1f}{row[1] / 2**20:>9.1f}{row[2] * 1e3:>9.1f}{row[3] / 2**20:>9.1f}"
        )
    for name in stacks[1:]:
        ratios = {
            (b, k): results[(name, b, k)]["value"]
            / max(results[("equisphere", b, k)]["value"], 1e-9)
            for b in (False, True)
            for k in ("time", "memory")
        }
        print(
            f"{name} / equisphere: time forward {ratios[(False, 'time')]:.2f}x, "
            f"forward+backward {ratios[(True, 'time')]:.2f}x; peak memory forward "
            f"{ratios[(False, 'memory')]:.2f}x, forward+backward {ratios[(True, 'memory')]:.2f}x "
            "(above 1: equisphere is faster / leaner)"
        )
    print("load average at the end: " + ", ".join(f"{v:.1f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
