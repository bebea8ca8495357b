"""Rotation augmentation: resampling signals on the equiangular grid."""

from __future__ import annotations

import math

import torch

from equisphere.so3 import random_rotation_matrices, rotation_z
from equisphere.sphere import EquiangularGrid
from equisphere.training.augment import random_rotation_augment, rotate_equiangular


def test_z_rotation_by_grid_steps_is_an_exact_column_shift(dtype):
    bandwidth = 6
    signal = torch.rand(3, 2, 2 * bandwidth, 2 * bandwidth, dtype=dtype)
    for steps in (1, 5):
        angle = torch.tensor(2 * math.pi * steps / (2 * bandwidth), dtype=torch.float64)
        turned = rotate_equiangular(signal, rotation_z(angle))
        # (R f)(theta, phi) = f(theta, phi - angle): column k takes column k - steps.
        torch.testing.assert_close(turned, signal.roll(steps, dims=-1), atol=1e-5, rtol=0)


def test_rotating_a_degree_one_harmonic_matches_the_closed_form():
    bandwidth = 30
    points = EquiangularGrid(bandwidth).vectors()  # (2B, 2B, 3)
    direction = torch.tensor([0.3, -0.5, 0.8], dtype=torch.float64)
    direction = direction / direction.norm()
    signal = (points @ direction)[None, None].expand(5, 1, -1, -1).contiguous()
    rotations = random_rotation_matrices(5, seed=1, dtype=torch.float64)

    turned = rotate_equiangular(signal, rotations)

    # f(x) = x . v, so f(R^-1 x) = (R^T x) . v = x . (R v).
    expected = torch.einsum("hwj,nj->nhw", points, rotations @ direction)[:, None]
    error = (turned - expected).abs()
    assert error.mean() < 1e-3
    assert error.max() < 1.2e-2  # the largest errors sit within half a ring of the poles


def test_nearest_mode_keeps_labels_and_augment_rotates_label_maps_with_the_signal():
    bandwidth = 8
    colatitude = EquiangularGrid(bandwidth).colatitude
    labels = (colatitude < math.pi / 3).long()[None].repeat(4, 1, 1) * 3  # a polar cap of class 3
    signal = labels[:, None].double() / 3
    generator = torch.Generator().manual_seed(0)

    turned, turned_labels = random_rotation_augment(signal, labels, generator=generator)

    assert set(turned_labels.unique().tolist()) == {0, 3}
    # The rotated label map is the rotated signal, thresholded: they moved together.
    agree = (turned_labels == (turned[:, 0] > 0.5).long() * 3).double().mean()
    assert agree > 0.97
    # The cap moved away from the north pole for at least one of the 4 rotations.
    assert (turned_labels[:, 0] == 0).any()
    # Class labels of a classification batch pass through untouched.
    classes = torch.tensor([1, 2, 3, 4])
    assert torch.equal(random_rotation_augment(signal, classes)[1], classes)


def test_rotating_there_and_back_restores_a_smooth_signal():
    bandwidth = 16
    grid = EquiangularGrid(bandwidth)
    signal = torch.cos(grid.colatitude) ** 2 + torch.sin(grid.longitude) * torch.sin(
        grid.colatitude
    )
    signal = signal[None, None]
    rotation = random_rotation_matrices(1, seed=3, dtype=torch.float64)[0]
    back = rotate_equiangular(rotate_equiangular(signal, rotation), rotation.T)
    assert (back - signal).abs().mean() < 5e-3
