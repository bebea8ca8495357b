"""Precomputed resampling maps: sparse linear operators from one raster to another.

A map is built once from *output samples* (each output cell or pixel is a few
sub-samples with weights, each sub-sample a direction) and a *lookup* (where a
direction falls in the input raster, as up to ``K`` input indices with
interpolation weights, and whether it falls there at all). The result is

- a sparse CSR matrix ``(n_out, n_in)`` whose rows average the valid sub-samples
  (rows are normalised over the covered part of the cell), and
- ``coverage`` ``(n_out,)``: the weighted fraction of each cell's sub-samples
  that were valid, in ``[0, 1]``.

Applying a map is one sparse-dense product. Nearest maps (for labels) keep one
input index per output and are applied by gathering, so integer labels stay
integers.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

__all__ = ["Lookup", "ResampleMap", "Samples", "build_linear_map", "build_nearest_map"]

logger = logging.getLogger(__name__)

_ROWS_FOR_MV = 16  # up to this many rows (batch x channels), apply row by row


@dataclass
class Samples:
    """A chunk of output samples.

    Attributes
    ----------
    rows : torch.Tensor, long, shape (n,)
        Flat output indices.
    directions : torch.Tensor, float64, shape (n, S, 3)
        Unit directions of the sub-samples (in the frame the lookup expects).
    weights : torch.Tensor, float64, shape (n, S)
        Sub-sample weights; each row sums to 1.
    valid : torch.Tensor, bool, shape (n, S), optional
        Sub-samples that exist on the output side (e.g. pixels the lens sees).
    """

    rows: torch.Tensor
    directions: torch.Tensor
    weights: torch.Tensor
    valid: torch.Tensor | None = None


# A lookup maps directions (M, 3) to input indices (M, K), weights (M, K), valid (M,).
Lookup = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


@dataclass
class ResampleMap:
    """A cached resampling operator from ``in_shape`` rasters to ``out_shape`` rasters.

    Attributes
    ----------
    in_shape, out_shape : tuple of int
        Trailing shapes of the input and output (e.g. ``(H, W)``, ``(2B, 2B)``).
    coverage : torch.Tensor, float64, shape ``out_shape``
        Covered fraction of each output cell, in ``[0, 1]``.
    matrix : torch.Tensor, sparse CSR float64 ``(n_out, n_in)``, or None for nearest maps
    index : torch.Tensor, long ``(n_out,)``, or None for linear maps
    """

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    coverage: torch.Tensor
    matrix: torch.Tensor | None = None
    index: torch.Tensor | None = None
    _converted: dict = field(default_factory=dict, repr=False)

    @property
    def kind(self) -> str:
        return "nearest" if self.index is not None else "linear"

    def _operator(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        key = (dtype, device)
        if key not in self._converted:
            if self.index is not None:
                self._converted[key] = self.index.to(device)
            else:
                self._converted[key] = self.matrix.to(dtype=dtype).to(device)
        return self._converted[key]

    def coverage_like(self, reference: torch.Tensor) -> torch.Tensor:
        """``coverage`` in the dtype (floating) and device of ``reference``."""
        dtype = reference.dtype if reference.is_floating_point() else torch.float32
        return self.coverage.to(dtype=dtype, device=reference.device)

    def apply(self, values: torch.Tensor, fill: float | int = 0) -> torch.Tensor:
        """Resample ``values`` of shape ``(..., *in_shape)`` to ``(..., *out_shape)``.

        Linear maps need a floating tensor and are differentiable; nearest maps
        take any dtype. Outputs with zero coverage are ``fill``.
        """
        n_dims = len(self.in_shape)
        if values.ndim < n_dims or tuple(values.shape[-n_dims:]) != self.in_shape:
            raise ValueError(
                f"expected values of shape (..., {', '.join(map(str, self.in_shape))}), "
                f"got {tuple(values.shape)}"
            )
        batch = values.shape[:-n_dims]
        flat = values.reshape(-1, _prod(self.in_shape))  # (batch, n_in)
        operator = self._operator(values.dtype, values.device)

        if self.index is not None:
            # Uncovered outputs hold index 0: always replace them by the fill value.
            out = flat[:, operator]  # (batch, n_out)
            covered = self.coverage.to(values.device).reshape(-1) > 0
            out = torch.where(covered, out, torch.as_tensor(fill, dtype=out.dtype))
        else:
            if not values.is_floating_point():
                raise TypeError(
                    f"expected floating values for a linear (bilinear/averaging) map, got "
                    f"{values.dtype}; use mode='nearest' for integer labels"
                )
            if flat.shape[0] <= _ROWS_FOR_MV:
                # Few rows (an image's channels): one sparse mat-vec each reads the image
                # in place, where a sparse mat-mat would first transpose it (a full copy).
                out = torch.stack([torch.mv(operator, row) for row in flat])  # (batch, n_out)
            else:
                out = (operator @ flat.T.contiguous()).T  # (n_out, batch) -> (batch, n_out)
            if fill != 0:
                covered = self.coverage.to(values.device).reshape(-1) > 0
                out = torch.where(covered, out, torch.as_tensor(fill, dtype=out.dtype))
        return out.reshape(*batch, *self.out_shape)


def _prod(shape: Iterable[int]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


def _coalesce_rows(cols: torch.Tensor, vals: torch.Tensor):
    """Merge repeated columns within each row of a dense ``(n, L)`` block of entries.

    Returns per-row counts ``(n,)`` and the merged columns and values (zeros
    dropped) in row-major order, columns increasing within a row.
    """
    n, length = cols.shape
    cols, order = cols.sort(dim=1)
    vals = vals.gather(1, order)
    first = torch.ones_like(cols, dtype=torch.bool)
    first[:, 1:] = cols[:, 1:] != cols[:, :-1]
    slot = first.cumsum(dim=1) - 1  # (n, L): index of each entry's merged column in its row
    merged_vals = torch.zeros_like(vals).scatter_add_(1, slot, vals)
    merged_cols = torch.zeros_like(cols).scatter_(1, slot, cols)
    keep = (torch.arange(length) < first.sum(dim=1, keepdim=True)) & (merged_vals != 0)
    return keep.sum(dim=1), merged_cols[keep], merged_vals[keep]


def build_linear_map(
    chunks: Iterable[Samples],
    lookup: Lookup,
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
) -> ResampleMap:
    """Assemble the averaging operator from sample chunks (rows in any order, each once)."""
    n_in, n_out = _prod(in_shape), _prod(out_shape)
    coverage = torch.zeros(n_out, dtype=torch.float64)
    counts = torch.zeros(n_out, dtype=torch.int64)
    parts = []
    for chunk in chunks:
        n, s = chunk.weights.shape
        index, weight, valid = lookup(chunk.directions.reshape(-1, 3))
        k = index.shape[-1]
        valid = valid.reshape(n, s)
        if chunk.valid is not None:
            valid = valid & chunk.valid
        sample_weight = chunk.weights * valid  # (n, S)
        covered = sample_weight.sum(dim=1)  # (n,)
        coverage[chunk.rows] = covered
        norm = torch.where(covered > 0, covered, 1.0)
        values = (sample_weight / norm[:, None])[..., None] * weight.reshape(n, s, k)  # (n, S, K)
        # Neighbouring sub-samples share input pixels: merge them row by row.
        row_counts, cols, vals = _coalesce_rows(index.reshape(n, s * k), values.reshape(n, s * k))
        counts[chunk.rows] = row_counts
        parts.append((chunk.rows, row_counts, cols, vals))

    # Place each chunk's rows at their offsets in the CSR arrays (no global sort).
    crow = torch.zeros(n_out + 1, dtype=torch.int64)
    crow[1:] = torch.cumsum(counts, dim=0)
    cols_all = torch.zeros(int(crow[-1]), dtype=torch.int64)
    vals_all = torch.zeros(int(crow[-1]), dtype=torch.float64)
    for rows, row_counts, cols, vals in parts:
        chunk_start = torch.cumsum(row_counts, dim=0) - row_counts  # (n,) offsets in the chunk
        shift = torch.repeat_interleave(crow[rows] - chunk_start, row_counts)
        destination = torch.arange(cols.numel()) + shift
        cols_all[destination] = cols
        vals_all[destination] = vals
    with warnings.catch_warnings():
        # torch warns that CSR support is "beta" on every construction; the product used is stable.
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        # 32-bit indices halve the index traffic of the product (and memory) when they fit.
        small = max(n_in, int(crow[-1])) < 2**31 - 1
        index_dtype = torch.int32 if small else torch.int64
        matrix = torch.sparse_csr_tensor(
            crow.to(index_dtype),
            cols_all.to(index_dtype),
            vals_all,
            size=(n_out, n_in),
            check_invariants=False,
        )
    logger.debug(
        "built linear map %s -> %s: %d non-zeros (%.1f per output), mean coverage %.3f",
        in_shape,
        out_shape,
        vals_all.numel(),
        vals_all.numel() / max(n_out, 1),
        float(coverage.mean()),
    )
    return ResampleMap(in_shape, out_shape, coverage.reshape(out_shape), matrix=matrix)


def build_nearest_map(
    chunks: Iterable[Samples],
    lookup: Lookup,
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
) -> ResampleMap:
    """One input index per output: the largest interpolation weight at the central sample."""
    n_out = _prod(out_shape)
    index = torch.zeros(n_out, dtype=torch.int64)
    coverage = torch.zeros(n_out, dtype=torch.float64)
    for chunk in chunks:
        n, s = chunk.weights.shape
        centre = s // 2  # nearest maps are built from one sub-sample per cell: its centre
        found, weight, valid = lookup(chunk.directions[:, centre])
        if chunk.valid is not None:
            valid = valid & chunk.valid[:, centre]
        best = weight.argmax(dim=-1, keepdim=True)
        index[chunk.rows] = found.gather(-1, best).squeeze(-1)
        coverage[chunk.rows] = valid.to(torch.float64)
    logger.debug(
        "built nearest map %s -> %s, coverage %.3f", in_shape, out_shape, float(coverage.mean())
    )
    return ResampleMap(in_shape, out_shape, coverage.reshape(out_shape), index=index)
