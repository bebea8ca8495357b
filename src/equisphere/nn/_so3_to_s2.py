"""SO(3) -> S2 convolution: back to the sphere, for dense outputs that rotate with the input.

Maths: for an input ``f`` on SO(3) and a filter ``psi`` on the sphere,

    h(x) = 1 / (2 pi) int_SO(3) f(R) psi(R^-1 x) dR,
    h_{lm} = 4 pi / (2l + 1) sum_n fhat^l_{mn} p_{ln},

with ``fhat`` the real SO(3) Fourier and ``p`` the real spherical harmonic
coefficients, summed over input channels. For a point mass
``psi = delta_{x_k}`` the rotations with ``R^-1 x = x_k`` form a circle of
length ``2 pi``, so ``h(x)`` is the mean of ``f`` over the rotations that carry
``x_k`` to ``x``; with ``x_k`` the north pole that is the mean over ``gamma``.
Left-translating the input by ``Q`` rotates the output by ``Q``: in
coefficients both pick up ``D^l(Q)`` on the left.

Pipeline: SO(3) Fourier transform up to ``bandwidth_out`` -> per-degree
matrix-vector products -> inverse spherical harmonic transform.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from equisphere.harmonics import InverseSphericalHarmonicTransform, SO3FourierTransform
from equisphere.nn._checks import check_grid, check_positive_int, check_signal
from equisphere.nn._filters import FilterKind, check_filter_kind, sphere_kernel_basis
from equisphere.nn._kernel_grids import s2_near_identity_grid
from equisphere.nn._spectral import (
    add_constant,
    blockwise,
    degree_of_sh_index,
    so3_count,
    so3_to_s2_product,
)
from equisphere.so3.grid import SO3Grid
from equisphere.sphere.grids import EquiangularGrid, SphereGrid

__all__ = ["SO3ToS2"]


class SO3ToS2(nn.Module):
    """Convolution from SO(3) to the sphere with learnable filters.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``.
    bandwidth_in : int
        The input lives on ``SO3Grid(bandwidth_in)``.
    bandwidth_out : int
        Band limit of the output; it lives on ``EquiangularGrid(bandwidth_out)``
        unless ``grid`` is given. May exceed ``bandwidth_in``.
    kernel_grid : torch.Tensor, shape (n_points, 2), optional
        ``(colatitude, longitude)`` of the local filter's points; default
        :func:`~equisphere.nn.s2_near_identity_grid` (24 points).
    filter : {"local", "spectral"}
        ``"local"``: ``weight`` (C_in, C_out, n_points) are point masses on the
        kernel grid. ``"spectral"``: ``weight`` (C_in, C_out, bandwidth_out^2)
        are the filter's real spherical harmonic coefficients ``p``.
    grid : SphereGrid, optional
        Output grid (any grid the inverse spherical harmonic transform accepts);
        for example ``EquiangularGrid(30)`` to draw a band-10 output on the
        input image's 60 x 60 grid.
    bias : bool
        Add a learnable constant per output channel.

    Shapes
    ------
    input ``(N, C_in, 2B_in, 2B_in, 2B_in)`` (beta, alpha, gamma); output
    ``(N, C_out, n_theta, n_phi)``.

    Examples
    --------
    >>> layer = SO3ToS2(8, 3, bandwidth_in=6, bandwidth_out=6)
    >>> layer(torch.randn(2, 8, 12, 12, 12)).shape
    torch.Size([2, 3, 12, 12])
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
        self.grid = SO3Grid(bandwidth_in)
        self.output_grid = EquiangularGrid(bandwidth_out) if grid is None else check_grid(grid)
        if not isinstance(self.output_grid, SphereGrid):
            raise TypeError(f"expected a sphere grid for the output, got {self.output_grid!r}")

        analysed = min(bandwidth_in, bandwidth_out)
        self.analysis = SO3FourierTransform(bandwidth_in, bandwidth=analysed)
        self.synthesis = InverseSphericalHarmonicTransform(
            self.output_grid, bandwidth=bandwidth_out
        )
        self._padding = so3_count(bandwidth_out) - so3_count(analysed)
        self._analysed_size = so3_count(analysed)
        self._output_size = math.prod(self.output_grid.shape)
        degree = degree_of_sh_index(bandwidth_out).double()
        self.register_buffer("_scale", 4 * math.pi / (2 * degree + 1), persistent=False)

        if self.filter == "local":
            kernel_grid = s2_near_identity_grid() if kernel_grid is None else kernel_grid
            basis = sphere_kernel_basis(bandwidth_out, kernel_grid)  # (n_points, J)
            self.register_buffer("kernel_basis", basis, persistent=False)
            self.weight = nn.Parameter(torch.empty(in_channels, out_channels, basis.shape[0]))
            std = torch.full((basis.shape[0],), 1.0 / math.sqrt(in_channels * basis.shape[0]))
        else:
            if kernel_grid is not None:
                raise ValueError("kernel_grid only applies to filter='local'; leave it out")
            self.kernel_basis = None
            self.weight = nn.Parameter(torch.empty(in_channels, out_channels, bandwidth_out**2))
            std = torch.sqrt((2 * degree + 1) / (4 * math.pi * in_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        with torch.no_grad():
            self.weight.copy_(torch.randn(self.weight.shape, dtype=torch.float64) * std)

    def filter_coefficients(self) -> torch.Tensor:
        """Real spherical harmonic coefficients ``p`` of the filters; (C_in, C_out, B_out^2)."""
        if self.kernel_basis is None:
            return self.weight
        return self.weight @ self.kernel_basis.to(self.weight.dtype)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """Map ``(N, C_in, 2B_in, 2B_in, 2B_in)`` to ``(N, C_out, *output_grid.shape)``."""
        check_signal(signal, self.grid, self.in_channels, "SO3ToS2")

        coeffs = blockwise(self.analysis, signal, 3, self._analysed_size)  # (N, I, K_in)
        if self._padding:
            coeffs = F.pad(coeffs, (0, self._padding))
        filters = self.filter_coefficients().to(coeffs.dtype) * self._scale.to(coeffs.dtype)
        output_coeffs = so3_to_s2_product(coeffs, filters, self.bandwidth_out)  # (N, O, J)
        if self.bias is not None:
            output_coeffs = add_constant(output_coeffs, self.bias, math.sqrt(4 * math.pi))
        return blockwise(self.synthesis, output_coeffs, 1, self._output_size)  # (N, O, *grid)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, bandwidth {self.bandwidth_in} -> "
            f"{self.bandwidth_out}, filter={self.filter!r}, grid={self.output_grid!r}"
        )
