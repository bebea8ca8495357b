"""SO(3) -> SO(3) group convolution.

Maths (docs/conventions.md, "Group convolutions"): for an input ``f`` and a
filter ``psi`` on SO(3),

    (f * psi)(R) = int_SO(3) f(Q) psi(R^-1 Q) dQ,
    out^l = 8 pi^2 / (2l + 1) fhat^l (psihat^l)^T,

with ``fhat``, ``psihat`` the real SO(3) Fourier coefficients (one matrix per
degree), summed over input channels. A local filter
``psi = sum_k w_k delta_{Q_k}`` gives ``(f * psi)(R) = sum_k w_k f(R Q_k)``,
so ``out^l = fhat^l (sum_k w_k D^l(Q_k))^T``. Left translation of the input,
``f(Q^-1 R)``, left-translates the output in the same way: in coefficients
both pick up ``D^l(Q)`` on the left.

Pipeline: SO(3) Fourier transform up to ``bandwidth_out`` -> per-degree matrix
products with the filter matrices -> inverse SO(3) Fourier transform on
``SO3Grid(bandwidth_out)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from equisphere.harmonics import InverseSO3FourierTransform, SO3FourierTransform
from equisphere.nn._checks import check_positive_int, check_signal
from equisphere.nn._filters import FilterKind, check_filter_kind, so3_kernel_basis
from equisphere.nn._kernel_grids import so3_near_identity_grid
from equisphere.nn._spectral import (
    add_constant,
    blockwise,
    so3_count,
    so3_index_tables,
    so3_to_so3_product,
)
from equisphere.so3.grid import SO3Grid

__all__ = ["SO3Convolution"]


class SO3Convolution(nn.Module):
    """Group convolution from SO(3) to SO(3) with learnable filters.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``.
    bandwidth_in, bandwidth_out : int
        The input lives on ``SO3Grid(bandwidth_in)``, the output on
        ``SO3Grid(bandwidth_out)``. ``bandwidth_out`` may exceed
        ``bandwidth_in`` (the missing degrees are zero).
    kernel_grid : torch.Tensor, shape (n_points, 3), optional
        ZYZ Euler angles of the local filter's rotations; default
        :func:`~equisphere.nn.so3_near_identity_grid` (72 rotations).
    filter : {"local", "spectral"}
        ``"local"``: ``weight`` (C_in, C_out, n_points) are the point masses on
        the kernel grid. ``"spectral"``: ``weight`` (C_in, C_out, K) are the
        filter's real SO(3) Fourier coefficients ``psihat`` (conventions'
        layout, ``K = B_out (4 B_out^2 - 1) / 3``).
    bias : bool
        Add a learnable constant per output channel.

    Shapes
    ------
    input ``(N, C_in, 2B_in, 2B_in, 2B_in)``; output
    ``(N, C_out, 2B_out, 2B_out, 2B_out)``, both in (beta, alpha, gamma) order.

    Notes
    -----
    Initialisation keeps the mean square: local weights have standard
    deviation ``1 / sqrt(C_in n_points)``; spectral ones
    ``sqrt(2l + 1) / (8 pi^2 sqrt(C_in))`` in degree ``l``.

    Examples
    --------
    >>> layer = SO3Convolution(20, 40, bandwidth_in=10, bandwidth_out=6)
    >>> layer(torch.randn(2, 20, 20, 20, 20)).shape
    torch.Size([2, 40, 12, 12, 12])
    >>> sum(p.numel() for p in layer.parameters())  # 20 * 40 * 72 weights + 40 biases
    57640
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bandwidth_in: int,
        bandwidth_out: int,
        *,
        kernel_grid: torch.Tensor | None = None,
        filter: FilterKind = "local",
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.bandwidth_in = check_positive_int(bandwidth_in, "bandwidth_in")
        self.bandwidth_out = check_positive_int(bandwidth_out, "bandwidth_out")
        self.filter = check_filter_kind(filter)
        self.grid = SO3Grid(bandwidth_in)
        self.output_grid = SO3Grid(bandwidth_out)

        analysed = min(bandwidth_in, bandwidth_out)
        self.analysis = SO3FourierTransform(bandwidth_in, bandwidth=analysed)
        self.synthesis = InverseSO3FourierTransform(bandwidth_out)
        self._padding = so3_count(bandwidth_out) - so3_count(analysed)
        self._analysed_size = so3_count(analysed)
        self._output_size = math.prod(self.output_grid.shape)

        if self.filter == "local":
            kernel_grid = so3_near_identity_grid() if kernel_grid is None else kernel_grid
            basis = so3_kernel_basis(bandwidth_out, kernel_grid)  # (n_points, K)
            self.register_buffer("kernel_basis", basis, persistent=False)
            self.weight = nn.Parameter(torch.empty(in_channels, out_channels, basis.shape[0]))
            std = torch.full((basis.shape[0],), 1.0 / math.sqrt(in_channels * basis.shape[0]))
        else:
            if kernel_grid is not None:
                raise ValueError("kernel_grid only applies to filter='local'; leave it out")
            self.kernel_basis = None
            degree = so3_index_tables(bandwidth_out)[0].double()  # (K,)
            # Filter matrices are P^l = 8 pi^2 / (2l + 1) psihat^l.
            self.register_buffer("_scale", 8 * math.pi**2 / (2 * degree + 1), persistent=False)
            self.weight = nn.Parameter(torch.empty(in_channels, out_channels, degree.numel()))
            std = torch.sqrt(2 * degree + 1) / (8 * math.pi**2 * math.sqrt(in_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        with torch.no_grad():
            self.weight.copy_(torch.randn(self.weight.shape, dtype=torch.float64) * std)

    def filter_matrices(self) -> torch.Tensor:
        """The matrices ``P^l`` with ``out^l = sum_i fhat^l[i] (P^l[i, o])^T``; (C_in, C_out, K)."""
        if self.kernel_basis is None:
            return self.weight * self._scale.to(self.weight.dtype)
        return self.weight @ self.kernel_basis.to(self.weight.dtype)  # (I, O, K)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """Convolve ``(N, C_in, 2B_in, 2B_in, 2B_in)`` into ``(N, C_out, *output_grid.shape)``."""
        check_signal(signal, self.grid, self.in_channels, "SO3Convolution")

        coeffs = blockwise(self.analysis, signal, 3, self._analysed_size)  # (N, I, K_in)
        if self._padding:
            coeffs = F.pad(coeffs, (0, self._padding))
        filters = self.filter_matrices().to(coeffs.dtype)
        output_coeffs = so3_to_so3_product(coeffs, filters, self.bandwidth_out)  # (N, O, K)
        if self.bias is not None:
            output_coeffs = add_constant(output_coeffs, self.bias, 1.0)  # D^0 = 1
        return blockwise(self.synthesis, output_coeffs, 1, self._output_size)  # (N, O, 2B, 2B, 2B)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, bandwidth {self.bandwidth_in} -> "
            f"{self.bandwidth_out}, filter={self.filter!r}"
        )
