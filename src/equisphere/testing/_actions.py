"""How a rotation acts on each kind of signal: the actions the equivariance checker uses.

An action is a callable ``action(signal, rotation) -> rotated signal`` where
``rotation`` is one ``(3, 3)`` matrix. Three are provided:

- :class:`SphereRotation`: ``(Q f)(x) = f(Q^-1 x)`` for signals
  ``(..., n_theta, n_phi)`` on a sphere grid: exactly through the harmonic
  coefficients (band-limited signals), exactly by permuting the grid points
  (rotations that map the grid onto itself, any signal), or by bilinear
  resampling (any signal, approximate).
- :class:`SO3Rotation`: left translation ``(Q g)(R) = g(Q^-1 R)`` for signals
  ``(..., 2B, 2B, 2B)`` on the SO(3) grid, exactly through the coefficients
  (``ghat^l -> D^l(Q) ghat^l``).
- :func:`invariant`: the trivial action, for invariant outputs such as logits.

Conventions: docs/conventions.md (rotations act on points; real Wigner-D;
SO(3) layout ``(beta, alpha, gamma)``).
"""

from __future__ import annotations

from typing import Literal

import torch

from equisphere.harmonics import (
    InverseSO3FourierTransform,
    InverseSphericalHarmonicTransform,
    SO3FourierTransform,
    SphericalHarmonicTransform,
    rotate_coefficients,
)
from equisphere.so3 import SO3Grid, check_rotation_matrix, wigner_D_matrices
from equisphere.sphere.grids import SphereGrid, angles_from_vectors

__all__ = ["SO3Rotation", "SphereRotation", "invariant"]


def invariant(signal: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """The trivial action: returns ``signal`` unchanged (for invariant quantities)."""
    return signal


class SphereRotation:
    """Rotate signals on a sphere grid: ``(Q f)(x) = f(Q^-1 x)``.

    Parameters
    ----------
    grid : SphereGrid
        The grid the signals live on.
    method : {"harmonic", "grid", "interpolate"}
        ``"harmonic"``: analyse up to ``bandwidth``, rotate the coefficients with
        the real Wigner-D matrices and synthesise on the same grid; exact (to
        rounding) for signals band-limited to ``bandwidth`` on a grid with exact
        quadrature, and a projection onto that band otherwise.
        ``"grid"``: permute the grid values; exact for any signal, and only for
        rotations that map every grid point onto a grid point (``ValueError``
        otherwise), such as those of
        :func:`~equisphere.testing.grid_symmetry_rotations`.
        ``"interpolate"``: bilinear resampling on the grid (any signal;
        error of the order of the grid spacing squared).
    bandwidth : int, optional
        Band limit of the harmonic method; default the grid's bandwidth.

    Examples
    --------
    >>> from equisphere.sphere import EquiangularGrid
    >>> from equisphere.so3 import rotation_z
    >>> grid = EquiangularGrid(4)
    >>> f = torch.cos(grid.colatitude)[None]  # zonal: unchanged by z-rotations
    >>> rotate = SphereRotation(grid)
    >>> bool(torch.allclose(rotate(f, rotation_z(torch.tensor(0.3, dtype=torch.float64))), f))
    True
    """

    def __init__(
        self,
        grid: SphereGrid,
        method: Literal["harmonic", "grid", "interpolate"] = "harmonic",
        bandwidth: int | None = None,
    ) -> None:
        if not isinstance(grid, SphereGrid):
            raise TypeError(f"expected a SphereGrid, got {type(grid).__name__}")
        if method not in ("harmonic", "grid", "interpolate"):
            raise ValueError(f"expected method 'harmonic', 'grid' or 'interpolate', got {method!r}")
        self.grid, self.method = grid, method
        if method == "harmonic":
            self._analysis = SphericalHarmonicTransform(grid, bandwidth=bandwidth)
            self._synthesis = InverseSphericalHarmonicTransform(grid, bandwidth=bandwidth)

    def __call__(self, signal: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
        self.grid.check_signal(signal)
        check_rotation_matrix(rotation)
        if self.method == "grid":
            flat = signal.flatten(-len(self.grid.shape))
            index = _grid_permutation(self.grid, rotation).to(signal.device)
            return flat[..., index].reshape(signal.shape)
        if self.method == "interpolate":
            from equisphere.sphere.interpolate import rotate_signal

            return rotate_signal(signal, self.grid, rotation.to(signal.dtype))
        self._analysis.to(signal.device)
        self._synthesis.to(signal.device)
        coeffs = self._analysis(signal)  # (..., B^2)
        rotated = rotate_coefficients(coeffs, rotation.to(device=coeffs.device))  # any float dtype
        return self._synthesis(rotated)

    def __repr__(self) -> str:
        return f"SphereRotation({self.grid!r}, method={self.method!r})"


def _grid_permutation(grid: SphereGrid, rotation: torch.Tensor, atol: float = 1e-9) -> torch.Tensor:
    """Flat index ``j(i)`` with grid point ``j`` = ``Q^-1 x_i``, so ``(Q f)(x_i) = f(x_j)``."""
    points = grid.vectors().reshape(-1, 3)  # (P, 3), float64
    pulled = points @ rotation.to(torch.float64)  # rows Q^T x_i = Q^-1 x_i
    if hasattr(grid, "theta") and hasattr(grid, "phi"):
        # Product grid: nearest ring, then the nearest of the equispaced longitudes.
        colatitude, longitude = angles_from_vectors(pulled)
        ring = (colatitude[:, None] - grid.theta[None, :]).abs().argmin(dim=1)
        n_phi = grid.phi.numel()
        column = torch.round(longitude * n_phi / (2 * torch.pi)).long() % n_phi
        index = ring * n_phi + column
    else:
        distances = torch.cdist(pulled, points, compute_mode="donot_use_mm_for_euclid_dist")
        index = distances.argmin(dim=1)
    distance = torch.linalg.vector_norm(pulled - points[index], dim=-1).max()
    if float(distance) > atol:
        raise ValueError(
            f"expected a rotation that maps every point of {grid!r} onto a grid point, got one "
            f"that moves a point {float(distance):.3g} away from the nearest; use "
            "method='harmonic' or 'interpolate' for arbitrary rotations"
        )
    return index


def _nearest_rotation(rotation: torch.Tensor) -> torch.Tensor:
    """The float64 rotation nearest to ``rotation`` (its polar factor).

    A float32 rotation cast to float64 is a rotation only to float32 accuracy and
    would fail the float64 check of the Wigner-D functions.
    """
    left, _, right = torch.linalg.svd(rotation.to(torch.float64))
    return left @ right


class SO3Rotation:
    """Left-translate signals on the SO(3) grid: ``(Q g)(R) = g(Q^-1 R)``, exactly.

    The signal is analysed up to its grid's bandwidth, each coefficient block
    is multiplied on the left by the real Wigner-D matrix ``D^l(Q)``, and the
    result is synthesised on the same grid; exact (to rounding) for signals
    band-limited to the grid's bandwidth.

    Parameters
    ----------
    grid : SO3Grid or int
        The SO(3) grid, or its bandwidth.
    """

    def __init__(self, grid: SO3Grid | int) -> None:
        self.grid = grid if isinstance(grid, SO3Grid) else SO3Grid(grid)
        bandwidth = self.grid.bandwidth
        self._analysis = SO3FourierTransform(bandwidth)
        self._synthesis = InverseSO3FourierTransform(bandwidth)

    def __call__(self, signal: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
        self.grid.check_signal(signal)
        check_rotation_matrix(rotation)
        bandwidth = self.grid.bandwidth

        self._analysis.to(signal.device)
        self._synthesis.to(signal.device)
        coeffs = self._analysis(signal)  # (..., K)
        matrices = wigner_D_matrices(
            bandwidth, _nearest_rotation(rotation).to(coeffs.device), basis="real"
        )
        matrices = [matrix.to(coeffs.dtype) for matrix in matrices]
        blocks, start = [], 0
        for degree, wigner in enumerate(matrices):
            size = 2 * degree + 1
            block = coeffs[..., start : start + size * size].unflatten(-1, (size, size))
            blocks.append((wigner @ block).flatten(-2))  # D^l(Q) ghat^l
            start += size * size
        return self._synthesis(torch.cat(blocks, dim=-1))

    def __repr__(self) -> str:
        return f"SO3Rotation({self.grid!r})"
