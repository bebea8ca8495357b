"""Camera image <-> sphere grid: orientation, coverage, labels, anti-aliasing, caching, errors."""

import math

import pytest
import torch

from equisphere.cameras import EquidistantCamera, PinholeCamera, StereographicCamera
from equisphere.resample import MapCache, image_to_sphere, sphere_to_image
from equisphere.so3 import random_rotation_matrices
from equisphere.sphere import EquiangularGrid, GaussLegendreGrid, HealpixGrid

F64 = torch.float64
FISHEYE = EquidistantCamera(width=96, height=80, fx=30.0, fy=30.0, cx=47.3, cy=39.8)


def direction_image(camera, world_from_camera, dtype=F64):
    """An image whose three channels are the world direction each pixel sees."""
    rays, valid = camera.unproject(camera.pixel_centres(F64))
    return (rays @ world_from_camera.T).permute(2, 0, 1).to(dtype), valid


@pytest.mark.parametrize(
    "grid",
    [EquiangularGrid(16), GaussLegendreGrid(16), HealpixGrid(8), HealpixGrid(8, order="nested")],
    ids=repr,
)
def test_image_lands_on_the_sphere_where_its_pixels_look(grid):
    R = random_rotation_matrices(1, seed=4, dtype=F64)[0]
    image, _ = direction_image(FISHEYE, R)
    signal, coverage = image_to_sphere(image, FISHEYE, grid, R, cache=None)
    full = coverage.reshape(-1) >= 1
    assert full.sum() > 40
    truth = grid.vectors().reshape(-1, 3)
    error = (signal.reshape(3, -1).T - truth)[full].norm(dim=-1)
    # A cell averages directions over its area: off its centre by a tenth of its size at most.
    cell_size = math.sqrt(4 * math.pi / truth.shape[0])
    assert float(error.max()) < 0.1 * cell_size
    assert float(signal.reshape(3, -1)[:, coverage.reshape(-1) == 0].abs().max()) == 0


def test_sphere_signal_is_drawn_where_the_pixels_look(dtype):
    R = random_rotation_matrices(1, seed=5, dtype=F64)[0]
    grid = EquiangularGrid(32)
    signal = grid.vectors().permute(2, 0, 1).to(dtype)
    image, valid = sphere_to_image(signal, grid, FISHEYE, R, cache=None)
    truth, lens_valid = direction_image(FISHEYE, R)
    assert image.dtype == dtype and torch.equal(valid, lens_valid)
    error = (image - truth.to(dtype)).norm(dim=0)[valid]
    assert float(error.max()) < 5e-3  # bilinear interpolation of a smooth field, spacing pi / 64


def test_coverage_measures_the_field_of_view():
    # A circular fisheye inside its sensor: exactly a hemisphere (2 pi sr) is seen.
    camera = EquidistantCamera(
        width=128, height=128, fx=38.0, fy=38.0, cx=63.5, cy=63.5, max_incidence=math.pi / 2
    )
    grid = EquiangularGrid(32)
    _, coverage = image_to_sphere(torch.ones(128, 128, dtype=F64), camera, grid, cache=None)
    assert float(grid.integrate(coverage)) == pytest.approx(2 * math.pi, rel=5e-3)
    # A pinhole sees nothing behind it and its 90 x 90 degree view covers a known solid angle.
    pinhole = PinholeCamera(width=64, height=64, fx=32.0, fy=32.0, cx=31.5, cy=31.5)
    _, coverage = image_to_sphere(torch.ones(64, 64, dtype=F64), pinhole, grid, cache=None)
    assert float(coverage[grid.colatitude > math.pi / 2].max()) == 0
    solid_angle = 4 * math.asin(math.sin(math.pi / 4) ** 2)  # square pyramid of half-angle 45 deg
    assert float(grid.integrate(coverage)) == pytest.approx(solid_angle, rel=0.01)


def test_constant_image_stays_constant_where_covered():
    grid = EquiangularGrid(24)
    signal, coverage = image_to_sphere(
        torch.full((2, 80, 96), 0.25, dtype=F64), FISHEYE, grid, cache=None
    )
    covered = coverage > 0
    torch.testing.assert_close(signal[:, covered], torch.full_like(signal[:, covered], 0.25))


def test_labels_go_to_the_nearest_grid_point_and_stay_integers():
    grid = EquiangularGrid(16)
    n_theta, n_phi = grid.shape
    labels = torch.arange(n_theta * n_phi, dtype=torch.int64).reshape(grid.shape)
    image, valid = sphere_to_image(labels, grid, FISHEYE, mode="nearest", fill=-1, cache=None)
    assert image.dtype == torch.int64 and (image[~valid] == -1).all()
    # Slow obvious reference: nearest ring by colatitude and nearest column by longitude.
    rays, _ = FISHEYE.unproject(FISHEYE.pixel_centres(F64))
    theta = torch.atan2(rays[..., :2].norm(dim=-1), rays[..., 2])
    phi = torch.remainder(torch.atan2(rays[..., 1], rays[..., 0]), 2 * math.pi)
    ring = (theta[..., None] - grid.theta).abs().argmin(-1)
    column = torch.remainder(torch.round(phi / (2 * math.pi / n_phi)).long(), n_phi)
    away_from_pole = valid & (theta > grid.theta[0])
    assert torch.equal(image[away_from_pole], (ring * n_phi + column)[away_from_pole])
    # And back onto the sphere: every label found there is one of the image's labels.
    signal, coverage = image_to_sphere(image, FISHEYE, grid, mode="nearest", cache=None)
    assert signal.dtype == torch.int64
    assert set(signal[coverage > 0].tolist()) <= set(image[valid].tolist())


def test_anti_aliasing_removes_detail_finer_than_the_grid():
    # Stripes with a 2.2 pixel period on a camera whose grid cells span ~6 pixels.
    camera = StereographicCamera(width=160, height=160, fx=80.0, fy=80.0, cx=79.5, cy=79.5)
    u = torch.arange(160, dtype=F64)
    stripes = (0.5 + 0.5 * torch.cos(2 * math.pi * u / 2.2)).expand(160, 160)
    grid = EquiangularGrid(16)
    filtered, coverage = image_to_sphere(stripes, camera, grid, cache=None)
    aliased, _ = image_to_sphere(stripes, camera, grid, supersampling=1, cache=None)
    full = coverage >= 1
    # The stripes average to 0.5: what remains is aliasing.
    filtered_error = float((filtered[full] - 0.5).abs().mean())
    aliased_error = float((aliased[full] - 0.5).abs().mean())
    print(f"mean |error|: filtered {filtered_error:.4f}, point-sampled {aliased_error:.4f}")
    assert aliased_error > 0.1
    assert filtered_error < 0.02
    assert filtered_error < aliased_error / 5


def test_float32_matches_float64():
    grid = EquiangularGrid(16)
    image = torch.rand(3, 80, 96, dtype=F64, generator=torch.Generator().manual_seed(0))
    cache = MapCache()
    signal64, _ = image_to_sphere(image, FISHEYE, grid, cache=cache)
    signal32, coverage32 = image_to_sphere(image.float(), FISHEYE, grid, cache=cache)
    assert signal32.dtype == coverage32.dtype == torch.float32
    torch.testing.assert_close(signal32.double(), signal64, atol=1e-6, rtol=1e-6)


def test_gradients_reach_the_image_and_the_signal():
    camera = EquidistantCamera(width=9, height=7, fx=3.0, fy=3.0, cx=4.0, cy=3.0)
    grid = EquiangularGrid(3)
    cache = MapCache()
    image = torch.rand(1, 7, 9, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: image_to_sphere(x, camera, grid, cache=cache)[0], (image,)
    )
    signal = torch.rand(1, *grid.shape, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda s: sphere_to_image(s, grid, camera, cache=cache)[0], (signal,)
    )
    assert cache.builds == 2


def test_maps_are_cached_per_camera_grid_and_orientation():
    cache = MapCache()
    grid = EquiangularGrid(8)
    image = torch.rand(80, 96, dtype=F64)
    image_to_sphere(image, FISHEYE, grid, cache=cache)
    image_to_sphere(image * 2, FISHEYE, grid, cache=cache)
    assert (cache.builds, cache.hits) == (1, 1)
    image_to_sphere(
        image, FISHEYE, grid, random_rotation_matrices(1, seed=1, dtype=F64)[0], cache=cache
    )
    image_to_sphere(image, FISHEYE, EquiangularGrid(9), cache=cache)
    image_to_sphere(image[::2, ::2], FISHEYE.resized(48, 40), grid, cache=cache)
    sphere_to_image(torch.zeros(grid.shape, dtype=F64), grid, FISHEYE, cache=cache)
    assert cache.builds == 5


def test_bad_inputs_get_clear_errors():
    grid = EquiangularGrid(8)
    with pytest.raises(ValueError, match=r"\(height, width\) = \(80, 96\).*got \(80, 95\)"):
        image_to_sphere(torch.zeros(3, 80, 95), FISHEYE, grid)
    with pytest.raises(TypeError, match="Camera"):
        image_to_sphere(torch.zeros(3, 80, 96), "front.json", grid)
    with pytest.raises(TypeError, match="SphereGrid"):
        image_to_sphere(torch.zeros(3, 80, 96), FISHEYE, 64)
    with pytest.raises(ValueError, match="mode"):
        image_to_sphere(torch.zeros(3, 80, 96), FISHEYE, grid, mode="bicubic")
    with pytest.raises(ValueError, match="supersampling"):
        image_to_sphere(torch.zeros(3, 80, 96), FISHEYE, grid, supersampling=0)
    with pytest.raises(ValueError, match="rotation"):
        image_to_sphere(torch.zeros(3, 80, 96), FISHEYE, grid, 2 * torch.eye(3))
    with pytest.raises(ValueError, match=r"\(\.\.\., 16, 16\)"):
        sphere_to_image(torch.zeros(3, 16, 15), grid, FISHEYE)


@pytest.mark.gpu
def test_cameras_and_cached_maps_run_on_cuda():
    device = torch.device("cuda")
    rays = torch.randn(1000, 3, dtype=F64)
    pixels, valid = FISHEYE.project(rays.to(device))
    cpu_pixels, cpu_valid = FISHEYE.project(rays)
    assert pixels.device.type == "cuda" and torch.equal(valid.cpu(), cpu_valid)
    torch.testing.assert_close(pixels.cpu(), cpu_pixels)
    grid, cache = EquiangularGrid(16), MapCache()
    image = torch.rand(2, 3, 80, 96, dtype=torch.float32)
    signal, coverage = image_to_sphere(image.to(device), FISHEYE, grid, cache=cache)
    expected, _ = image_to_sphere(image, FISHEYE, grid, cache=cache)
    assert signal.device.type == coverage.device.type == "cuda"
    torch.testing.assert_close(signal.cpu(), expected, atol=1e-5, rtol=1e-5)
    labels = torch.randint(0, 5, grid.shape, device=device)
    drawn, _ = sphere_to_image(labels, grid, FISHEYE, mode="nearest", cache=cache)
    assert drawn.device.type == "cuda" and drawn.dtype == labels.dtype
