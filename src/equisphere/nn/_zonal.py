"""S2 -> S2 convolution with zonal (isotropic) filters.

Maths: a zonal filter ``psi`` depends only on the colatitude, so the S2
convolution ``int f(y) psi(R^-1 y) dy`` does not depend on the last Euler
angle and is a function on the sphere (Funk-Hecke):

    h_{lm} = sqrt(4 pi / (2l + 1)) p_l c_{lm},

with ``c`` the input's and ``p_l`` the filter's zonal (``m = 0``) real
spherical harmonic coefficients, summed over input channels. A ring filter
``psi = sum_k w_k (mean over the ring at colatitude theta_k)`` gives
``h_{lm} = sum_k w_k P_l(cos theta_k) c_{lm}``: the output at ``x`` is a
weighted sum of the input's means over circles of angular radius ``theta_k``
around ``x``. Rotating the input rotates the output.

Pipeline: spherical harmonic transform up to ``bandwidth_out`` -> a gain per
degree -> inverse spherical harmonic transform.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from equisphere.harmonics import InverseSphericalHarmonicTransform, SphericalHarmonicTransform
from equisphere.nn._checks import check_grid, check_positive_int, check_signal
from equisphere.nn._filters import FilterKind, check_filter_kind, zonal_kernel_basis
from equisphere.nn._kernel_grids import ring_grid
from equisphere.nn._spectral import add_constant, blockwise, degree_of_sh_index
from equisphere.sphere.grids import EquiangularGrid, SphereGrid

__all__ = ["ZonalS2Convolution"]


class ZonalS2Convolution(nn.Module):
    """Sphere -> sphere convolution with isotropic filters.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``.
    bandwidth_in : int
        Band limit of the input analysis; the input lives on
        ``EquiangularGrid(bandwidth_in)`` unless ``grid`` is given.
    bandwidth_out : int, optional
        Band limit of the output, on ``EquiangularGrid(bandwidth_out)`` unless
        ``output_grid`` is given; default ``bandwidth_in``.
    ring_colatitudes : torch.Tensor, shape (n_rings,), optional
        Colatitudes of the rings of a local filter, radians; default
        :func:`~equisphere.nn.ring_grid` (4 rings out to pi / 8, the first
        the north pole itself).
    filter : {"local", "spectral"}
        ``"local"``: ``weight`` (C_in, C_out, n_rings) are ring weights.
        ``"spectral"``: ``weight`` (C_in, C_out, bandwidth_out) are the filter's
        zonal coefficients ``p_l`` (of ``Y_{l0}``).
    grid, output_grid : SphereGrid, optional
        Input and output grids.
    bias : bool
        Add a learnable constant per output channel.

    Shapes
    ------
    input ``(N, C_in, n_theta, n_phi)``; output ``(N, C_out, n_theta', n_phi')``.

    Examples
    --------
    >>> layer = ZonalS2Convolution(3, 5, bandwidth_in=8)
    >>> layer(torch.randn(2, 3, 16, 16)).shape
    torch.Size([2, 5, 16, 16])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bandwidth_in: int,
        bandwidth_out: int | None = None,
        *,
        ring_colatitudes: torch.Tensor | None = None,
        filter: FilterKind = "local",
        grid: SphereGrid | None = None,
        output_grid: SphereGrid | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        bandwidth_out = bandwidth_in if bandwidth_out is None else bandwidth_out
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.bandwidth_in = check_positive_int(bandwidth_in, "bandwidth_in")
        self.bandwidth_out = check_positive_int(bandwidth_out, "bandwidth_out")
        self.filter = check_filter_kind(filter)
        self.grid = EquiangularGrid(bandwidth_in) if grid is None else check_grid(grid)
        self.output_grid = (
            EquiangularGrid(bandwidth_out) if output_grid is None else check_grid(output_grid)
        )
        for which, value in (("grid", self.grid), ("output_grid", self.output_grid)):
            if not isinstance(value, SphereGrid):
                raise TypeError(f"expected {which} to be a sphere grid, got {value!r}")

        analysed = min(bandwidth_in, bandwidth_out)
        self.analysis = SphericalHarmonicTransform(self.grid, bandwidth=analysed)
        self.synthesis = InverseSphericalHarmonicTransform(
            self.output_grid, bandwidth=bandwidth_out
        )
        self._padding = bandwidth_out**2 - analysed**2
        self._output_size = math.prod(self.output_grid.shape)
        self.register_buffer("_degree", degree_of_sh_index(bandwidth_out), persistent=False)
        degree = torch.arange(bandwidth_out, dtype=torch.float64)

        if self.filter == "local":
            rings = ring_grid() if ring_colatitudes is None else ring_colatitudes
            basis = zonal_kernel_basis(bandwidth_out, rings)  # (n_rings, B)
            self.register_buffer("kernel_basis", basis, persistent=False)
            self.weight = nn.Parameter(torch.empty(in_channels, out_channels, basis.shape[0]))
            std = torch.full((basis.shape[0],), 1.0 / math.sqrt(in_channels * basis.shape[0]))
        else:
            if ring_colatitudes is not None:
                raise ValueError("ring_colatitudes only applies to filter='local'; leave it out")
            self.kernel_basis = None
            # Degree gains are sqrt(4 pi / (2l + 1)) p_l.
            self.register_buffer("_scale", torch.sqrt(4 * math.pi / (2 * degree + 1)), False)
            self.weight = nn.Parameter(torch.empty(in_channels, out_channels, bandwidth_out))
            std = torch.sqrt((2 * degree + 1) / (4 * math.pi * in_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        with torch.no_grad():
            self.weight.copy_(torch.randn(self.weight.shape, dtype=torch.float64) * std)

    def degree_gains(self) -> torch.Tensor:
        """Gain of each degree, ``h_l = sum_i gain[i, o, l] c_l[i]``; shape (C_in, C_out, B_out)."""
        if self.kernel_basis is None:
            return self.weight * self._scale.to(self.weight.dtype)
        return self.weight @ self.kernel_basis.to(self.weight.dtype)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """Filter ``(N, C_in, *grid.shape)`` into ``(N, C_out, *output_grid.shape)``."""
        check_signal(signal, self.grid, self.in_channels, "ZonalS2Convolution")

        coeffs = blockwise(self.analysis, signal, 2, self.analysis.bandwidth**2)  # (N, I, J_in)
        if self._padding:
            coeffs = F.pad(coeffs, (0, self._padding))
        gains = self.degree_gains().to(coeffs.dtype)[..., self._degree]  # (I, O, J)
        output_coeffs = torch.einsum("nij,ioj->noj", coeffs, gains)
        if self.bias is not None:
            output_coeffs = add_constant(output_coeffs, self.bias, math.sqrt(4 * math.pi))
        return blockwise(self.synthesis, output_coeffs, 1, self._output_size)  # (N, O, *grid)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, bandwidth {self.bandwidth_in} -> "
            f"{self.bandwidth_out}, filter={self.filter!r}"
        )
