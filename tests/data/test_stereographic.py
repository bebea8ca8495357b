import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import map_coordinates

from equisphere.data import (
    directions_from_plane,
    load_fashion_mnist,
    pixel_directions,
    plane_from_directions,
    project_images,
    sample_images,
)
from equisphere.so3 import random_rotation_matrices
from equisphere.sphere import EquiangularGrid, angles_from_vectors

F64 = torch.float64


def reference_values(image, directions, rotation=None, side=3.0):
    """Independent NumPy/SciPy version of the protocol: project, then scipy bilinear."""
    image = np.asarray(image, dtype=np.float64)
    height, width = image.shape
    points = np.asarray(directions, dtype=np.float64)
    if rotation is not None:
        points = points @ np.asarray(rotation, dtype=np.float64)  # rows of R^T x
    with np.errstate(divide="ignore", invalid="ignore"):
        x = 2 * points[:, 0] / (1 - points[:, 2])
        y = 2 * points[:, 1] / (1 - points[:, 2])
    inside = (np.abs(x) <= side / 2) & (np.abs(y) <= side / 2)
    x, y = np.where(inside, x, 0), np.where(inside, y, 0)
    # Pixel centre (r, c) sits at x = (c + 0.5) side / W - side / 2: invert for c and r.
    col = (x + side / 2) * width / side - 0.5
    row = (y + side / 2) * height / side - 0.5
    values = map_coordinates(image, [row, col], order=1, mode="nearest")
    return np.where(inside, values, 0.0)


def random_directions(count, seed):
    vectors = torch.randn(count, 3, generator=torch.Generator().manual_seed(seed), dtype=F64)
    return vectors / vectors.norm(dim=1, keepdim=True)


def test_image_centre_lands_on_the_south_pole():
    south = torch.tensor([0.0, 0.0, -1.0], dtype=F64)
    torch.testing.assert_close(plane_from_directions(south), torch.zeros(2, dtype=F64))
    torch.testing.assert_close(directions_from_plane(torch.zeros(2, dtype=F64)), south)
    # The four central pixels surround the pole symmetrically.
    centre = pixel_directions()[13:15, 13:15].reshape(4, 3).sum(0)
    torch.testing.assert_close(centre / centre.norm(), south, atol=1e-15, rtol=0)
    # A bright 2 x 2 block in the middle gives exactly 1 at the pole.
    image = torch.zeros(1, 28, 28, dtype=F64)
    image[0, 13:15, 13:15] = 1
    assert float(sample_images(image, south[None])[0, 0]) == 1.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("row, col", [(5, 20), (0, 0), (27, 3), (14, 13)])
def test_pixel_direction_matches_the_stereographic_formula(row, col, dtype):
    x = (col + 0.5) * 3 / 28 - 1.5
    y = (row + 0.5) * 3 / 28 - 1.5
    # Line from (0, 0, 1) through the sphere meets z = -1 at distance rho = 2 cot(theta / 2).
    theta = 2 * math.atan2(2, math.hypot(x, y))
    phi = math.atan2(y, x)
    got_theta, got_phi = angles_from_vectors(pixel_directions(dtype=dtype)[row, col].to(F64))
    assert abs(float(got_theta) - theta) < 1e-6
    assert abs(math.remainder(float(got_phi) - phi, 2 * math.pi)) < 1e-6


@settings(max_examples=50, deadline=None)
@given(st.floats(-20, 20), st.floats(-20, 20))
def test_plane_sphere_round_trip(x, y):
    plane = torch.tensor([x, y], dtype=F64)
    direction = directions_from_plane(plane)
    assert abs(float(direction.norm()) - 1) < 1e-12
    torch.testing.assert_close(plane_from_directions(direction), plane, atol=1e-9, rtol=1e-9)


def test_constant_image_is_constant_inside_the_square():
    directions = random_directions(20000, 0)
    values = sample_images(torch.full((1, 28, 28), 0.7, dtype=F64), directions)[0]
    plane = plane_from_directions(directions)
    inside = (plane.abs() <= 1.5).all(dim=1)
    assert inside.sum() > 3000 and (~inside).sum() > 3000
    torch.testing.assert_close(
        values[inside], torch.full_like(values[inside], 0.7), atol=1e-15, rtol=0
    )
    assert bool((values[~inside] == 0).all())


def test_constant_image_projects_to_full_square():
    signal = project_images(torch.full((1, 28, 28), 9, dtype=torch.uint8))[0]
    plane = plane_from_directions(EquiangularGrid(30).vectors())
    inside = (plane.abs() <= 1.5).all(dim=-1)
    assert bool((signal[inside] == 255).all()) and bool((signal[~inside] == 0).all())


def test_single_bright_pixel_is_centred_on_its_direction():
    row, col = 8, 19
    image = torch.zeros(1, 28, 28, dtype=F64)
    image[0, row, col] = 1
    directions = pixel_directions()
    centre = directions[row, col]

    neighbours = directions[row - 1 : row + 2, col - 1 : col + 2].reshape(9, 3)
    values = sample_images(image, neighbours)[0]
    expected = torch.tensor([0, 0, 0, 0, 1, 0, 0, 0, 0], dtype=F64)
    torch.testing.assert_close(values, expected, atol=1e-12, rtol=0)

    # Fine sampling over the 2 x 2 pixel support: symmetric in the plane, centred on the sphere.
    pitch = 3 / 28
    x0, y0 = (col + 0.5) * pitch - 1.5, (row + 0.5) * pitch - 1.5
    offsets = (torch.arange(201, dtype=F64) - 100) / 100 * pitch
    plane = torch.stack(torch.meshgrid(x0 + offsets, y0 + offsets, indexing="xy"), dim=-1)
    fine = sample_images(image, directions_from_plane(plane).reshape(-1, 3))[0].reshape(201, 201)
    torch.testing.assert_close(fine, fine.flip(0), atol=1e-12, rtol=0)
    torch.testing.assert_close(fine, fine.flip(1), atol=1e-12, rtol=0)
    assert int(fine.argmax()) == 100 * 201 + 100 and abs(float(fine.max()) - 1) < 1e-12

    # Area element of the stereographic map: (4 / (rho^2 + 4))^2 dx dy.
    area = (4 / ((plane**2).sum(-1) + 4)) ** 2
    mean = (fine[..., None] * area[..., None] * directions_from_plane(plane)).sum((0, 1))
    angle = torch.arccos((mean / mean.norm()) @ centre).item()
    pixel_angle = torch.arccos(directions[row, col] @ directions[row, col + 1]).item()
    # The tent is centred; the sphere's area factor shifts its mean by about 2% of a pixel.
    assert angle < 0.03 * pixel_angle


def test_sampling_matches_scipy_reference():
    images, _ = load_fashion_mnist(None, "test")
    image = torch.from_numpy(images[:4]).to(F64) / 255
    rotations = random_rotation_matrices(4, seed=5, dtype=F64)
    directions = EquiangularGrid(30).vectors().reshape(-1, 3)
    ours = sample_images(image, directions, rotations)
    for index in range(4):
        expected = reference_values(image[index], directions, rotations[index])
        np.testing.assert_allclose(ours[index].numpy(), expected, atol=1e-12, rtol=0)


def test_rotated_sample_is_the_upright_image_at_the_inverse_rotation():
    images, _ = load_fashion_mnist(None, "test")
    image = torch.from_numpy(images[:3]).to(F64)
    rotations = random_rotation_matrices(3, seed=2, dtype=F64)
    directions = random_directions(5000, 1)
    rotated = sample_images(image, directions, rotations)
    for index in range(3):
        # (R f)(x) = f(R^-1 x): evaluate the upright image at R^T x.
        upright = sample_images(image[index : index + 1], directions @ rotations[index])[0]
        torch.testing.assert_close(rotated[index], upright, atol=1e-10, rtol=0)


def test_project_images_matches_reference_after_rounding():
    images, _ = load_fashion_mnist(None, "train")
    subset = torch.from_numpy(images[:64])
    rotations = random_rotation_matrices(64, seed=9, dtype=F64)
    grid = EquiangularGrid(30)
    directions = grid.vectors().reshape(-1, 3).numpy()
    expected = np.stack(
        [
            reference_values(
                (image - image.min()) / (image.max() - image.min()), directions, rotation
            ).reshape(grid.shape)
            for image, rotation in zip(subset.numpy().astype(float), rotations.numpy(), strict=True)
        ]
    )
    exact = project_images(subset, 30, rotations, dtype=F64, chunk_size=10)
    np.testing.assert_array_equal(exact.numpy(), np.round(expected * 255))
    fast = project_images(subset, 30, rotations).numpy().astype(int)  # float32 geometry
    difference = np.abs(fast - np.round(expected * 255))
    # float32 only moves values by one step of 255, except at a few points on the square's edge.
    assert (difference > 1).mean() < 1e-4 and difference.mean() < 0.01


def test_project_images_upright_is_identity_rotation():
    images, _ = load_fashion_mnist(None, "test")
    subset = torch.from_numpy(images[:20])
    identity = torch.eye(3, dtype=F64).expand(20, 3, 3)
    torch.testing.assert_close(project_images(subset), project_images(subset, rotations=identity))


def test_rotation_about_the_pole_turns_the_image():
    # Rz(90 degrees) maps +x to +y: the image's column direction turns into its row direction.
    image = torch.zeros(1, 28, 28, dtype=torch.uint8)
    image[0, 14, 24] = 255  # right of the centre, on the +x axis of the plane
    rotation = torch.tensor([[[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]], dtype=F64)
    grid = EquiangularGrid(30)
    signal = project_images(image, 30, rotation, dtype=F64)[0]
    peak = divmod(int(signal.argmax()), 60)
    direction = grid.vectors()[peak]
    # The bright pixel's direction, turned by 90 degrees about z, ends up on the +y side.
    assert direction[1] > 0.5 and abs(float(direction[0])) < 0.1


@pytest.mark.parametrize(
    "images, directions, rotations, match",
    [
        (torch.zeros(2, 28), torch.zeros(4, 3), None, r"images of shape \(N, H, W\)"),
        (torch.zeros(2, 28, 28), torch.zeros(4, 2), None, r"directions of shape \(P, 3\)"),
        (
            torch.zeros(2, 28, 28),
            torch.zeros(4, 3),
            torch.zeros(3, 3, 3),
            r"rotations of shape \(2, 3, 3\)",
        ),
    ],
)
def test_sample_images_bad_shapes(images, directions, rotations, match):
    with pytest.raises(ValueError, match=match):
        sample_images(images, directions, rotations)


def test_project_images_bad_input():
    with pytest.raises(ValueError, match="chunk_size >= 1"):
        project_images(torch.zeros(1, 28, 28), chunk_size=0)
    with pytest.raises(ValueError, match="bandwidth"):
        project_images(torch.zeros(1, 28, 28), bandwidth=0)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    images, _ = load_fashion_mnist(None, "test")
    subset = torch.from_numpy(images[:300])
    rotations = random_rotation_matrices(300, seed=3, dtype=F64)
    on_cpu = project_images(subset, 30, rotations, dtype=F64)
    on_gpu = project_images(subset, 30, rotations, dtype=F64, device="cuda")
    assert on_gpu.device.type == "cpu"
    assert (on_gpu.int() - on_cpu.int()).abs().max() <= 1


def test_thread_setting_is_restored():
    before = torch.get_num_threads()
    images = torch.zeros(3, 28, 28, dtype=torch.uint8)
    one = project_images(images, 8, num_threads=1)
    assert torch.get_num_threads() == before
    torch.testing.assert_close(one, project_images(images, 8, num_threads=None))
    with pytest.raises(ValueError, match="num_threads >= 1"):
        project_images(images, 8, num_threads=0)
