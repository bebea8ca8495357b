"""S2 -> SO(3) group convolution: a signal on the sphere becomes a signal on the rotations.

Maths (docs/conventions.md, "Group convolutions"): for an input ``f`` on the
sphere and a filter ``psi``,

    (f * psi)(R) = int_S2 f(x) psi(R^-1 x) dx,   fhat^l_{mn} = c_{lm} p_{ln},

with ``c`` the input's and ``p`` the filter's real spherical harmonic
coefficients, summed over input channels. A local filter
``psi = sum_k w_k delta_{x_k}`` gives ``(f * psi)(R) = sum_k w_k f(R x_k)``: the
output at ``R`` reads the (band-limited) input at the kernel points carried
by ``R``. Rotating the input by ``Q`` turns the output ``g(R)`` into
``g(Q^-1 R)``, exactly (to rounding) when the input is band-limited to the
input grid's bandwidth, since its analysis is then exact.

Pipeline: spherical harmonic transform up to ``bandwidth_out`` -> per-degree
outer products with the filter coefficients -> inverse SO(3) Fourier transform
on ``SO3Grid(bandwidth_out)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from equisphere.harmonics import InverseSO3FourierTransform, SphericalHarmonicTransform
from equisphere.nn._checks import check_grid, check_positive_int, check_signal
from equisphere.nn._filters import FilterKind, check_filter_kind, sphere_kernel_basis
from equisphere.nn._kernel_grids import s2_near_identity_grid
from equisphere.nn._spectral import (
    add_constant,
    blockwise,
    s2_to_so3_product,
    so3_index_tables,
)
from equisphere.so3.grid import SO3Grid
from equisphere.sphere.grids import EquiangularGrid, SphereGrid

__all__ = ["S2Convolution"]


class S2Convolution(nn.Module):
    """Group convolution from the sphere to SO(3) with learnable filters.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``.
    bandwidth_in : int
        Band limit of the input analysis; the input lives on
        ``EquiangularGrid(bandwidth_in)`` unless ``grid`` is given.
    bandwidth_out : int
        Band limit of the output; it lives on ``SO3Grid(bandwidth_out)``. May
        exceed ``bandwidth_in`` (the missing degrees are zero).
    kernel_grid : torch.Tensor, shape (n_points, 2), optional
        ``(colatitude, longitude)`` of the local filter's points, radians;
        default :func:`~equisphere.nn.s2_near_identity_grid` (24 points).
    filter : {"local", "spectral"}
        ``"local"``: ``weight`` (C_in, C_out, n_points) are the point masses of
        the filter on the kernel grid. ``"spectral"``: ``weight``
        (C_in, C_out, bandwidth_out^2) are the filter's real spherical harmonic
        coefficients ``p_{ln}`` themselves.
    grid : SphereGrid, optional
        Input grid (any grid the spherical harmonic transform accepts).
    bias : bool
        Add a learnable constant per output channel.

    Shapes
    ------
    input ``(N, C_in, n_theta, n_phi)`` (``(N, C_in, 2B_in, 2B_in)`` by default);
    output ``(N, C_out, 2B_out, 2B_out, 2B_out)`` in (beta, alpha, gamma) order.

    Notes
    -----
    Initialisation keeps the mean square: local weights have standard
    deviation ``1 / sqrt(C_in n_points)``, spectral ones ``1 / sqrt(4 pi C_in)``.

    Examples
    --------
    >>> layer = S2Convolution(1, 20, bandwidth_in=30, bandwidth_out=10)
    >>> layer(torch.randn(2, 1, 60, 60)).shape
    torch.Size([2, 20, 20, 20, 20])
    >>> sum(p.numel() for p in layer.parameters())  # 1 * 20 * 24 weights + 20 biases
    500
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
        grid: SphereGrid | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.bandwidth_in = check_positive_int(bandwidth_in, "bandwidth_in")
        self.bandwidth_out = check_positive_int(bandwidth_out, "bandwidth_out")
        self.filter = check_filter_kind(filter)
        self.grid = EquiangularGrid(bandwidth_in) if grid is None else check_grid(grid)
        if not isinstance(self.grid, SphereGrid):
            raise TypeError(f"expected a sphere grid for the input, got {self.grid!r}")
        self.output_grid = SO3Grid(bandwidth_out)

        analysed = min(bandwidth_in, bandwidth_out)
        self.analysis = SphericalHarmonicTransform(self.grid, bandwidth=analysed)
        self.synthesis = InverseSO3FourierTransform(bandwidth_out)
        self._padding = bandwidth_out**2 - analysed**2
        self._output_size = math.prod(self.output_grid.shape)
        _, row, column = so3_index_tables(bandwidth_out)
        self.register_buffer("_row", row, persistent=False)
        self.register_buffer("_column", column, persistent=False)

        if self.filter == "local":
            kernel_grid = s2_near_identity_grid() if kernel_grid is None else kernel_grid
            basis = sphere_kernel_basis(bandwidth_out, kernel_grid)  # (n_points, J)
            self.register_buffer("kernel_basis", basis, persistent=False)
            self.weight = nn.Parameter(torch.empty(in_channels, out_channels, basis.shape[0]))
            std = 1.0 / math.sqrt(in_channels * basis.shape[0])
        else:
            if kernel_grid is not None:
                raise ValueError("kernel_grid only applies to filter='local'; leave it out")
            self.kernel_basis = None
            self.weight = nn.Parameter(torch.empty(in_channels, out_channels, bandwidth_out**2))
            std = 1.0 / math.sqrt(4 * math.pi * in_channels)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        with torch.no_grad():
            self.weight.normal_(0.0, std)

    def filter_coefficients(self) -> torch.Tensor:
        """Real spherical harmonic coefficients ``p`` of the filters; (C_in, C_out, B_out^2)."""
        if self.kernel_basis is None:
            return self.weight
        return self.weight @ self.kernel_basis.to(self.weight.dtype)  # (I, O, J)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """Convolve ``(N, C_in, *grid.shape)`` into ``(N, C_out, 2B_out, 2B_out, 2B_out)``."""
        check_signal(signal, self.grid, self.in_channels, "S2Convolution")

        coeffs = blockwise(self.analysis, signal, 2, self.analysis.bandwidth**2)  # (N, I, J_in)
        if self._padding:
            coeffs = F.pad(coeffs, (0, self._padding))
        filters = self.filter_coefficients().to(coeffs.dtype)
        output_coeffs = s2_to_so3_product(coeffs, filters, self._row, self._column)  # (N, O, K)
        if self.bias is not None:
            output_coeffs = add_constant(output_coeffs, self.bias, 1.0)  # D^0 = 1
        return blockwise(self.synthesis, output_coeffs, 1, self._output_size)  # (N, O, 2B, 2B, 2B)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, bandwidth {self.bandwidth_in} -> "
            f"{self.bandwidth_out}, filter={self.filter!r}, grid={self.grid!r}"
        )
