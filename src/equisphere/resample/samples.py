"""Sub-samples of output cells: sphere-grid cells and image pixels.

Anti-aliasing is done by *supersampling*: an output cell averages the input at
``s_theta x s_phi`` (grid) or ``s x s`` (pixels) sub-samples spread over its area,
with area weights. This is a box filter of the cell's own size, so a grid
coarser than the image no longer aliases the image's fine detail; with one
sub-sample it is plain point sampling at the cell centre.

Grid cells: on a product grid, ring ``j`` spans colatitudes between the midpoints
of neighbouring rings (0 and pi at the ends) and longitudes ``phi_k +- pi/n_phi``;
sub-samples are weighted by ``sin(theta)``. On HEALPix, the sub-samples of a pixel
are its ``s^2`` children at ``nside s`` (``s`` a power of two), all of equal area.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch

from equisphere.resample.maps import Samples
from equisphere.sphere import HealpixGrid, SphereGrid, unit_vectors

__all__ = ["cell_sizes", "grid_cell_samples", "pixel_samples"]

_CHUNK = 1 << 19  # sub-samples per chunk: bounds the memory of a map build


def cell_sizes(grid: SphereGrid) -> tuple[torch.Tensor, torch.Tensor]:
    """Angular extents of the cells of each ring: ``(d_theta, d_phi * sin theta_max)``.

    For HEALPix both are the side of a square of the pixel's area, one value.
    """
    if isinstance(grid, HealpixGrid):
        side = torch.tensor([math.sqrt(4 * math.pi / grid.shape[0])], dtype=torch.float64)
        return side, side
    bounds = _ring_bounds(grid.theta.to(torch.float64))
    d_theta = bounds[1:] - bounds[:-1]
    sin_max = torch.maximum(torch.sin(bounds[1:]), torch.sin(bounds[:-1]))
    sin_max = torch.where((bounds[:-1] < math.pi / 2) & (bounds[1:] > math.pi / 2), 1.0, sin_max)
    return d_theta, (2 * math.pi / grid.phi.numel()) * sin_max


def _ring_bounds(theta: torch.Tensor) -> torch.Tensor:
    middle = (theta[1:] + theta[:-1]) / 2
    return torch.cat([torch.zeros(1, dtype=theta.dtype), middle, torch.full((1,), math.pi)])


def grid_cell_samples(
    grid: SphereGrid, counts: tuple[torch.Tensor, torch.Tensor]
) -> Iterator[Samples]:
    """Chunks of sub-samples of every grid cell, in the grid's flat order.

    Parameters
    ----------
    grid : SphereGrid
        A product grid or HEALPix.
    counts : (s_theta, s_phi), long tensors of shape (n_theta,) (product grids)
        or (1,) (HEALPix: ``s_theta = s_phi`` a power of two).
    """
    if isinstance(grid, HealpixGrid):
        yield from _healpix_samples(grid, int(counts[0][0]))
        return
    theta = grid.theta.to(torch.float64)
    n_theta, n_phi = theta.numel(), grid.phi.numel()
    bounds = _ring_bounds(theta)
    step = 2 * math.pi / n_phi
    phi = grid.phi.to(torch.float64)
    s_theta, s_phi = counts
    ring = 0
    while ring < n_theta:
        # Group consecutive rings with the same sub-sample counts into one chunk.
        st, sp = int(s_theta[ring]), int(s_phi[ring])
        last = ring + 1
        while (
            last < n_theta
            and int(s_theta[last]) == st
            and int(s_phi[last]) == sp
            and (last - ring + 1) * n_phi * st * sp <= _CHUNK
        ):
            last += 1
        rings = torch.arange(ring, last)
        if st == 1:
            sub_theta = theta[rings][:, None]  # (r, 1): the ring itself
        else:
            fractions = (torch.arange(st, dtype=torch.float64) + 0.5) / st
            lo, hi = bounds[rings][:, None], bounds[rings + 1][:, None]
            sub_theta = lo + (hi - lo) * fractions  # (r, st)
        offsets = (
            torch.zeros(1, dtype=torch.float64)
            if sp == 1
            else ((torch.arange(sp, dtype=torch.float64) + 0.5) / sp - 0.5) * step
        )
        sub_phi = phi[:, None] + offsets  # (n_phi, sp)
        # (r, n_phi, st, sp): all sub-samples of the cells of these rings.
        t = sub_theta[:, None, :, None].expand(-1, n_phi, -1, sp)
        p = sub_phi[None, :, None, :].expand(rings.numel(), -1, st, -1)
        weights = torch.sin(t).clamp_min(1e-300) if st > 1 else torch.ones_like(t)
        weights = weights.reshape(rings.numel() * n_phi, st * sp)
        weights = weights / weights.sum(dim=1, keepdim=True)
        directions = unit_vectors(t, p).reshape(rings.numel() * n_phi, st * sp, 3)
        rows = (rings[:, None] * n_phi + torch.arange(n_phi)).reshape(-1)
        yield Samples(rows, directions, weights)
        ring = last


def _healpix_samples(grid: HealpixGrid, s: int) -> Iterator[Samples]:
    import healpy

    n = grid.shape[0]
    if s == 1:
        yield Samples(
            torch.arange(n), grid.vectors()[:, None, :], torch.ones(n, 1, dtype=torch.float64)
        )
        return
    children = s * s
    per_chunk = max(1, _CHUNK // children)
    for start in range(0, n, per_chunk):
        pixels = np.arange(start, min(n, start + per_chunk))
        nested = pixels if grid.order == "nested" else healpy.ring2nest(grid.nside, pixels)
        child = nested[:, None] * children + np.arange(children)  # NESTED children at nside * s
        vectors = np.stack(healpy.pix2vec(grid.nside * s, child.reshape(-1), nest=True), axis=-1)
        directions = torch.from_numpy(vectors).reshape(len(pixels), children, 3)
        weights = torch.full((len(pixels), children), 1.0 / children, dtype=torch.float64)
        yield Samples(torch.from_numpy(pixels), directions, weights)


def pixel_samples(
    height: int,
    width: int,
    s: int,
    to_directions: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
) -> Iterator[Samples]:
    """Chunks of ``s x s`` sub-samples per pixel of an ``height x width`` image.

    ``to_directions`` maps pixel coordinates ``(M, 2)`` to unit directions ``(M, 3)``
    and a validity mask ``(M,)`` (e.g. a lens's ``unproject`` and a rotation).
    """
    offsets = (
        (torch.arange(s, dtype=torch.float64) + 0.5) / s - 0.5
        if s > 1
        else torch.zeros(1, dtype=torch.float64)
    )
    du, dv = torch.meshgrid(offsets, offsets, indexing="xy")
    du, dv = du.reshape(-1), dv.reshape(-1)  # (s*s,)
    rows_per_chunk = max(1, _CHUNK // (width * s * s))
    for top in range(0, height, rows_per_chunk):
        v, u = torch.meshgrid(
            torch.arange(top, min(height, top + rows_per_chunk), dtype=torch.float64),
            torch.arange(width, dtype=torch.float64),
            indexing="ij",
        )
        u, v = u.reshape(-1), v.reshape(-1)
        pixels = torch.stack([u[:, None] + du, v[:, None] + dv], dim=-1)  # (n, s*s, 2)
        directions, valid = to_directions(pixels.reshape(-1, 2))
        n = u.numel()
        rows = v.long() * width + u.long()
        weights = torch.full((n, s * s), 1.0 / (s * s), dtype=torch.float64)
        yield Samples(rows, directions.reshape(n, s * s, 3), weights, valid.reshape(n, s * s))
