"""Equirectangular panoramas <-> sphere, and panoramas rendered through cameras."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from equisphere.cameras import EquidistantCamera, PinholeCamera, forward_looking
from equisphere.resample import (
    MapCache,
    check_equirect,
    equirect_directions,
    equirect_to_image,
    equirect_to_sphere,
    sphere_to_equirect,
)
from equisphere.so3 import random_rotation_matrices
from equisphere.sphere import EquiangularGrid, HealpixGrid

F64 = torch.float64


def load_panorama(shared_data, name, height=None):
    image = Image.open(shared_data / "panoramas" / f"{name}.png").convert("RGB")
    if height is not None:
        image = image.resize((2 * height, height), Image.Resampling.BOX)
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).to(F64) / 255


def test_equirect_directions_follow_the_convention():
    directions = equirect_directions(4)  # (4, 8, 3)
    # Row 0 is near the zenith; the columns just right of the centre look at +x turning to -y.
    assert float(directions[0, :, 2].min()) > 0.9
    torch.testing.assert_close(
        directions[1, 4],
        torch.tensor(
            [
                math.cos(math.pi / 8) * math.cos(math.pi / 8),
                -math.cos(math.pi / 8) * math.sin(math.pi / 8),
                math.sin(math.pi / 8),
            ],
            dtype=F64,
        ),
    )
    # Column 0 starts at longitude -180 degrees: its centre is at -157.5 degrees (+y side).
    assert float(directions[1, 0, 1]) > 0 and float(directions[1, 0, 0]) < -0.8


@pytest.mark.parametrize("grid", [EquiangularGrid(16), HealpixGrid(8)], ids=repr)
def test_panorama_lands_on_the_sphere_unmirrored(grid):
    # Each panorama pixel holds the direction it looks at, computed from the convention.
    panorama = equirect_directions(64).permute(2, 0, 1)
    signal = equirect_to_sphere(panorama, grid, cache=None)
    error = (signal.reshape(3, -1).T - grid.vectors().reshape(-1, 3)).norm(dim=-1)
    cell_size = math.sqrt(4 * math.pi / error.numel())
    assert float(error.max()) < 0.1 * cell_size


def test_sphere_to_panorama_and_back():
    grid = EquiangularGrid(32)
    signal = grid.vectors().permute(2, 0, 1)
    panorama = sphere_to_equirect(signal, grid, 48, cache=None)
    assert panorama.shape == (3, 48, 96)
    torch.testing.assert_close(
        panorama, equirect_directions(48).permute(2, 0, 1), atol=5e-3, rtol=0
    )
    # A band-limited signal survives sphere -> panorama -> sphere nearly unchanged.
    smooth = grid.vectors()[..., 0] * grid.vectors()[..., 2] + 0.3 * grid.vectors()[..., 1]
    back = equirect_to_sphere(sphere_to_equirect(smooth, grid, 64, cache=None), grid, cache=None)
    assert float((back - smooth).abs().max()) < 0.01


def test_real_panorama_round_trip_through_the_sphere(shared_data):
    panorama = load_panorama(shared_data, "studio", height=128)
    grid = EquiangularGrid(128)  # 256 rings: finer than the 128-row panorama
    back = sphere_to_equirect(equirect_to_sphere(panorama, grid, cache=None), grid, 128, cache=None)
    mse = float(((back - panorama) ** 2)[:, 4:-4].mean())  # poles excepted
    assert 10 * math.log10(1 / mse) > 33


def test_rendering_looks_where_the_camera_points():
    panorama = equirect_directions(96).permute(2, 0, 1)
    camera = EquidistantCamera(width=64, height=48, fx=20.0, fy=20.0, cx=31.5, cy=23.5)
    for R in (forward_looking(), random_rotation_matrices(1, seed=2, dtype=F64)[0]):
        image, valid = equirect_to_image(panorama, camera, R, cache=None)
        rays, lens_valid = camera.unproject(camera.pixel_centres())
        truth = (rays @ R.T).permute(2, 0, 1)
        assert torch.equal(valid, lens_valid)
        assert float((image - truth).norm(dim=0)[valid].max()) < 0.02
    # Looking forward, the image's right half sees the world's -y side (unmirrored).
    image, _ = equirect_to_image(panorama, camera, forward_looking(), cache=None)
    assert float(image[1, :, 40:].max()) < 0 < float(image[1, :, :24].min())


def test_rendering_anti_aliases_a_fine_panorama():
    # A pinhole with 2-degree pixels looking at a panorama with 0.35-degree pixels.
    panorama = torch.zeros(512, 1024, dtype=F64)
    panorama[:, ::2] = 1.0  # columns alternate: average 0.5
    camera = PinholeCamera(width=32, height=32, fx=28.0, fy=28.0, cx=15.5, cy=15.5)
    image, _ = equirect_to_image(panorama, camera, forward_looking(), cache=None)
    point, _ = equirect_to_image(panorama, camera, forward_looking(), supersampling=1, cache=None)
    assert float((image - 0.5).abs().mean()) < 0.05 < float((point - 0.5).abs().mean())


def test_labels_are_rendered_with_nearest():
    labels = torch.arange(8 * 16).reshape(8, 16)
    camera = EquidistantCamera(width=20, height=20, fx=6.0, fy=6.0, cx=9.5, cy=9.5)
    image, valid = equirect_to_image(
        labels, camera, forward_looking(), mode="nearest", fill=-1, cache=None
    )
    assert image.dtype == labels.dtype and (image[~valid] == -1).all()
    assert set(image[valid].tolist()) <= set(labels.reshape(-1).tolist())


def test_panorama_shapes_are_checked():
    with pytest.raises(ValueError, match=r"\(\.\.\., H, 2H\)"):
        check_equirect(torch.zeros(3, 10, 21))
    with pytest.raises(ValueError, match="height"):
        sphere_to_equirect(torch.zeros(8, 8), EquiangularGrid(4), 0)
    cache = MapCache()
    equirect_to_sphere(torch.zeros(8, 16), EquiangularGrid(4), cache=cache)
    equirect_to_sphere(torch.ones(2, 8, 16), EquiangularGrid(4), cache=cache)
    assert cache.builds == 1
