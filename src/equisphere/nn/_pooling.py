"""Band-limit reduction (spectral pooling) and invariant global pooling.

- :class:`BandLimit` analyses a signal up to a smaller bandwidth and
  synthesises it on that bandwidth's grid: a low-pass filter and a coarser
  grid at once, exactly equivariant for inputs band-limited to the input
  grid's bandwidth (it is a projection onto the degrees ``l < B_out``).
- :class:`GlobalPool` takes the mean over the sphere or over SO(3) with the
  grid's quadrature weights (``int f / volume``), a rotation invariant.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from equisphere.harmonics import (
    InverseSO3FourierTransform,
    InverseSphericalHarmonicTransform,
    SO3FourierTransform,
    SphericalHarmonicTransform,
)
from equisphere.nn._checks import check_grid, check_positive_int, check_signal
from equisphere.nn._spectral import blockwise, so3_count
from equisphere.so3.grid import SO3Grid
from equisphere.sphere.grids import SphereGrid

__all__ = ["BandLimit", "GlobalPool"]


class BandLimit(nn.Module):
    """Keep degrees ``l < bandwidth`` and resample on that bandwidth's grid.

    Parameters
    ----------
    grid : SphereGrid or SO3Grid
        The input grid.
    bandwidth : int
        Output band limit.
    output_grid : SphereGrid, optional
        For sphere inputs: the output grid; default the input grid's kind
        (equiangular or Gauss-Legendre) at ``bandwidth``. SO(3) outputs always
        live on ``SO3Grid(bandwidth)``.

    Shapes
    ------
    sphere: ``(N, C, n_theta, n_phi)`` -> ``(N, C, n_theta', n_phi')``;
    SO(3): ``(N, C, 2B_in, 2B_in, 2B_in)`` -> ``(N, C, 2B, 2B, 2B)``.

    Examples
    --------
    >>> from equisphere.so3 import SO3Grid
    >>> BandLimit(SO3Grid(10), 6)(torch.randn(2, 3, 20, 20, 20)).shape
    torch.Size([2, 3, 12, 12, 12])
    """

    def __init__(
        self,
        grid: SphereGrid | SO3Grid,
        bandwidth: int,
        output_grid: SphereGrid | None = None,
    ) -> None:
        super().__init__()
        self.grid = check_grid(grid)
        self.bandwidth = check_positive_int(bandwidth, "bandwidth")
        if isinstance(grid, SO3Grid):
            if output_grid is not None:
                raise ValueError("output_grid applies to sphere inputs only; leave it out")
            analysed = min(grid.bandwidth, bandwidth)
            self.output_grid = SO3Grid(bandwidth)
            self.analysis = SO3FourierTransform(grid.bandwidth, bandwidth=analysed)
            self.synthesis = InverseSO3FourierTransform(bandwidth)
            self._padding = so3_count(bandwidth) - so3_count(analysed)
            self._analysed_size = so3_count(analysed)
        else:
            if output_grid is None:
                if not hasattr(grid, "bandwidth"):
                    raise ValueError(f"give output_grid: {grid!r} has no bandwidth to scale")
                output_grid = type(grid)(bandwidth)
            self.output_grid = check_grid(output_grid, "output_grid")
            analysed = min(getattr(grid, "bandwidth", bandwidth), bandwidth)
            self.analysis = SphericalHarmonicTransform(grid, bandwidth=analysed)
            self.synthesis = InverseSphericalHarmonicTransform(
                self.output_grid, bandwidth=bandwidth
            )
            self._padding = bandwidth**2 - analysed**2
            self._analysed_size = analysed**2
        self._output_size = math.prod(self.output_grid.shape)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """Low-pass ``(N, C, *grid.shape)`` onto ``(N, C, *output_grid.shape)``."""
        check_signal(signal, self.grid, None, "BandLimit")

        coeffs = blockwise(self.analysis, signal, len(self.grid.shape), self._analysed_size)
        if self._padding:
            coeffs = F.pad(coeffs, (0, self._padding))
        return blockwise(self.synthesis, coeffs, 1, self._output_size)

    def extra_repr(self) -> str:
        return f"{self.grid!r} -> {self.output_grid!r}"


class GlobalPool(nn.Module):
    """Quadrature mean over the grid: ``int f / volume``; a rotation invariant per channel.

    Parameters
    ----------
    grid : SphereGrid or SO3Grid
        The grid of the input; its weights sum to ``4 pi`` (sphere) or
        ``8 pi^2`` (SO(3)).

    Shapes
    ------
    ``(N, C, *grid.shape)`` -> ``(N, C)``.

    Examples
    --------
    >>> from equisphere.so3 import SO3Grid
    >>> pool = GlobalPool(SO3Grid(4))
    >>> [round(v, 4) for v in pool(torch.full((1, 2, 8, 8, 8), 3.0))[0].tolist()]
    [3.0, 3.0]
    """

    def __init__(self, grid: SphereGrid | SO3Grid) -> None:
        super().__init__()
        self.grid = check_grid(grid)
        weights = grid.weights / grid.weights.sum()
        self.register_buffer("weights_normalised", weights, persistent=False)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """Mean of ``(N, C, *grid.shape)`` over the grid; shape (N, C)."""
        check_signal(signal, self.grid, None, "GlobalPool")

        weights = self.weights_normalised.to(signal.dtype).flatten()
        return signal.flatten(2) @ weights  # (N, C)

    def extra_repr(self) -> str:
        return repr(self.grid)
