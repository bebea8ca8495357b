"""A real scene through a real lens: a panorama rendered through the WoodScape calibration.

Resolutions are matched at about 0.7 degrees per sample: the WoodScape front camera
at a quarter of its size (320 x 242, ~0.67 degrees per pixel on the axis), the
panorama box-filtered to 256 x 512 (0.70 degrees) and a bandwidth-128 grid
(0.70 degrees between rings). ``benchmarks/bench_resample.py`` repeats this at
full size.
"""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from equisphere.cameras import load_calibration
from equisphere.resample import (
    MapCache,
    equirect_to_image,
    equirect_to_sphere,
    image_to_sphere,
    sphere_to_image,
)
from equisphere.sphere import EquiangularGrid

F64 = torch.float64
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def scene():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} not found")
    mounted = load_calibration(SHARED_DATA / "cameras" / "woodscape_front.json")
    camera = mounted.camera.resized(320, 242)
    image = Image.open(SHARED_DATA / "panoramas" / "courtyard.png").convert("RGB")
    image = image.resize((512, 256), Image.Resampling.BOX)
    panorama = torch.from_numpy(np.array(image)).permute(2, 0, 1).to(F64) / 255
    cache = MapCache()
    rotation = mounted.rotation()
    rendered, valid = equirect_to_image(panorama, camera, rotation, cache=cache)
    return dict(
        camera=camera,
        rotation=rotation,
        panorama=panorama,
        rendered=rendered,
        valid=valid,
        grid=EquiangularGrid(128),
        cache=cache,
    )


def psnr(a, b, mask):
    mse = float(((a - b) ** 2)[..., mask].mean())
    return 10 * math.log10(1 / mse)


def subpixel_shift(reference, moved, mask):
    """Least-squares ``d = (du, dv)`` with ``moved(x) ~ reference(x - d)``, in pixels."""
    grad_v, grad_u = torch.gradient(reference, dim=(-2, -1))
    a = torch.stack([grad_u[..., mask].reshape(-1), grad_v[..., mask].reshape(-1)], dim=1)
    b = (reference - moved)[..., mask].reshape(-1)
    return torch.linalg.lstsq(a, b[:, None]).solution.squeeze(1)


def test_rendered_view_back_on_the_sphere_matches_the_panorama(scene):
    grid, cache = scene["grid"], scene["cache"]
    from_camera, coverage = image_to_sphere(
        scene["rendered"], scene["camera"], grid, scene["rotation"], cache=cache
    )
    from_panorama = equirect_to_sphere(scene["panorama"], grid, cache=cache)
    covered = coverage >= 1
    assert float(grid.integrate(covered.double())) > 3.0  # about a quarter of the sphere
    value = psnr(from_camera, from_panorama, covered)
    print(f"real scene PSNR over the covered area: {value:.2f} dB")
    assert value >= 30


def test_five_round_trips_do_not_drift(scene):
    camera, rotation, grid, cache = (
        scene["camera"],
        scene["rotation"],
        scene["grid"],
        scene["cache"],
    )
    original, valid = scene["rendered"], scene["valid"]
    interior = torch.zeros_like(valid)
    interior[8:-8, 8:-8] = True  # away from the sensor edge
    image, history = original, []
    for _ in range(5):
        signal, _ = image_to_sphere(image, camera, grid, rotation, cache=cache)
        image, seen = sphere_to_image(signal, grid, camera, rotation, cache=cache)
        history.append(image)
    mask = interior & seen
    first, fifth = psnr(history[0], original, mask), psnr(history[4], original, mask)
    shift = subpixel_shift(original.mean(0), history[4].mean(0), mask)
    print(f"round trips: PSNR {first:.2f} dB after one, {fifth:.2f} dB after five; shift {shift}")
    assert float(shift.abs().max()) < 0.05  # a half-pixel convention slip would show as 0.5
    assert fifth > 25 and first - fifth < 8  # blur accumulates slowly, nothing else does
    # The estimator sees a deliberate half-pixel shift.
    half = (original[..., :, 1:] + original[..., :, :-1]) / 2
    moved = torch.cat([half, original[..., :, -1:]], dim=-1)  # moved(x) = reference(x + 0.5)
    estimate = subpixel_shift(original.mean(0), moved.mean(0), mask)
    assert float(estimate[0]) == pytest.approx(-0.5, abs=0.05)
