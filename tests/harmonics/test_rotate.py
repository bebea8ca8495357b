import math

import pytest
import torch

from equisphere.harmonics import real_spherical_harmonics, rotate_coefficients
from equisphere.so3 import random_rotation_matrices, rotation_z
from equisphere.sphere import angles_from_vectors, unit_vectors

F64 = torch.float64


def _points(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    theta = torch.acos(2 * torch.rand(count, generator=generator, dtype=F64) - 1)
    return theta, 2 * math.pi * torch.rand(count, generator=generator, dtype=F64)


def _evaluate(coeffs: torch.Tensor, theta: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    bandwidth = math.isqrt(coeffs.shape[-1])
    return real_spherical_harmonics(bandwidth, theta, phi) @ coeffs.T  # (points, signals)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rotated_coefficients_evaluate_to_f_at_inverse_rotated_points(seed):
    bandwidth = 16
    rotation = random_rotation_matrices(1, seed=seed, dtype=F64)[0]
    coeffs = torch.randn(2, bandwidth**2, generator=torch.Generator().manual_seed(seed), dtype=F64)
    theta, phi = _points(300, seed)
    # (R f)(x) = f(R^-1 x); rows of x @ R are R^T x = R^-1 x.
    theta_back, phi_back = angles_from_vectors(unit_vectors(theta, phi) @ rotation)
    expected = _evaluate(coeffs, theta_back, phi_back)
    rotated = rotate_coefficients(coeffs, rotation)
    assert float((_evaluate(rotated, theta, phi) - expected).abs().max()) < 1e-10


def test_composition_and_batched_rotations():
    r1, r2 = random_rotation_matrices(2, seed=7, dtype=F64)
    coeffs = torch.randn(10**2, generator=torch.Generator().manual_seed(3), dtype=F64)
    twice = rotate_coefficients(rotate_coefficients(coeffs, r2), r1)
    torch.testing.assert_close(twice, rotate_coefficients(coeffs, r1 @ r2), atol=1e-12, rtol=0)
    batched = rotate_coefficients(coeffs, torch.stack([r1, r2]))
    assert batched.shape == (2, 100)
    torch.testing.assert_close(batched[1], rotate_coefficients(coeffs, r2), atol=1e-14, rtol=0)
    # Rotation preserves the energy of every degree.
    for degree in range(10):
        block = slice(degree**2, (degree + 1) ** 2)
        torch.testing.assert_close(batched[0, block].norm(), coeffs[block].norm())


def test_quarter_turn_about_z_moves_x_to_y():
    coeffs = torch.zeros(4, dtype=F64)
    coeffs[3] = 1.0  # Y_{1,1} is proportional to x
    turned = rotate_coefficients(coeffs, rotation_z(torch.tensor(math.pi / 2, dtype=F64)))
    torch.testing.assert_close(
        turned, torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=F64), atol=1e-15, rtol=0
    )


def test_float32(dtype):
    rotation = random_rotation_matrices(1, seed=9, dtype=F64)[0]
    coeffs = torch.randn(3, 64, generator=torch.Generator().manual_seed(4), dtype=F64)
    reference = rotate_coefficients(coeffs, rotation)
    ours = rotate_coefficients(coeffs.to(dtype), rotation.to(dtype))
    assert ours.dtype == dtype
    assert float((ours.double() - reference).abs().max()) < (
        1e-5 if dtype == torch.float32 else 1e-13
    )


def test_bad_input():
    # The message names what a rotation must satisfy and what arrived.
    with pytest.raises(
        ValueError,
        match=r"expected proper rotation matrices \(R\^T R = I, det R = \+1\) within 1e-09, "
        r"got max \|R\^T R - I\| = 3 and det R in \[8, 8\]",
    ):
        rotate_coefficients(torch.zeros(9, dtype=F64), 2 * torch.eye(3, dtype=F64))
    reflection = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=F64))
    with pytest.raises(ValueError, match=r"det R in \[-1, -1\]"):
        rotate_coefficients(torch.zeros(9, dtype=F64), reflection)
    with pytest.raises(ValueError, match="finite rotation matrices"):
        rotate_coefficients(torch.zeros(9, dtype=F64), torch.full((3, 3), float("nan")))
    nan_coeffs = torch.zeros(9, dtype=F64)
    nan_coeffs[4] = float("nan")
    with pytest.raises(ValueError, match="expected coeffs to be finite"):
        rotate_coefficients(nan_coeffs, torch.eye(3, dtype=F64))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., B\^2\).*got shape \(10,\)"):
        rotate_coefficients(torch.zeros(10, dtype=F64), torch.eye(3, dtype=F64))
