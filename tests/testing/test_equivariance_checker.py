"""The public equivariance checker and its rotation actions, on modules of known behaviour."""

from __future__ import annotations

import math

import pytest
import torch

from equisphere.harmonics import InverseSO3FourierTransform, InverseSphericalHarmonicTransform
from equisphere.so3 import SO3Grid, random_rotation_matrices, rotation_y, rotation_z
from equisphere.sphere import EquiangularGrid
from equisphere.testing import (
    EquivarianceReport,
    SO3Rotation,
    SphereRotation,
    check_equivariance,
    grid_symmetry_rotations,
    invariant,
)

F64 = torch.float64


def band_limited_sphere(bandwidth: int, count: int = 2, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    coeffs = torch.randn(count, 1, bandwidth**2, generator=generator, dtype=F64)
    return InverseSphericalHarmonicTransform(EquiangularGrid(bandwidth))(coeffs)


def band_limited_so3(bandwidth: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    count = bandwidth * (4 * bandwidth**2 - 1) // 3
    return InverseSO3FourierTransform(bandwidth)(
        torch.randn(2, count, generator=generator, dtype=F64)
    )


def test_identity_is_equivariant_and_a_masking_module_is_not():
    grid = EquiangularGrid(6)
    signal = band_limited_sphere(6)
    rotations = random_rotation_matrices(4, seed=1, dtype=F64)
    action = SphereRotation(grid)
    report = check_equivariance(torch.nn.Identity(), signal, rotations, action, action)
    assert isinstance(report, EquivarianceReport)
    assert report.relative_error < 1e-12 and report.relative_errors.shape == (4,)
    assert report.sample_relative_errors.shape == (4, 2)

    # Weighting by cos(colatitude) singles out the z-axis: not equivariant.
    mask = torch.cos(grid.colatitude)
    report = check_equivariance(lambda f: f * mask, signal, rotations, action, action)
    assert report.relative_error > 0.1
    assert report.max_error >= report.mean_error > 0
    assert report.mean_relative_error <= report.relative_error


def test_statistics_match_a_hand_computation():
    # Module adds 1 after rotating the input away: error is exactly 1 everywhere.
    signal = torch.ones(3, 4, dtype=F64)
    shift = lambda x, q: x + 1.0  # noqa: E731  an "action" that is not a group action
    report = check_equivariance(lambda x: 2 * x, signal, torch.eye(3, dtype=F64), shift, invariant)
    assert report.max_error == pytest.approx(2.0) and report.mean_error == pytest.approx(2.0)
    assert report.relative_error == pytest.approx(1.0)  # ||2|| / ||2||
    assert "relative error max 1.000e+00" in str(report)


def test_harmonic_sphere_rotation_of_a_grid_step_is_a_roll():
    signal = band_limited_sphere(5)
    step = rotation_z(torch.tensor(2 * math.pi / 10, dtype=F64))
    rotated = SphereRotation(EquiangularGrid(5))(signal, step)
    # (Q f)(phi) = f(phi - step): longitude index k takes the value from k - 1.
    torch.testing.assert_close(rotated, signal.roll(1, dims=-1), atol=1e-12, rtol=0)
    by_grid = SphereRotation(EquiangularGrid(5), method="grid")(signal, step)
    torch.testing.assert_close(by_grid, signal.roll(1, dims=-1), atol=0, rtol=0)


def test_grid_method_flips_under_the_half_turn_about_y_and_rejects_other_rotations():
    grid = EquiangularGrid(4)
    signal = band_limited_sphere(4)
    half_turn = rotation_y(torch.tensor(math.pi, dtype=F64))
    exact = SphereRotation(grid)(signal, half_turn)
    torch.testing.assert_close(
        SphereRotation(grid, "grid")(signal, half_turn), exact, atol=1e-12, rtol=0
    )
    with pytest.raises(ValueError, match="maps every point of EquiangularGrid"):
        SphereRotation(grid, "grid")(signal, rotation_z(torch.tensor(0.1, dtype=F64)))


def test_so3_rotation_is_a_left_translation():
    signal = band_limited_so3(4)
    action = SO3Rotation(4)
    step = rotation_z(torch.tensor(2 * math.pi / 8, dtype=F64))
    # g(Rz(-t) R): alpha index k takes the value from k - 1 (layout beta, alpha, gamma).
    torch.testing.assert_close(action(signal, step), signal.roll(1, dims=-2), atol=1e-12, rtol=0)
    first, second = random_rotation_matrices(2, seed=3, dtype=F64)
    twice = action(action(signal, first), second)
    torch.testing.assert_close(twice, action(signal, second @ first), atol=1e-11, rtol=0)


def test_grid_symmetries_map_every_grid_onto_itself():
    rotations = grid_symmetry_rotations([30, 10, 6])
    assert rotations.shape == (8, 3, 3)
    for bandwidth in (30, 10, 6):
        action = SphereRotation(EquiangularGrid(bandwidth), method="grid")
        signal = torch.arange(4 * bandwidth**2, dtype=F64).reshape(1, 2 * bandwidth, 2 * bandwidth)
        for rotation in rotations:
            moved = action(signal, rotation)  # raises unless a permutation
            assert torch.equal(moved.flatten().sort().values, signal.flatten())
    assert grid_symmetry_rotations([7]).shape == (28, 3, 3)
    with pytest.raises(ValueError, match="positive int bandwidths"):
        grid_symmetry_rotations([])


def test_interpolated_rotation_is_close_for_smooth_signals():
    pytest.importorskip("equisphere.sphere.interpolate")
    grid = EquiangularGrid(16)
    signal = band_limited_sphere(16)
    smooth = SphereRotation(grid, bandwidth=4)(signal, torch.eye(3, dtype=F64))
    rotation = random_rotation_matrices(1, seed=4, dtype=F64)[0]
    exact = SphereRotation(grid)(smooth, rotation)
    approximate = SphereRotation(grid, "interpolate")(smooth, rotation)
    assert float((approximate - exact).norm() / exact.norm()) < 0.02


def test_bad_arguments():
    signal = band_limited_sphere(3)
    action = SphereRotation(EquiangularGrid(3))
    with pytest.raises(ValueError, match=r"rotations of shape \(n_rotations, 3, 3\)"):
        check_equivariance(torch.nn.Identity(), signal, torch.zeros(2, 3), action, action)
    with pytest.raises(TypeError, match="return a tensor"):
        check_equivariance(lambda x: [x], signal, torch.eye(3, dtype=F64), action, action)
    with pytest.raises(ValueError, match="expected method"):
        SphereRotation(EquiangularGrid(3), method="nearest")
    with pytest.raises(ValueError, match=r"\(\.\.\., 6, 6\) on EquiangularGrid"):
        action(torch.zeros(1, 8, 8, dtype=F64), torch.eye(3, dtype=F64))
    assert SO3Rotation(SO3Grid(2)).grid == SO3Grid(2)
