"""Kernel grids: point counts, angles, and the rotations they describe."""

from __future__ import annotations

import math

import pytest
import torch

from equisphere.nn import ring_grid, s2_near_identity_grid, so3_near_identity_grid
from equisphere.so3 import matrix_from_euler_zyz


def test_s2_grid_has_rings_of_equispaced_longitudes():
    grid = s2_near_identity_grid(math.pi / 8, n_colatitude=3, n_longitude=8)
    assert grid.shape == (24, 2) and grid.dtype == torch.float64
    rings = sorted(set(round(v, 12) for v in grid[:, 0].tolist()))
    assert rings == pytest.approx([math.pi / 24, math.pi / 12, math.pi / 8])
    assert grid[:8, 1].tolist() == pytest.approx([2 * math.pi * k / 8 for k in range(8)])


def test_so3_grid_rotations_stay_near_the_identity():
    angles = so3_near_identity_grid(max_beta=math.pi / 8, max_twist=math.pi / 4)
    assert angles.shape == (72, 3)
    rotations = matrix_from_euler_zyz(*angles.unbind(-1))
    # The north pole moves by beta exactly; the total angle is at most beta + twist.
    moved = torch.acos(rotations[:, 2, 2].clamp(-1, 1))
    assert torch.allclose(moved, angles[:, 1], atol=1e-12)
    total = torch.acos(((rotations.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1))
    assert float(total.max()) <= math.pi / 8 + math.pi / 4 + 1e-9
    # Without twist, Rz(a) Ry(b) Rz(-a) turns about a horizontal axis.
    plain = so3_near_identity_grid(n_twist=1)
    axes = matrix_from_euler_zyz(*plain.unbind(-1))
    vertical = axes - axes.transpose(-1, -2)  # 2 sin(angle) [axis]_x
    assert float(vertical[:, 0, 1].abs().max()) < 1e-12  # z component of the axis is 0


def test_ring_grid():
    assert ring_grid(1.0, 1).tolist() == [0.0]
    assert ring_grid(1.0, 5).tolist() == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: s2_near_identity_grid(0.0),
        lambda: s2_near_identity_grid(n_longitude=0),
        lambda: so3_near_identity_grid(max_beta=4.0),
        lambda: ring_grid(n_rings=2.5),
    ],
)
def test_bad_arguments(call):
    with pytest.raises(ValueError, match="expected"):
        call()
