"""Per-degree products of spectral coefficients: the arithmetic inside every convolution.

Layouts (docs/conventions.md): spherical harmonic coefficients ``(..., B^2)``
with ``(l, m)`` at ``l^2 + l + m``; SO(3) coefficients ``(..., K)`` with
``K = B (4 B^2 - 1) / 3`` and the ``(2l+1) x (2l+1)`` block ``[m, n]`` of degree
``l`` at offset ``l (4 l^2 - 1) / 3``, row-major.

Symbols: ``N`` batch, ``I`` input channels, ``O`` output channels, ``K`` SO(3)
coefficients, ``J`` spherical coefficients.
"""

from __future__ import annotations

import torch

__all__ = [
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
