"""Sub-samples of output cells: sphere-grid cells and image pixels.

Anti-aliasing is done by *supersampling*: an output cell averages the input at
``s_theta x s_phi`` (grid) or ``s x s`` (pixels) sub-samples spread evenly over
it. This is a box filter of the cell's own size, so a grid coarser than the
image no longer aliases the image's fine detail; with one sub-sample it is
plain point sampling at the cell centre.

Grid cells: on a product grid, ring ``j`` spans colatitudes between the midpoints
of neighbouring rings (0 and pi at the ends) and longitudes ``phi_k +- pi/n_phi``.
Sub-samples have equal weights, so the filter is centred on the grid point in
``(theta, phi)``: area weights (``sin theta``) would pull the first ring's value
towards the equator by about a third of a ring spacing. On HEALPix, the
sub-samples of a pixel are its ``s^2`` children at ``nside s`` (``s`` a power of
two), all of equal area.
How many sub-samples each cell gets is decided per cell by a ``counts`` function,
which may also skip cells that cannot be seen (zero sub-samples: no coverage).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch

from equisphere.resample.maps import Samples
from equisphere.sphere import HealpixGrid, SphereGrid, unit_vectors

__all__ = ["Counts", "cell_sizes", "grid_cell_samples", "pixel_samples"]

_CHUNK = 1 << 19  # sub-samples per chunk: bounds the memory of a map build

# counts(centre directions (n, 3), d_theta (n,), d_arc (n,)) -> (s_theta, s_phi), long (n,);
# a zero count skips the cell.
Counts = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _ring_bounds(theta: torch.Tensor) -> torch.Tensor:
    middle = (theta[1:] + theta[:-1]) / 2
    return torch.cat([torch.zeros(1, dtype=theta.dtype), middle, torch.full((1,), math.pi)])


def cell_sizes(grid: SphereGrid) -> tuple[torch.Tensor, torch.Tensor]:
    """Angular extents of every cell, flat ``(n_cells,)``: ``d_theta`` and the widest
    longitude arc ``d_phi * max sin(theta)``; for HEALPix both are the side of a
    square of the pixel's area."""
    n_cells = math.prod(grid.shape)
    if isinstance(grid, HealpixGrid):
        side = torch.full((n_cells,), math.sqrt(4 * math.pi / n_cells), dtype=torch.float64)
        return side, side
    bounds = _ring_bounds(grid.theta.to(torch.float64))
    d_theta = bounds[1:] - bounds[:-1]
    sin_max = torch.maximum(torch.sin(bounds[1:]), torch.sin(bounds[:-1]))
    sin_max = torch.where((bounds[:-1] < math.pi / 2) & (bounds[1:] > math.pi / 2), 1.0, sin_max)
    d_arc = (2 * math.pi / grid.phi.numel()) * sin_max
    n_phi = grid.phi.numel()
    return d_theta.repeat_interleave(n_phi), d_arc.repeat_interleave(n_phi)


def grid_cell_samples(grid: SphereGrid, counts: Counts) -> Iterator[Samples]:
    """Chunks of sub-samples of the grid cells that ``counts`` keeps (flat cell order)."""
    centres = grid.vectors().reshape(-1, 3)
    d_theta, d_arc = cell_sizes(grid)
    s_theta, s_phi = counts(centres, d_theta, d_arc)
    if isinstance(grid, HealpixGrid):
        # Children at nside * s need s a power of two (and one s for both directions).
        s = torch.maximum(s_theta, s_phi)
        s = torch.where(s > 0, 2 ** torch.ceil(torch.log2(s.clamp_min(1).double())).long(), 0)
        s_theta = s_phi = s
    kept = torch.nonzero((s_theta > 0) & (s_phi > 0)).squeeze(1)
    pair = s_theta[kept] * 1024 + s_phi[kept]  # one integer per (s_theta, s_phi) pair
    for code in torch.unique(pair).tolist():
        st, sp = divmod(code, 1024)
        cells = kept[pair == code]
        per_chunk = max(1, _CHUNK // (st * sp))
        for start in range(0, cells.numel(), per_chunk):
            chunk = cells[start : start + per_chunk]
            if isinstance(grid, HealpixGrid):
                yield _healpix_samples(grid, chunk, st)
            else:
                yield _product_samples(grid, chunk, st, sp)


def _product_samples(grid: SphereGrid, cells: torch.Tensor, st: int, sp: int) -> Samples:
    theta, phi = grid.theta.to(torch.float64), grid.phi.to(torch.float64)
    n_phi = phi.numel()
    ring, column = cells // n_phi, cells % n_phi
    if st == 1:
        sub_theta = theta[ring][:, None]  # (n, 1): the ring itself
    else:
        bounds = _ring_bounds(theta)
        fractions = (torch.arange(st, dtype=torch.float64) + 0.5) / st
        lo, hi = bounds[ring][:, None], bounds[ring + 1][:, None]
        sub_theta = lo + (hi - lo) * fractions  # (n, st)
    step = 2 * math.pi / n_phi
    offsets = ((torch.arange(sp, dtype=torch.float64) + 0.5) / sp - 0.5) * step
    sub_phi = phi[column][:, None] + (offsets if sp > 1 else 0.0)  # (n, sp)
    t = sub_theta[:, :, None].expand(-1, -1, sp)  # (n, st, sp)
    p = sub_phi[:, None, :].expand(-1, st, -1)
    weights = torch.full((cells.numel(), st * sp), 1.0 / (st * sp), dtype=torch.float64)
    directions = unit_vectors(t, p).reshape(cells.numel(), st * sp, 3)
    return Samples(cells, directions, weights)


def _healpix_samples(grid: HealpixGrid, cells: torch.Tensor, s: int) -> Samples:
    import healpy

    if s == 1:
        directions = grid.vectors()[cells][:, None, :]
        return Samples(cells, directions, torch.ones(cells.numel(), 1, dtype=torch.float64))
    children = s * s
    pixels = cells.numpy()
    nested = pixels if grid.order == "nested" else healpy.ring2nest(grid.nside, pixels)
    child = nested[:, None] * children + np.arange(children)  # NESTED children at nside * s
    vectors = np.stack(healpy.pix2vec(grid.nside * s, child.reshape(-1), nest=True), axis=-1)
    directions = torch.from_numpy(vectors).reshape(len(pixels), children, 3)
    weights = torch.full((len(pixels), children), 1.0 / children, dtype=torch.float64)
    return Samples(cells, directions, weights)


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
    offsets = (torch.arange(s, dtype=torch.float64) + 0.5) / s - 0.5
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
