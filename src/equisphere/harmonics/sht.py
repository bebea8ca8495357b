"""Forward and inverse real spherical harmonic transforms on product grids.

Method: a real FFT over longitude turns each ring into Fourier modes ``m``; a
batched matrix product with precomputed, quadrature-weighted associated
Legendre functions (one ``(rings, degrees)`` matrix per order) then gives the
coefficients. The inverse runs the same steps backwards. Both are exact for
band-limited signals on the equiangular (Driscoll-Healy) and Gauss-Legendre
grids, because their quadratures integrate products of two harmonics of degree
below ``B`` exactly. Cost: ``O(B^3)`` per signal, memory ``B^2 n_theta`` for the
Legendre table.

Conventions (docs/conventions.md): real orthonormal harmonics; analysis
``c_{lm} = int f Y_{lm} dA``, synthesis ``f = sum c_{lm} Y_{lm}``; coefficients
``(..., B^2)`` at flat index ``l^2 + l + m``; signals ``(..., n_theta, n_phi)``.

In the Fourier domain, with ``X_{ml} = int f Pbar_l^m e^{-i m phi} dA``:
``c_{l,0} = Re X_{0l}``, ``c_{l,m} = sqrt(2) Re X_{ml}`` and
``c_{l,-m} = -sqrt(2) Im X_{ml}`` for ``m > 0``.
"""

from __future__ import annotations

import functools
import logging
import math

import torch

from equisphere.harmonics._checks import check_tensor, flatten_batch
from equisphere.harmonics.spherical_harmonics import normalized_legendre
from equisphere.quadrature import check_bandwidth
from equisphere.sphere.grids import EquiangularGrid, GaussLegendreGrid

__all__ = ["InverseSphericalHarmonicTransform", "SphericalHarmonicTransform"]

logger = logging.getLogger(__name__)

ProductGrid = EquiangularGrid | GaussLegendreGrid


def _check_grid(grid: object, bandwidth: int | None) -> int:
    if not isinstance(grid, (EquiangularGrid, GaussLegendreGrid)):
        raise TypeError(
            "expected an EquiangularGrid or GaussLegendreGrid (grids with an exact quadrature), "
            f"got {type(grid).__name__}; resample HEALPix signals onto one of these first"
        )
    if bandwidth is None:
        return grid.bandwidth
    bandwidth = check_bandwidth(bandwidth)
    if bandwidth > grid.bandwidth:
        raise ValueError(
            f"expected bandwidth <= the grid's bandwidth {grid.bandwidth} for {grid!r}, "
            f"got {bandwidth}; use a finer grid or a lower bandwidth"
        )
    return bandwidth


@functools.lru_cache(maxsize=16)
def _legendre_table(grid: ProductGrid, bandwidth: int) -> torch.Tensor:
    """``Pbar_l^m(theta_j)`` as ``(m, l, ring)``, float64; cached per (grid, bandwidth)."""
    logger.debug("building the Legendre table for %r at bandwidth %d", grid, bandwidth)
    legendre = normalized_legendre(bandwidth, grid.theta)  # (ring, l, m)
    return legendre.permute(2, 1, 0).contiguous()


def _flat_gather(bandwidth: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each flat coefficient: its order ``|m|``, real/imaginary part, degree and scale."""
    degrees = torch.cat([torch.full((2 * l + 1,), l) for l in range(bandwidth)])
    orders = torch.cat([torch.arange(-l, l + 1) for l in range(bandwidth)])
    part = (orders < 0).long()  # 0: real part, 1: imaginary part
    scale = torch.full(orders.shape, math.sqrt(2.0), dtype=torch.float64)
    scale[orders < 0] = -math.sqrt(2.0)
    scale[orders == 0] = 1.0
    return orders.abs(), part, degrees, scale


class SphericalHarmonicTransform(torch.nn.Module):
    """Real spherical harmonic analysis on an equiangular or Gauss-Legendre grid.

    Parameters
    ----------
    grid : EquiangularGrid or GaussLegendreGrid
        The sampling grid of the input signals.
    bandwidth : int, optional
        Coefficients for degrees ``l < bandwidth``; at most (and by default)
        ``grid.bandwidth``.

    Notes
    -----
    ``forward(signal)``: ``signal`` of shape ``(..., n_theta, n_phi)``, float32 or
    float64, any device; returns coefficients ``(..., bandwidth^2)`` of the same
    dtype. Exact (to rounding) for signals band-limited to the grid's bandwidth;
    differentiable. The Legendre table is a non-persistent float64 buffer, cast
    to the signal's dtype on the fly.

    Conventions: real harmonics, coefficient layout ``l^2 + l + m`` (docs/conventions.md).

    Examples
    --------
    >>> from equisphere.sphere import EquiangularGrid
    >>> grid = EquiangularGrid(4)
    >>> sht = SphericalHarmonicTransform(grid)
    >>> coeffs = sht(torch.ones(grid.shape, dtype=torch.float64))
    >>> round(float(coeffs[0]), 12) == round(math.sqrt(4 * math.pi), 12)
    True
    """

    def __init__(self, grid: ProductGrid, bandwidth: int | None = None) -> None:
        super().__init__()
        self.bandwidth = _check_grid(grid, bandwidth)
        self.grid = grid
        n_phi = grid.shape[1]
        ring_weights = grid.weights[:, 0]  # includes the 2 pi / n_phi longitude step
        table = _legendre_table(grid, self.bandwidth) * ring_weights  # (m, l, ring)
        self.register_buffer("weighted_legendre", table, False)
        # Row of each flat coefficient in the (m, l, re/im) product, and its scale.
        order, part, degree, scale = _flat_gather(self.bandwidth)
        self.register_buffer("_row", (order * self.bandwidth + degree) * 2 + part, False)
        self.register_buffer("_scale", scale, False)
        self.n_phi = n_phi

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """Coefficients ``(..., bandwidth^2)`` of ``signal`` ``(..., n_theta, n_phi)``."""
        check_tensor(signal, "signal", self.grid.shape, f"on {self.grid!r}")

        signal, leading = flatten_batch(signal, 2)
        batch, n_theta = signal.shape[0], signal.shape[1]
        b = self.bandwidth
        table = self.weighted_legendre.to(signal.dtype)  # (m, l, ring)

        modes = torch.fft.rfft(signal, dim=-1)[..., :b]  # (batch, ring, m), e^{-i m phi}
        modes = torch.view_as_real(modes).permute(2, 1, 3, 0)  # (m, ring, re/im, batch)
        projected = torch.bmm(table, modes.reshape(b, n_theta, 2 * batch))  # (m, l, re/im * batch)
        rows = projected.view(b * b * 2, batch).index_select(0, self._row)  # (B^2, batch)
        coeffs = rows.mul_(self._scale.to(signal.dtype)[:, None]).T.contiguous()
        return coeffs.reshape(leading + (b * b,))

    def extra_repr(self) -> str:
        return f"grid={self.grid!r}, bandwidth={self.bandwidth}"


class InverseSphericalHarmonicTransform(torch.nn.Module):
    """Real spherical harmonic synthesis onto an equiangular or Gauss-Legendre grid.

    Parameters
    ----------
    grid : EquiangularGrid or GaussLegendreGrid
        The grid to synthesise on.
    bandwidth : int, optional
        Degrees ``l < bandwidth`` of the input coefficients; at most (and by
        default) ``grid.bandwidth``.

    Notes
    -----
    ``forward(coeffs)``: ``coeffs`` of shape ``(..., bandwidth^2)``; returns the
    signal ``(..., n_theta, n_phi)`` with ``f = sum_lm c_lm Y_lm`` at the grid points.

    Conventions: real harmonics, coefficient layout ``l^2 + l + m`` (docs/conventions.md).

    Examples
    --------
    >>> from equisphere.sphere import GaussLegendreGrid
    >>> isht = InverseSphericalHarmonicTransform(GaussLegendreGrid(3))
    >>> coeffs = torch.zeros(9, dtype=torch.float64)
    >>> coeffs[0] = math.sqrt(4 * math.pi)
    >>> bool(torch.allclose(isht(coeffs), torch.ones(3, 6, dtype=torch.float64)))
    True
    """

    def __init__(self, grid: ProductGrid, bandwidth: int | None = None) -> None:
        super().__init__()
        self.bandwidth = _check_grid(grid, bandwidth)
        self.grid = grid
        self.n_phi = grid.shape[1]
        table = _legendre_table(grid, self.bandwidth)  # (m, l, ring)
        self.register_buffer("legendre", table.transpose(1, 2).contiguous(), False)
        # Source of each (m, l, re/im) entry in the flat coefficients, and its scale
        # (0 where l < m): X_{ml} = (c_{l,m} - i c_{l,-m}) / sqrt(2), X_{0l} = c_{l,0}.
        b = self.bandwidth
        source = torch.zeros((b, b, 2), dtype=torch.long)
        scale = torch.zeros((b, b, 2), dtype=torch.float64)
        order, part, degree, flat_scale = _flat_gather(b)
        source[order, degree, part] = torch.arange(b * b)
        scale[order, degree, part] = 1 / flat_scale
        self.register_buffer("_source", source.flatten(), False)
        self.register_buffer("_scale", scale.flatten(), False)

    def forward(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Signal ``(..., n_theta, n_phi)`` of ``coeffs`` ``(..., bandwidth^2)``."""
        b = self.bandwidth
        check_tensor(coeffs, "coeffs", (b * b,), f"(bandwidth {b}: B^2 = {b * b})")

        coeffs, leading = flatten_batch(coeffs, 1)
        batch = coeffs.shape[0]
        table = self.legendre.to(coeffs.dtype)  # (m, ring, l)

        # Row gathers from a contiguous (B^2, batch) copy are far faster than from the
        # transposed view; the result is already laid out as (m, l, re/im * batch).
        spectral = coeffs.T.contiguous().index_select(0, self._source)
        spectral = spectral.mul_(self._scale.to(coeffs.dtype)[:, None])
        rings = torch.bmm(table, spectral.view(b, b, 2 * batch))  # (m, ring, re/im * batch)
        n_theta = rings.shape[1]

        # Write the modes straight into the n_phi / 2 + 1 long array irfft wants: no padding pass.
        modes = rings.new_empty(batch, n_theta, self.n_phi // 2 + 1, 2)
        modes[:, :, b:].zero_()
        modes[:, :, :b].copy_(rings.view(b, n_theta, 2, batch).permute(3, 1, 0, 2))
        modes = torch.view_as_complex(modes)  # (batch, ring, m)
        signal = torch.fft.irfft(modes, n=self.n_phi, dim=-1, norm="forward")
        return signal.reshape(leading + (n_theta, self.n_phi))

    def extra_repr(self) -> str:
        return f"grid={self.grid!r}, bandwidth={self.bandwidth}"
