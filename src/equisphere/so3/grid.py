"""The equiangular SO(3) grid (SOFT) for a bandwidth ``B``.

Conventions (docs/conventions.md): ZYZ Euler angles; ``alpha_k = gamma_k =
2 pi k / (2B)`` and ``beta_j = pi (2j + 1) / (4B)`` for ``j, k = 0 .. 2B-1``.
Signals on SO(3) have layout ``(..., n_beta, n_alpha, n_gamma)`` =
``(..., 2B, 2B, 2B)``, so that the first two axes read like a sphere signal
``(theta, phi)``: the grid point maps the north pole to ``(beta, alpha)``.
"""

from __future__ import annotations

import math

import torch

from equisphere.quadrature import check_bandwidth, driscoll_healy_nodes, driscoll_healy_weights
from equisphere.so3.rotations import matrix_from_euler_zyz

__all__ = ["SO3Grid"]


class SO3Grid:
    """Equiangular grid on SO(3) with exact SOFT quadrature weights.

    Attributes
    ----------
    bandwidth : int
    alpha, beta, gamma : torch.Tensor, shape (2B,), float64
    shape : tuple of int
        ``(2B, 2B, 2B)`` in the order (beta, alpha, gamma).
    weights : torch.Tensor, shape ``shape``, float64
        Quadrature weights for ``d alpha sin(beta) d beta d gamma``; they sum to
        ``8 pi^2``.

    Examples
    --------
    >>> grid = SO3Grid(4)
    >>> grid.shape, round(float(grid.weights.sum()), 9) == round(8 * math.pi**2, 9)
    ((8, 8, 8), True)
    """

    def __init__(self, bandwidth: int) -> None:
        self.bandwidth = check_bandwidth(bandwidth)
        n = 2 * self.bandwidth
        self.beta = driscoll_healy_nodes(self.bandwidth)
        self.alpha = 2 * math.pi * torch.arange(n, dtype=torch.float64) / n
        self.gamma = self.alpha.clone()
        self.shape = (n, n, n)
        ring = driscoll_healy_weights(self.bandwidth) * (2 * math.pi / n) ** 2
        self.weights = ring[:, None, None].expand(self.shape).clone()

    def angles(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(alpha, beta, gamma)`` at every grid point, each of shape ``shape``."""
        beta, alpha, gamma = torch.meshgrid(self.beta, self.alpha, self.gamma, indexing="ij")
        return alpha, beta, gamma

    def matrices(self) -> torch.Tensor:
        """Rotation matrices at every grid point, shape ``shape + (3, 3)``, float64."""
        return matrix_from_euler_zyz(*self.angles())

    def check_signal(self, signal: torch.Tensor, name: str = "signal") -> torch.Tensor:
        """Raise ``ValueError`` unless ``signal`` ends with ``(2B, 2B, 2B)`` and is finite."""
        if not isinstance(signal, torch.Tensor):
            raise TypeError(f"expected {name} to be a torch.Tensor, got {type(signal).__name__}")
        if signal.ndim < 3 or tuple(signal.shape[-3:]) != self.shape:
            raise ValueError(
                f"expected {name} of shape (..., {', '.join(map(str, self.shape))}) "
                f"(beta, alpha, gamma) on {self!r}, got shape {tuple(signal.shape)}"
            )
        if signal.is_floating_point() and not torch.isfinite(signal).all():
            raise ValueError(f"expected {name} to be finite, got NaN or infinite values")
        return signal

    def integrate(self, signal: torch.Tensor) -> torch.Tensor:
        """Quadrature over SO(3) (Haar measure, total ``8 pi^2``); shape ``(...)``."""
        self.check_signal(signal)
        weights = self.weights.to(dtype=signal.dtype, device=signal.device)
        return (signal * weights).sum(dim=(-3, -2, -1))

    def __repr__(self) -> str:
        return f"SO3Grid(bandwidth={self.bandwidth})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SO3Grid) and other.bandwidth == self.bandwidth

    def __hash__(self) -> int:
        return hash(("SO3Grid", self.bandwidth))
