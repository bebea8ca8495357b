"""Equivariant batch normalisation: statistics per channel over the batch and the whole grid.

Each channel is shifted by its mean and divided by its standard deviation,
both quadrature-weighted integrals over the grid (divided by the grid's
volume) and averaged over the batch. A constant shift and a global scale
commute with rotations, and the integrals of ``f`` and ``f^2`` are invariant,
so the layer is equivariant; on the exact-quadrature grids it is exactly
equivariant for band-limited inputs (the quadrature of ``f^2`` is exact when
``f`` is band-limited to the grid's bandwidth). There are no per-position
parameters: only a scale and a shift per channel.
"""

from __future__ import annotations

import torch
from torch import nn

from equisphere.nn._checks import check_grid, check_positive_int, check_signal
from equisphere.so3.grid import SO3Grid
from equisphere.sphere.grids import SphereGrid

__all__ = ["EquivariantBatchNorm"]


class EquivariantBatchNorm(nn.Module):
    """Batch normalisation for signals on a sphere grid or the SO(3) grid.

    Parameters
    ----------
    channels : int
        ``C``.
    grid : SphereGrid or SO3Grid
        The grid the signals live on; its quadrature weights weigh the points.
    eps : float
        Added to the variance.
    momentum : float
        Weight of the newest batch in the running statistics.
    affine : bool
        Learn a scale and a shift per channel.

    Shapes
    ------
    input and output ``(N, C, *grid.shape)``.

    Examples
    --------
    >>> from equisphere.so3 import SO3Grid
    >>> norm = EquivariantBatchNorm(4, SO3Grid(3))
    >>> out = norm(torch.randn(8, 4, 6, 6, 6) * 5 + 2)
    >>> grid_mean = (out * norm.weights_normalised).sum(dim=(-3, -2, -1)).mean(0)
    >>> bool(grid_mean.abs().max() < 1e-5)
    True
    """

    def __init__(
        self,
        channels: int,
        grid: SphereGrid | SO3Grid,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
    ) -> None:
        super().__init__()
        self.channels = check_positive_int(channels, "channels")
        self.grid = check_grid(grid)
        if not (eps > 0 and 0 <= momentum <= 1):
            raise ValueError(f"expected eps > 0 and momentum in [0, 1], got {eps}, {momentum}")
        self.eps, self.momentum = float(eps), float(momentum)
        weights = grid.weights / grid.weights.sum()  # sums to 1: a mean over the grid
        self.register_buffer("weights_normalised", weights, persistent=False)
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        if affine:
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))
        else:
            self.weight, self.bias = None, None

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """Normalise ``(N, C, *grid.shape)``; batch statistics in training, running ones in eval."""
        check_signal(signal, self.grid, self.channels, "EquivariantBatchNorm")

        grid_axes = tuple(range(2, signal.ndim))
        view = (1, -1) + (1,) * len(grid_axes)  # per-channel values broadcast over N and grid
        weights = self.weights_normalised.to(signal.dtype)
        if self.training:
            mean = (signal * weights).sum(dim=grid_axes).mean(dim=0)  # (C,)
            centred = signal - mean.reshape(view)
            var = (centred.square() * weights).sum(dim=grid_axes).mean(dim=0)  # (C,)
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), self.momentum)
                self.running_var.lerp_(var.detach().to(self.running_var.dtype), self.momentum)
        else:
            mean, var = self.running_mean.to(signal.dtype), self.running_var.to(signal.dtype)
            centred = signal - mean.reshape(view)
        output = centred * torch.rsqrt(var + self.eps).reshape(view)
        if self.weight is not None:
            output = output * self.weight.to(signal.dtype).reshape(view)
            output = output + self.bias.to(signal.dtype).reshape(view)
        return output

    def extra_repr(self) -> str:
        return f"{self.channels}, grid={self.grid!r}, eps={self.eps}, momentum={self.momentum}"
