"""Band-limited random signals and point evaluations shared by the layer tests."""

from __future__ import annotations

import torch

from equisphere.harmonics import (
    InverseSO3FourierTransform,
    InverseSphericalHarmonicTransform,
    real_spherical_harmonics,
)
from equisphere.so3 import euler_zyz_from_matrix, wigner_D_flat
from equisphere.sphere import EquiangularGrid
from equisphere.sphere.grids import angles_from_vectors


def so3_count(bandwidth: int) -> int:
    return bandwidth * (4 * bandwidth**2 - 1) // 3


def sphere_signal(shape, grid_bandwidth, band, seed=0, dtype=torch.float64):
    """Random signal on EquiangularGrid(grid_bandwidth), degrees below ``band``; and its coeffs."""
    generator = torch.Generator().manual_seed(seed)
    coeffs = torch.randn(*shape, band * band, generator=generator, dtype=torch.float64)
    padded = torch.nn.functional.pad(coeffs, (0, grid_bandwidth**2 - band * band))
    signal = InverseSphericalHarmonicTransform(EquiangularGrid(grid_bandwidth))(padded)
    return signal.to(dtype), coeffs


def so3_signal(shape, grid_bandwidth, band, seed=0, dtype=torch.float64):
    """Random signal on SO3Grid(grid_bandwidth) with degrees below ``band``; and its coeffs."""
    generator = torch.Generator().manual_seed(seed)
    coeffs = torch.randn(*shape, so3_count(band), generator=generator, dtype=torch.float64)
    padded = torch.nn.functional.pad(coeffs, (0, so3_count(grid_bandwidth) - so3_count(band)))
    signal = InverseSO3FourierTransform(grid_bandwidth)(padded)
    return signal.to(dtype), coeffs


def sphere_values(coeffs: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``f(points)`` for coefficients ``(..., B^2)`` at unit vectors ``(P, 3)``; shape (..., P)."""
    band = int(round(coeffs.shape[-1] ** 0.5))
    colatitude, longitude = angles_from_vectors(points)
    return coeffs @ real_spherical_harmonics(band, colatitude, longitude).T


def so3_values(coeffs: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """``f(R)`` for SO(3) coefficients ``(..., K)`` at rotation matrices ``(P, 3, 3)``; (..., P)."""
    band = next(b for b in range(1, 64) if so3_count(b) == coeffs.shape[-1])
    alpha, beta, gamma = euler_zyz_from_matrix(rotations)
    return coeffs @ wigner_D_flat(band, alpha, beta, gamma).T
