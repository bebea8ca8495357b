"""Per-degree products of spectral coefficients: the arithmetic inside every convolution.

Layouts (docs/conventions.md): spherical harmonic coefficients ``(..., B^2)``
with ``(l, m)`` at ``l^2 + l + m``; SO(3) coefficients ``(..., K)`` with
``K = B (4 B^2 - 1) / 3`` and the ``(2l+1) x (2l+1)`` block ``[m, n]`` of degree
``l`` at offset ``l (4 l^2 - 1) / 3``, row-major.

Symbols: ``N`` batch, ``I`` input channels, ``O`` output channels, ``K`` SO(3)
coefficients, ``J`` spherical coefficients.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = [
    "add_constant",
    "blockwise",
    "degree_of_sh_index",
    "so3_block_offset",
    "so3_count",
    "so3_index_tables",
    "s2_to_so3_product",
    "so3_to_so3_product",
    "so3_to_s2_product",
]


def so3_count(bandwidth: int) -> int:
    """Number of SO(3) coefficients of degree below ``bandwidth``: ``B (4 B^2 - 1) / 3``."""
    return bandwidth * (4 * bandwidth * bandwidth - 1) // 3


def so3_block_offset(degree: int) -> int:
    """Flat offset of the degree-``l`` block: ``l (4 l^2 - 1) / 3``."""
    return so3_count(degree)


def degree_of_sh_index(bandwidth: int) -> torch.Tensor:
    """Degree ``l`` of every flat spherical index ``l^2 + l + m``; shape (B^2,), int64."""
    return torch.repeat_interleave(torch.arange(bandwidth), 2 * torch.arange(bandwidth) + 1)


def so3_index_tables(bandwidth: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For every flat SO(3) index: its degree, and the spherical indices of its row and column.

    Returns
    -------
    degree, row, column : torch.Tensor, each of shape (K,), int64
        ``degree[k] = l``, ``row[k] = l^2 + l + m`` and ``column[k] = l^2 + l + n``
        for the entry ``[m, n]`` of block ``l`` at flat index ``k``.
    """
    degrees, rows, columns = [], [], []
    for degree in range(bandwidth):
        size = 2 * degree + 1
        start = degree * degree
        m, n = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        degrees.append(torch.full((size * size,), degree))
        rows.append(start + m.flatten())
        columns.append(start + n.flatten())
    return torch.cat(degrees), torch.cat(rows), torch.cat(columns)


def s2_to_so3_product(
    coeffs: torch.Tensor, filter_coeffs: torch.Tensor, row: torch.Tensor, column: torch.Tensor
) -> torch.Tensor:
    """``out^l_{mn} = sum_i c^l_m[i] p^l_n[i, o]``: the S2 convolution in coefficients.

    Parameters
    ----------
    coeffs : torch.Tensor, shape (N, I, J)
        Spherical coefficients of the input.
    filter_coeffs : torch.Tensor, shape (I, O, J)
        Spherical coefficients of the filters.
    row, column : torch.Tensor, shape (K,)
        From :func:`so3_index_tables`.

    Returns
    -------
    torch.Tensor, shape (N, O, K)
    """
    signal_rows = coeffs[..., row]  # (N, I, K)
    filter_columns = filter_coeffs[..., column]  # (I, O, K)
    if coeffs.shape[1] == 1:
        return signal_rows * filter_columns[0]  # one input channel: a broadcast product
    return torch.einsum("nik,iok->nok", signal_rows, filter_columns)


def so3_to_so3_product(
    coeffs: torch.Tensor, filter_matrices: torch.Tensor, bandwidth: int
) -> torch.Tensor:
    """``out^l = sum_i f^l[i] (P^l[i, o])^T`` for every degree: the SO(3) convolution.

    Parameters
    ----------
    coeffs : torch.Tensor, shape (N, I, K)
    filter_matrices : torch.Tensor, shape (I, O, K)
        The per-degree matrices ``P^l`` in the SO(3) coefficient layout.
    bandwidth : int
        ``K = so3_count(bandwidth)``.

    Returns
    -------
    torch.Tensor, shape (N, O, K)
    """
    batch, in_channels = coeffs.shape[:2]
    out_channels = filter_matrices.shape[1]
    blocks = []
    for degree in range(bandwidth):
        size = 2 * degree + 1
        start = so3_block_offset(degree)
        stop = start + size * size
        # Input rows (n, m) x (i, k); filter (i, k) x (o, a); sum over input channel i and k.
        signal = coeffs[..., start:stop].reshape(batch, in_channels, size, size)
        signal = signal.permute(0, 2, 1, 3).reshape(batch * size, in_channels * size)
        kernel = filter_matrices[..., start:stop].reshape(in_channels, out_channels, size, size)
        kernel = kernel.permute(0, 3, 1, 2).reshape(in_channels * size, out_channels * size)
        product = (signal @ kernel).reshape(batch, size, out_channels, size)  # (N, m, O, a)
        blocks.append(product.permute(0, 2, 1, 3).reshape(batch, out_channels, size * size))
    return torch.cat(blocks, dim=-1)


def so3_to_s2_product(
    coeffs: torch.Tensor, filter_coeffs: torch.Tensor, bandwidth: int
) -> torch.Tensor:
    """``out_{lm}[o] = sum_{i,n} f^l_{mn}[i] p_{ln}[i, o]``: SO(3) to sphere in coefficients.

    Parameters
    ----------
    coeffs : torch.Tensor, shape (N, I, K)
    filter_coeffs : torch.Tensor, shape (I, O, J)
    bandwidth : int

    Returns
    -------
    torch.Tensor, shape (N, O, J)
    """
    batch, in_channels = coeffs.shape[:2]
    out_channels = filter_coeffs.shape[1]
    blocks = []
    for degree in range(bandwidth):
        size = 2 * degree + 1
        start = so3_block_offset(degree)
        signal = coeffs[..., start : start + size * size].reshape(batch, in_channels, size, size)
        signal = signal.permute(0, 2, 1, 3).reshape(batch * size, in_channels * size)
        kernel = filter_coeffs[..., degree * degree : degree * degree + size]  # (I, O, n)
        kernel = kernel.permute(0, 2, 1).reshape(in_channels * size, out_channels)
        product = (signal @ kernel).reshape(batch, size, out_channels)  # (N, m, O)
        blocks.append(product.transpose(1, 2))
    return torch.cat(blocks, dim=-1)


def add_constant(coeffs: torch.Tensor, constant: torch.Tensor, degree_zero: float) -> torch.Tensor:
    """Coefficients of the signal plus ``constant[o]`` on every grid point, channel ``o``.

    A constant is degree 0 only: it adds ``constant / degree_zero`` to the first
    coefficient, where ``degree_zero`` is the value of the degree-0 basis function
    (1 for ``D^0`` on SO(3), ``1 / sqrt(4 pi)`` for ``Y_00``; pass its inverse,
    ``sqrt(4 pi)``, as the factor). Cheaper than adding on the grid.

    Parameters
    ----------
    coeffs : torch.Tensor, shape (N, O, K)
    constant : torch.Tensor, shape (O,)
    degree_zero : float
        Multiplier from the constant to its degree-0 coefficient.
    """
    shift = constant.to(coeffs.dtype)[:, None] * degree_zero  # (O, 1)
    return coeffs + F.pad(shift, (0, coeffs.shape[-1] - 1))  # broadcast over N


def _map_blocks(
    transform: Callable[[torch.Tensor], torch.Tensor], flat: torch.Tensor, rows: int
) -> torch.Tensor:
    """``transform(flat)`` computed on ``rows`` leading entries at a time, without autograd."""
    with torch.no_grad():
        blocks = flat.split(rows)
        first = transform(blocks[0])
        output = first.new_empty((flat.shape[0],) + first.shape[1:])
        output[: first.shape[0]] = first
        for index, block in enumerate(blocks[1:], start=1):
            output[index * rows : index * rows + block.shape[0]] = transform(block)
    return output


class _Adjoint:
    """The adjoint (transpose) of a linear ``transform`` on rows of shape ``in_trailing``.

    ``adjoint(y) = J^T y`` with ``J`` the transform's matrix: the vector-Jacobian
    product, which does not depend on the point it is taken at, so it is taken
    at zero. The graph of ``transform(zeros)`` is built once per block shape and
    kept for the later blocks (one block's temporaries) until :meth:`clear`.
    """

    def __init__(
        self, transform: Callable[[torch.Tensor], torch.Tensor], in_trailing: tuple[int, ...]
    ) -> None:
        self.transform, self.in_trailing = transform, in_trailing
        self._graphs: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, grad_output: torch.Tensor) -> torch.Tensor:
        key = (grad_output.shape[0], grad_output.dtype, grad_output.device)
        with torch.enable_grad():
            if key not in self._graphs:
                probe = grad_output.new_zeros((grad_output.shape[0],) + self.in_trailing)
                probe.requires_grad_(True)
                self._graphs[key] = (probe, self.transform(probe))
            probe, output = self._graphs[key]
            (grad_input,) = torch.autograd.grad(
                output,
                probe,
                grad_output,
                retain_graph=True,
                allow_unused=True,
                materialize_grads=True,
            )
        return grad_input

    def clear(self) -> None:
        """Drop the kept graphs (they are rebuilt if needed again)."""
        self._graphs.clear()


class _BlockwiseLinear(torch.autograd.Function):
    """A linear map applied block by block, with nothing saved for backward.

    The map being linear, its backward is its adjoint, applied block by block
    through this same function (with the roles of map and adjoint swapped), so
    second derivatives are right too.
    """

    @staticmethod
    def forward(ctx, flat, transform, adjoint, rows):  # noqa: ANN001, ANN205 (autograd signature)
        ctx.transform, ctx.adjoint, ctx.rows = transform, adjoint, rows
        return _map_blocks(transform, flat, rows)

    @staticmethod
    def backward(ctx, grad_output):  # noqa: ANN001, ANN205
        grad_input = _BlockwiseLinear.apply(grad_output, ctx.adjoint, ctx.transform, ctx.rows)
        if isinstance(ctx.adjoint, _Adjoint):
            ctx.adjoint.clear()  # free this layer's block graph before the next layer's backward
        return grad_input, None, None, None


def blockwise(
    transform: Callable[[torch.Tensor], torch.Tensor],
    tensor: torch.Tensor,
    trailing: int,
    out_row_elements: int,
    block_elements: int = 1 << 20,
) -> torch.Tensor:
    """``transform(tensor)`` for a linear ``transform``, on blocks of the leading entries.

    The harmonic transforms build several temporary tensors as large as their
    input or output; on blocks of about ``block_elements`` numbers (4 MiB in
    float32) those stay small and cache-resident, and the result is the same.
    Nothing is saved for backward: the map being linear, its gradient is its
    adjoint, applied block by block in the same way (and differentiable again,
    so second derivatives are right). Neither pass holds more than one block's
    temporaries; docs/equivariance.md has the measured effect on the S2CNN.

    Parameters
    ----------
    transform : callable
        A linear map from ``(M, *tensor.shape[-trailing:])`` to ``(M, *out_trailing)``
        (a harmonic transform); the backward pass relies on the linearity.
    tensor : torch.Tensor, shape (..., *trailing dims)
    trailing : int
        Number of trailing dimensions the transform consumes.
    out_row_elements : int
        Number of elements of ``out_trailing``.
    block_elements : int
        Target size of one block's input or output, whichever is larger.

    Returns
    -------
    torch.Tensor, shape (..., *out_trailing)
    """
    leading = tensor.shape[: tensor.ndim - trailing]
    flat = tensor.reshape((-1,) + tuple(tensor.shape[tensor.ndim - trailing :]))
    in_row_elements = math.prod(flat.shape[1:])
    rows = max(1, block_elements // max(in_row_elements, out_row_elements, 1))
    if flat.shape[0] <= rows:
        result = transform(flat)  # one block: plain autograd
    else:
        adjoint = _Adjoint(transform, tuple(flat.shape[1:]))
        result = _BlockwiseLinear.apply(flat, transform, adjoint, rows)
    return result.reshape(leading + result.shape[1:])
