"""Time equisphere's harmonic transforms beside torch-harmonics and e3nn.

Forward and inverse spherical harmonic transforms at bandwidths 16, 32, 64 and
128 on a batch of 32 x 16 signals, float32, each peer on an input of the same
size and the same band limit (degrees ``l < B``):

- equisphere ``SphericalHarmonicTransform`` / ``InverseSphericalHarmonicTransform``
  on the Gauss-Legendre grid (``B x 2B``) and the equiangular Driscoll-Healy
  grid (``2B x 2B``, rings at ``pi (2j + 1) / 4B``, no poles);
- torch-harmonics ``RealSHT`` / ``InverseRealSHT`` with ``lmax = mmax = B`` on
  its ``"legendre-gauss"`` grid (the same ``B x 2B`` grid as ours) and on its
  ``"equiangular"`` grid, which is Clenshaw-Curtis: ``2B`` rings from pole to
  pole *including* both poles. It has no Driscoll-Healy grid, so that row times
  it on its own closest grid at the same size and bandwidth;
- e3nn ``FromS2Grid`` / ``ToS2Grid`` with ``lmax = B - 1`` and ``res = (2B, 2B)``:
  exactly our equiangular grid. e3nn takes an FFT over longitude only for an
  odd number of longitudes; on this even grid it uses a dense product, and its
  Legendre step is dense in ``(m, ring, l, m')``: ``O(B^4)`` per signal and a
  table of ``(2B - 1) 2B B^2`` numbers (4.3 GB in float32 at ``B = 128``). Its
  construction derives the Legendre polynomials symbolically (sympy): about a
  minute of CPU time at ``B = 32``, and it had not finished after four minutes
  at ``B = 64``. So e3nn is skipped above ``--e3nn-max-bandwidth`` (32).

The ratio columns are peer time / equisphere time on the same grid size (above
1: equisphere is faster). Each figure is the best of ``--repeats`` calls after
a warm-up, without autograd. ``--clock cpu`` counts this process's CPU time
only (steadier when other jobs share the cores; use it with ``--threads 1``).
The load average is printed with the results.

torch-harmonics 0.9.1 was built against an older torch: importing the package
fails under torch 2.13 because its compiled attention kernels do not load. Its
spherical harmonic transforms are plain PyTorch (``torch_harmonics.sht``), so
when the package import fails they are loaded on their own, without the
package's ``__init__`` (which is what loads the compiled kernels); the output
says when this happened. The first figures printed are a value check: our
coefficients against torch-harmonics' on the Gauss-Legendre grid.

The SO(3) Fourier transforms are timed too; no installed peer has them.

Run: ``python benchmarks/bench_harmonics.py [--bandwidths 16 32 64 128] [--threads 1]
[--clock cpu] [--device cpu]``
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import os
import sys
import time
import types
from collections.abc import Callable

import torch

from equisphere.harmonics import (
    InverseSO3FourierTransform,
    InverseSphericalHarmonicTransform,
    SO3FourierTransform,
    SphericalHarmonicTransform,
    so3_coefficient_count,
)
from equisphere.sphere import EquiangularGrid, GaussLegendreGrid

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _time(
    module: Callable[[torch.Tensor], object],
    data: torch.Tensor,
    repeats: int,
    device: str,
    clock: Callable[[], float],
) -> float:
    """Best time of ``module(data)`` in milliseconds over ``repeats``, after a warm-up.

    The minimum, as ``timeit`` advises: other work on the machine only ever adds time.
    """
    with torch.no_grad():
        module(data)
        samples = []
        for _ in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            start = clock()
            module(data)
            if device == "cuda":
                torch.cuda.synchronize()
            samples.append(1e3 * (clock() - start))
    return min(samples)


def _load_torch_harmonics() -> types.ModuleType | None:
    """torch-harmonics' SHT module, loaded without the package ``__init__`` if that fails."""
    try:
        import torch_harmonics.sht as sht
    except ImportError as error:
        spec = importlib.util.find_spec("torch_harmonics")
        if spec is None or not spec.submodule_search_locations:
            print(f"note: torch-harmonics is not installed ({error}); its columns are empty")
            return None
        version = importlib.metadata.version("torch-harmonics")
        print(
            f"note: torch-harmonics {version} does not import with torch {torch.__version__}:\n"
            f"  {str(error)[:160]}\n"
            "  Its compiled attention kernels fail to load; its SHT is plain PyTorch, so\n"
            "  torch_harmonics.sht is loaded on its own, without the package __init__."
        )
        for name in [name for name in sys.modules if name.startswith("torch_harmonics")]:
            del sys.modules[name]
        package = types.ModuleType("torch_harmonics")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["torch_harmonics"] = package
        sht = importlib.import_module("torch_harmonics.sht")
    return sht


def _load_e3nn() -> types.ModuleType | None:
    try:
        import e3nn.o3
    except ImportError as error:
        print(f"note: e3nn is not importable ({error}); its columns are empty")
        return None
    return e3nn.o3


def _format(value: float | None, width: int = 9, digits: int = 2) -> str:
    return f"{value:{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


def check_against_torch_harmonics(sht: types.ModuleType, bandwidth: int = 32) -> None:
    """Print the largest difference from torch-harmonics' RealSHT on the Gauss-Legendre grid.

    torch-harmonics returns ``a_lm = int f conj(Y_l^m)`` for ``m >= 0`` (orthonormal,
    Condon-Shortley phase), the same complex harmonics as ours; the real coefficients
    are then ``a_l0``, ``sqrt(2) (-1)^m Re a_lm`` and ``-sqrt(2) (-1)^m Im a_lm``
    (docs/conventions.md).
    """
    grid = GaussLegendreGrid(bandwidth)
    coeffs = torch.randn(4, bandwidth**2, dtype=torch.float64)
    signal = InverseSphericalHarmonicTransform(grid)(coeffs)
    peer = sht.RealSHT(*grid.shape, lmax=bandwidth, mmax=bandwidth, grid="legendre-gauss")
    spectrum = peer.double()(signal)  # (4, l, m), complex
    converted = torch.zeros_like(coeffs)
    for degree in range(bandwidth):
        converted[:, degree**2 + degree] = spectrum[:, degree, 0].real
        for order in range(1, degree + 1):
            scale = (-1) ** order * 2**0.5
            converted[:, degree**2 + degree + order] = scale * spectrum[:, degree, order].real
            converted[:, degree**2 + degree - order] = -scale * spectrum[:, degree, order].imag
    error = float((converted - coeffs).abs().max())
    print(
        f"values: max |ours - torch-harmonics| of the Gauss-Legendre analysis at B = "
        f"{bandwidth}, float64: {error:.1e}"
    )


def bench_sht(
    bandwidths: list[int],
    shape: tuple[int, int],
    repeats: int,
    device: str,
    clock: Callable[[], float],
    sht: types.ModuleType | None,
    e3nn_o3: types.ModuleType | None,
    e3nn_max: int,
) -> None:
    print(
        f"\nSpherical harmonic transforms, batch {shape[0]} x {shape[1]}, float32, {device}, "
        f"{torch.get_num_threads()} threads; {clock.__name__} in ms, best of {repeats}"
    )
    print("grids: GL = Gauss-Legendre B x 2B (both libraries); equi = 2B x 2B, ours and e3nn")
    print("       Driscoll-Healy, torch-harmonics Clenshaw-Curtis (rings at the poles)")
    header = (
        f"{'B':>4} {'grid':>5} {'dir':>4} | {'ours':>9} | {'t-h':>9} {'t-h/ours':>9} | "
        f"{'e3nn':>9} {'e3nn/ours':>9}"
    )
    print(header)
    print("-" * len(header))
    for bandwidth in bandwidths:
        for grid_name, grid, th_grid in (
            ("GL", GaussLegendreGrid(bandwidth), "legendre-gauss"),
            ("equi", EquiangularGrid(bandwidth), "equiangular"),
        ):
            n_theta, n_phi = grid.shape
            signal = torch.randn(*shape, n_theta, n_phi, device=device)
            coeffs = torch.randn(*shape, bandwidth**2, device=device)
            ours = {
                "fwd": (SphericalHarmonicTransform(grid).to(device), signal),
                "inv": (InverseSphericalHarmonicTransform(grid).to(device), coeffs),
            }
            peer_th: dict[str, tuple[Callable, torch.Tensor]] = {}
            if sht is not None:
                options = {"lmax": bandwidth, "mmax": bandwidth, "grid": th_grid}
                forward = sht.RealSHT(n_theta, n_phi, **options).to(device)
                inverse = sht.InverseRealSHT(n_theta, n_phi, **options).to(device)
                peer_th = {"fwd": (forward, signal), "inv": (inverse, forward(signal))}
            peer_e3nn: dict[str, tuple[Callable, torch.Tensor]] = {}
            if e3nn_o3 is not None and grid_name == "equi" and bandwidth <= e3nn_max:
                to_grid = e3nn_o3.ToS2Grid(bandwidth - 1, (n_theta, n_phi)).to(device)
                from_grid = e3nn_o3.FromS2Grid((n_theta, n_phi), bandwidth - 1).to(device)
                peer_e3nn = {"fwd": (from_grid, signal), "inv": (to_grid, coeffs)}

            for direction in ("fwd", "inv"):
                mine = _time(*ours[direction], repeats, device, clock)
                th_time = e3nn_time = None
                if direction in peer_th:
                    th_time = _time(*peer_th[direction], repeats, device, clock)
                if direction in peer_e3nn:
                    e3nn_time = _time(*peer_e3nn[direction], repeats, device, clock)
                print(
                    f"{bandwidth:>4} {grid_name:>5} {direction:>4} | {_format(mine)} | "
                    f"{_format(th_time)} {_format(th_time and th_time / mine)} | "
                    f"{_format(e3nn_time)} {_format(e3nn_time and e3nn_time / mine)}",
                    flush=True,
                )
            del ours, peer_th, peer_e3nn
    if e3nn_o3 is not None and max(bandwidths) > e3nn_max:
        print(
            f"e3nn skipped above B = {e3nn_max}: symbolic table construction (minutes at "
            "B = 64) and dense O(B^4) transforms; see --e3nn-max-bandwidth"
        )


def bench_so3(
    bandwidths: list[int],
    shape: tuple[int, int],
    repeats: int,
    device: str,
    clock: Callable[[], float],
) -> None:
    print(
        f"\nSO(3) Fourier transforms, batch {shape[0]} x {shape[1]}, float32, {device}; "
        f"{clock.__name__} in ms, best of {repeats} (no installed peer)"
    )
    print(f"{'B':>4} | {'forward':>9} | {'inverse':>9}")
    for bandwidth in bandwidths:
        n = 2 * bandwidth
        signal = torch.randn(*shape, n, n, n, device=device)
        coeffs = torch.randn(*shape, so3_coefficient_count(bandwidth), device=device)
        forward = SO3FourierTransform(bandwidth).to(device)
        inverse = InverseSO3FourierTransform(bandwidth).to(device)
        print(
            f"{bandwidth:>4} | {_format(_time(forward, signal, repeats, device, clock))} | "
            f"{_format(_time(inverse, coeffs, repeats, device, clock))}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bandwidths", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--so3-bandwidths", type=int, nargs="+", default=[6, 10, 16])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="'cpu' counts only this process's CPU time: steadier on a busy machine, "
        "meaningful with --threads 1 on the CPU",
    )
    parser.add_argument(
        "--e3nn-max-bandwidth",
        type=int,
        default=32,
        help="e3nn builds its tables symbolically (minutes at B = 64) and its transforms "
        "cost O(B^4) per signal: skip them above this",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = CLOCKS[args.clock]
    shape = (args.batch, args.channels)

    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average "
        + ", ".join(f"{load:.1f}" for load in os.getloadavg())
    )
    sht = _load_torch_harmonics()
    e3nn_o3 = _load_e3nn()
    if sht is not None:
        check_against_torch_harmonics(sht)
    bench_sht(
        args.bandwidths,
        shape,
        args.repeats,
        args.device,
        clock,
        sht,
        e3nn_o3,
        args.e3nn_max_bandwidth,
    )
    bench_so3(args.so3_bandwidths, shape, args.repeats, args.device, clock)
    print("load average at the end: " + ", ".join(f"{load:.1f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
