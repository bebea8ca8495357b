"""Rotation augmentation of training spheres and their label maps."""

from __future__ import annotations

import math

import pytest
import torch

from equisphere.so3 import random_rotation_matrices
from equisphere.sphere import EquiangularGrid
from equisphere.training.augment import random_rotation_augment


def test_each_sphere_gets_its_own_uniform_rotation():
    bandwidth = 16
    points = EquiangularGrid(bandwidth).vectors()  # (2B, 2B, 3)
    direction = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    signal = (points @ direction)[None, None].expand(4, 1, -1, -1).contiguous()

    turned, _ = random_rotation_augment(signal, generator=torch.Generator().manual_seed(5))

    # f(x) = x . v turns into f(R^-1 x) = x . (R v), with R the generator's rotations in order.
    rotations = random_rotation_matrices(
        4, generator=torch.Generator().manual_seed(5), dtype=torch.float64
    )
    expected = torch.einsum("hwj,nj->nhw", points, rotations @ direction)[:, None]
    assert (turned - expected).abs().max() < 5e-3  # bilinear resampling error at B = 16
    # The four rotated north directions differ from each other.
    assert torch.cdist(rotations[:, :, 2], rotations[:, :, 2]).triu(1).max() > 0.5


def test_label_maps_move_with_their_signals():
    bandwidth = 8
    colatitude = EquiangularGrid(bandwidth).colatitude
    labels = (colatitude < math.pi / 3).long()[None].repeat(4, 1, 1) * 3  # a polar cap of class 3
    signal = labels[:, None].double() / 3

    turned, turned_labels = random_rotation_augment(
        signal, labels, generator=torch.Generator().manual_seed(0)
    )

    assert turned_labels.dtype == labels.dtype
    assert set(turned_labels.unique().tolist()) == {0, 3}
    agree = (turned_labels == (turned[:, 0] > 0.5).long() * 3).double().mean()
    assert agree > 0.97
    assert (turned_labels[:, 0] == 0).any()  # the cap left the north pole at least once
    # Class labels of a classification batch pass through untouched.
    classes = torch.tensor([1, 2, 3, 4])
    assert torch.equal(random_rotation_augment(signal, classes)[1], classes)


def test_seeded_global_generator_gives_the_same_rotations():
    signal = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(3)
    first, _ = random_rotation_augment(signal)
    torch.manual_seed(3)
    again, _ = random_rotation_augment(signal)
    assert torch.equal(first, again)
    assert not torch.equal(first, random_rotation_augment(signal)[0])


def test_bad_signals_are_rejected():
    with pytest.raises(
        ValueError, match=r"expected signals of shape \(N, C, 2B, 2B\), got \(8, 8\)"
    ):
        random_rotation_augment(torch.zeros(8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        random_rotation_augment(torch.zeros(1, 1, 8, 8, dtype=torch.long))
