"""Camera image -> sphere resampling: speed with a cached map, quality on a real scene, aliasing.

1. Speed. A 1280 x 966 RGB image (float32) through the WoodScape front calibration
   onto a bandwidth-128 equiangular grid (256 x 256) with the map cached: median
   of ``--repeats`` runs after a warm-up. Target: under 50 ms. Peer: the same
   projection done by ``torch.nn.functional.grid_sample`` from a precomputed
   sampling grid (bilinear point sampling at the cell centres, no anti-aliasing,
   no coverage), the usual way to warp images in PyTorch. The one-off map build
   is timed too.
2. Quality. The panorama rendered through the full-size WoodScape lens, projected
   back onto a bandwidth-256 grid (0.35 degrees between rings, as the 512-row
   panorama and the lens near its axis), compared with the panorama sampled on
   the same grid over the fully covered cells: PSNR. Then five round trips
   camera -> sphere -> camera: PSNR against the rendered view and the sub-pixel
   shift (least squares on the image gradient).
3. Aliasing. Stripes with a 2.2-pixel period through a stereographic lens onto a
   grid whose cells span ~6 pixels: mean deviation from the stripes' mean value,
   with the default anti-aliasing and with point sampling.

Run: ``python benchmarks/bench_resample.py [--repeats 20] [--threads N] [--quick]``
(``--quick`` skips the full-size quality run, which builds maps for ~1 minute).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from equisphere.cameras import StereographicCamera, load_calibration
from equisphere.resample import (
    MapCache,
    camera_to_sphere_map,
    equirect_to_image,
    equirect_to_sphere,
    image_to_sphere,
    sphere_to_image,
)
from equisphere.sphere import EquiangularGrid

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def median_ms(function, repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def load_panorama(name: str) -> torch.Tensor:
    image = Image.open(DATA / "panoramas" / f"{name}.png").convert("RGB")
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).to(torch.float64) / 255


def speed(repeats: int) -> None:
    mounted = load_calibration(DATA / "cameras" / "woodscape_front.json")
    camera, grid = mounted.camera, EquiangularGrid(128)
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, camera.height, camera.width, generator=generator)
    cache = MapCache()
    start = time.perf_counter()
    resample_map = camera_to_sphere_map(camera, grid, cache=cache)
    build_s = time.perf_counter() - start
    nnz = resample_map.matrix.values().numel()
    print("speed: 1280 x 966 RGB float32 -> EquiangularGrid(128), cached map")
    print(f"  map build (once)                          {build_s:8.2f} s   ({nnz} non-zeros)")

    # Peer: grid_sample at the cell centres from a precomputed normalised grid.
    pixels, _ = camera.project(grid.vectors())
    u = 2 * (pixels[..., 0] + 0.5) / camera.width - 1
    v = 2 * (pixels[..., 1] + 0.5) / camera.height - 1
    normalised = torch.stack([u, v], dim=-1).float()[None]  # align_corners=False convention
    default_threads = torch.get_num_threads()
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        ours = median_ms(lambda: image_to_sphere(image, camera, grid, cache=cache), repeats)
        peer = median_ms(
            lambda: torch.nn.functional.grid_sample(image, normalised, align_corners=False),
            repeats,
        )
        print(f"  {threads} thread(s): equisphere (anti-aliased)  {ours:8.1f} ms  (target < 50 ms)")
        print(
            f"  {threads} thread(s): grid_sample (point, no AA) {peer:8.1f} ms  "
            f"ratio {ours / peer:.1f}"
        )
    torch.set_num_threads(default_threads)


def psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    return 10 * math.log10(1 / float(((a - b) ** 2)[..., mask].mean()))


def shift(reference: torch.Tensor, moved: torch.Tensor, mask: torch.Tensor) -> list[float]:
    grad_v, grad_u = torch.gradient(reference, dim=(-2, -1))
    a = torch.stack([grad_u[mask], grad_v[mask]], dim=1)
    return torch.linalg.lstsq(a, (reference - moved)[mask][:, None]).solution.squeeze(1).tolist()


def quality(scale: float, bandwidth: int, name: str) -> None:
    mounted = load_calibration(DATA / "cameras" / "woodscape_front.json")
    camera = mounted.camera.resized(round(1280 * scale), round(966 * scale))
    rotation, grid, cache = mounted.rotation(), EquiangularGrid(bandwidth), MapCache()
    panorama = load_panorama(name)
    # Match the panorama to the lens: ~1024 s rows for a camera at scale s (512 at most).
    height = min(512, round(1024 * scale))
    if height < 512:
        small = Image.open(DATA / "panoramas" / f"{name}.png").convert("RGB")
        small = small.resize((2 * height, height), Image.Resampling.BOX)
        panorama = torch.from_numpy(np.array(small)).permute(2, 0, 1).double() / 255
    start = time.perf_counter()
    rendered, valid = equirect_to_image(panorama, camera, rotation, cache=cache)
    signal, coverage = image_to_sphere(rendered, camera, grid, rotation, cache=cache)
    reference = equirect_to_sphere(panorama, grid, cache=cache)
    covered = coverage >= 1
    value = psnr(signal, reference, covered)
    image, first = rendered, None
    interior = torch.zeros_like(valid)
    interior[8:-8, 8:-8] = True
    for trip in range(5):
        on_sphere, _ = image_to_sphere(image, camera, grid, rotation, cache=cache)
        image, seen = sphere_to_image(on_sphere, grid, camera, rotation, cache=cache)
        first = image if trip == 0 else first
    mask = interior & seen
    drift = shift(rendered.mean(0), image.mean(0), mask)
    print(
        f"quality: {name} through WoodScape FV at {camera.width} x {camera.height}, panorama "
        f"{panorama.shape[-2]} rows, {grid!r} ({time.perf_counter() - start:.0f} s)"
    )
    share = float(covered.double().mean())
    print(f"  PSNR camera->sphere vs panorama->sphere: {value:.2f} dB ({share:.0%} of cells)")
    print(
        f"  round trips camera->sphere->camera: PSNR {psnr(first, rendered, mask):.2f} dB "
        f"after one, {psnr(image, rendered, mask):.2f} dB after five; "
        f"shift (du, dv) = ({drift[0]:+.4f}, {drift[1]:+.4f}) px"
    )


def aliasing() -> None:
    camera = StereographicCamera(width=160, height=160, fx=80.0, fy=80.0, cx=79.5, cy=79.5)
    u = torch.arange(160, dtype=torch.float64)
    stripes = (0.5 + 0.5 * torch.cos(2 * math.pi * u / 2.2)).expand(160, 160)
    grid = EquiangularGrid(16)
    filtered, coverage = image_to_sphere(stripes, camera, grid, cache=None)
    point, _ = image_to_sphere(stripes, camera, grid, supersampling=1, cache=None)
    full = coverage >= 1
    print("aliasing: 2.2-pixel stripes onto cells of ~6 pixels, mean |value - 0.5|")
    print(
        f"  supersampled box filter (auto)        {float((filtered[full] - 0.5).abs().mean()):.4f}"
    )
    print(f"  point sampling (supersampling=1)      {float((point[full] - 0.5).abs().mean()):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--quick", action="store_true", help="skip the full-size quality run")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    speed(args.repeats)
    aliasing()
    quality(0.25, 128, "courtyard")
    if not args.quick:
        quality(1.0, 256, "courtyard")


if __name__ == "__main__":
    main()
