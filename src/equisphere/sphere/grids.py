"""Sampling grids on the unit sphere with their quadrature weights.

Conventions (docs/conventions.md): colatitude ``theta`` from +z, longitude
``phi`` from +x towards +y, radians. Signals on a product grid have layout
``(..., n_theta, n_phi)`` with row 0 nearest the north pole; on HEALPix
``(..., n_pixels)``. Weights are quadrature weights: ``sum(w * f)``
approximates ``int_S2 f dA`` (exactly, on the equiangular and Gauss-Legendre
grids, for signals whose degree is below ``2B`` in total).
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from equisphere.quadrature import (
    check_bandwidth,
    driscoll_healy_nodes,
    driscoll_healy_weights,
    gauss_legendre_nodes,
)

__all__ = ["EquiangularGrid", "GaussLegendreGrid", "HealpixGrid", "SphereGrid", "make_grid"]


def unit_vectors(colatitude: torch.Tensor, longitude: torch.Tensor) -> torch.Tensor:
    """``(sin t cos p, sin t sin p, cos t)``; shape ``broadcast(t, p).shape + (3,)``."""
    colatitude, longitude = torch.broadcast_tensors(colatitude, longitude)
    sin_t = torch.sin(colatitude)
    return torch.stack(
        [sin_t * torch.cos(longitude), sin_t * torch.sin(longitude), torch.cos(colatitude)], dim=-1
    )


def angles_from_vectors(vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Colatitude in ``[0, pi]`` and longitude in ``(-pi, pi]`` of vectors (any length)."""
    x, y, z = vectors.unbind(-1)
    return torch.atan2(torch.hypot(x, y), z), torch.atan2(y, x)


class SphereGrid:
    """A set of points on the sphere with quadrature weights.

    Attributes
    ----------
    shape : tuple of int
        Trailing shape of a signal on this grid.
    colatitude, longitude : torch.Tensor, shape ``shape``, float64, radians
    weights : torch.Tensor, shape ``shape``, float64
        Quadrature weights; they sum to 4 pi.
    """

    shape: tuple[int, ...]
    colatitude: torch.Tensor
    longitude: torch.Tensor
    weights: torch.Tensor

    def vectors(self) -> torch.Tensor:
        """Unit vectors of the grid points, shape ``shape + (3,)``, float64."""
        return unit_vectors(self.colatitude, self.longitude)

    def check_signal(self, signal: torch.Tensor, name: str = "signal") -> torch.Tensor:
        """Raise ``ValueError`` unless ``signal`` ends with this grid's shape and is finite."""
        if not isinstance(signal, torch.Tensor):
            raise TypeError(f"expected {name} to be a torch.Tensor, got {type(signal).__name__}")
        ndim = len(self.shape)
        if signal.ndim < ndim or tuple(signal.shape[-ndim:]) != self.shape:
            raise ValueError(
                f"expected {name} of shape (..., {', '.join(map(str, self.shape))}) on {self!r}, "
                f"got shape {tuple(signal.shape)}"
            )
        if signal.is_floating_point() and not torch.isfinite(signal).all():
            raise ValueError(f"expected {name} to be finite, got NaN or infinite values")
        return signal

    def integrate(self, signal: torch.Tensor) -> torch.Tensor:
        """Quadrature of ``signal`` (shape ``(..., *shape)``) over the sphere; shape ``(...)``."""
        self.check_signal(signal)
        weights = self.weights.to(dtype=signal.dtype, device=signal.device)
        dims = tuple(range(-len(self.shape), 0))
        return (signal * weights).sum(dim=dims)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


class _ProductGrid(SphereGrid):
    """A grid that is the product of colatitude rings and equispaced longitudes."""

    theta: torch.Tensor
    phi: torch.Tensor

    def __init__(self, theta: torch.Tensor, ring_weights: torch.Tensor, n_phi: int) -> None:
        self.theta = theta
        self.phi = 2 * math.pi * torch.arange(n_phi, dtype=torch.float64) / n_phi
        self.shape = (theta.numel(), n_phi)
        self.colatitude, self.longitude = torch.meshgrid(self.theta, self.phi, indexing="ij")
        self.weights = (ring_weights * (2 * math.pi / n_phi))[:, None].expand(self.shape).clone()


class EquiangularGrid(_ProductGrid):
    """Driscoll-Healy / SOFT grid for bandwidth ``B``: ``2B x 2B`` points.

    ``theta_j = pi (2j + 1) / (4B)``, ``phi_k = 2 pi k / (2B)``, with the exact
    Driscoll-Healy weights.

    Examples
    --------
    >>> grid = EquiangularGrid(30)
    >>> grid.shape, round(float(grid.weights.sum()), 10) == round(4 * math.pi, 10)
    ((60, 60), True)
    """

    def __init__(self, bandwidth: int) -> None:
        self.bandwidth = check_bandwidth(bandwidth)
        super().__init__(
            driscoll_healy_nodes(self.bandwidth),
            driscoll_healy_weights(self.bandwidth),
            2 * self.bandwidth,
        )

    def __repr__(self) -> str:
        return f"EquiangularGrid(bandwidth={self.bandwidth})"


class GaussLegendreGrid(_ProductGrid):
    """Gauss-Legendre grid for bandwidth ``B``: ``B`` rings by ``2B`` longitudes.

    Rings at the Gauss-Legendre nodes in ``cos(theta)`` (north first); exact for
    products of two signals of bandwidth ``B``.
    """

    def __init__(self, bandwidth: int) -> None:
        self.bandwidth = check_bandwidth(bandwidth)
        theta, weights = gauss_legendre_nodes(self.bandwidth)
        super().__init__(theta, weights, 2 * self.bandwidth)

    def __repr__(self) -> str:
        return f"GaussLegendreGrid(bandwidth={self.bandwidth})"


class HealpixGrid(SphereGrid):
    """HEALPix pixel centres (through healpy), ``12 nside^2`` points of equal area.

    Parameters
    ----------
    nside : int
        A power of two.
    order : {"ring", "nested"}
        Pixel ordering.

    Notes
    -----
    The weights are the equal pixel areas ``4 pi / n_pixels``: HEALPix has no
    exact quadrature, so integrals of band-limited signals are approximate.
    """

    def __init__(self, nside: int, order: Literal["ring", "nested"] = "ring") -> None:
        import healpy  # imported here: only HEALPix users pay for it

        if (
            isinstance(nside, bool)
            or not isinstance(nside, int)
            or nside < 1
            or nside & (nside - 1)
        ):
            raise ValueError(f"expected nside to be a power of two (1, 2, 4, ...), got {nside!r}")
        if order not in ("ring", "nested"):
            raise ValueError(f"expected order 'ring' or 'nested', got {order!r}")
        self.nside, self.order = nside, order
        n_pixels = 12 * nside * nside
        theta, phi = healpy.pix2ang(nside, range(n_pixels), nest=order == "nested")
        self.shape = (n_pixels,)
        self.colatitude = torch.as_tensor(theta, dtype=torch.float64)
        self.longitude = torch.as_tensor(phi, dtype=torch.float64)
        self.weights = torch.full(self.shape, 4 * math.pi / n_pixels, dtype=torch.float64)

    def __repr__(self) -> str:
        return f"HealpixGrid(nside={self.nside}, order={self.order!r})"


def make_grid(kind: Literal["equiangular", "gauss-legendre", "healpix"], size: int) -> SphereGrid:
    """Grid by name: ``size`` is the bandwidth, or ``nside`` for HEALPix."""
    if kind == "equiangular":
        return EquiangularGrid(size)
    if kind == "gauss-legendre":
        return GaussLegendreGrid(size)
    if kind == "healpix":
        return HealpixGrid(size)
    raise ValueError(
        f"expected grid kind 'equiangular', 'gauss-legendre' or 'healpix', got {kind!r}"
    )
