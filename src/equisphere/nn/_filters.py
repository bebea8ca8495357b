"""Filter bases: harmonics evaluated at the points of a kernel grid, and filter validation.

A local filter is ``psi = sum_k w_k delta_{x_k}`` (sphere) or
``sum_k w_k delta_{Q_k}`` (SO(3)); its coefficients are the harmonics at the
kernel points, so the filter's coefficients are ``weight @ basis`` with the
bases computed here once, in float64.
"""

from __future__ import annotations

from typing import Literal

import torch

from equisphere.harmonics import real_spherical_harmonics
from equisphere.so3 import wigner_D_flat

FilterKind = Literal["local", "spectral"]


def check_filter_kind(kind: str) -> str:
    """Return ``kind`` or raise ``ValueError`` unless it is ``"local"`` or ``"spectral"``."""
    if kind not in ("local", "spectral"):
        raise ValueError(
            f"expected filter 'local' (weights on a kernel grid) or 'spectral' "
            f"(weights are the filter's coefficients), got {kind!r}"
        )
    return kind


def check_kernel_grid(kernel_grid: torch.Tensor, columns: int, what: str) -> torch.Tensor:
    """Return ``kernel_grid`` as float64 or raise unless it has shape ``(n_points, columns)``."""
    if not isinstance(kernel_grid, torch.Tensor):
        raise TypeError(f"expected kernel_grid as a torch.Tensor, got {type(kernel_grid).__name__}")
    if kernel_grid.ndim != 2 or kernel_grid.shape[1] != columns or kernel_grid.shape[0] == 0:
        raise ValueError(
            f"expected kernel_grid of shape (n_points, {columns}) holding {what}, "
            f"got shape {tuple(kernel_grid.shape)}"
        )
    return kernel_grid.detach().to(dtype=torch.float64, device="cpu")


def sphere_kernel_basis(bandwidth: int, kernel_grid: torch.Tensor) -> torch.Tensor:
    """Real spherical harmonics at the kernel points; shape (n_points, B^2), float64.

    ``kernel_grid`` has shape (n_points, 2): colatitude and longitude, radians.
    """
    kernel_grid = check_kernel_grid(kernel_grid, 2, "(colatitude, longitude) in radians")
    return real_spherical_harmonics(bandwidth, kernel_grid[:, 0], kernel_grid[:, 1])


def so3_kernel_basis(bandwidth: int, kernel_grid: torch.Tensor) -> torch.Tensor:
    """Real Wigner-D matrices at the kernel rotations; shape (n_points, K), float64.

    ``kernel_grid`` has shape (n_points, 3): ZYZ Euler angles (alpha, beta, gamma).
    """
    kernel_grid = check_kernel_grid(kernel_grid, 3, "ZYZ Euler angles (alpha, beta, gamma)")
    return wigner_D_flat(bandwidth, kernel_grid[:, 0], kernel_grid[:, 1], kernel_grid[:, 2])


def zonal_kernel_basis(bandwidth: int, colatitudes: torch.Tensor) -> torch.Tensor:
    """Legendre polynomials ``P_l(cos theta_k)``; shape (n_rings, B), float64.

    ``P_l(cos theta) = sqrt(4 pi / (2l + 1)) Y_{l0}(theta)``: the weight that the
    mean over a ring at angular distance ``theta`` gives to degree ``l``.
    """
    if not isinstance(colatitudes, torch.Tensor):
        raise TypeError(f"expected ring colatitudes as a torch.Tensor, got {type(colatitudes)}")
    if colatitudes.ndim != 1 or colatitudes.numel() == 0:
        raise ValueError(
            f"expected ring colatitudes of shape (n_rings,), got shape {tuple(colatitudes.shape)}"
        )
    colatitudes = colatitudes.detach().to(dtype=torch.float64, device="cpu")
    harmonics = real_spherical_harmonics(bandwidth, colatitudes, torch.zeros_like(colatitudes))
    degree = torch.arange(bandwidth, dtype=torch.float64)
    zonal = harmonics[:, degree.long() ** 2 + degree.long()]  # Y_{l0}, (n_rings, B)
    return zonal * torch.sqrt(4 * torch.pi / (2 * degree + 1))
