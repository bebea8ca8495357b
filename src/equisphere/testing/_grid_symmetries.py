"""Rotations that map equiangular sphere grids and SO(3) grids onto themselves.

A rotation that permutes the points of every grid a network uses turns each
layer's input into a permuted copy, so even the pointwise nonlinearities,
which alias for other rotations, commute with it: the network is then
equivariant to rounding. These rotations are

- ``Rz(2 pi k / n)`` with ``n = gcd(2 B_1, 2 B_2, ...)``: a shift of the
  longitude (and, on SO(3), of ``alpha``) by a whole number of grid steps;
- the same composed with ``Ry(pi)``, which maps colatitude ``theta`` to
  ``pi - theta`` and longitude ``phi`` to ``pi - phi`` (on SO(3):
  ``(alpha, beta, gamma) -> (pi - alpha, pi - beta, gamma + pi)``).

Conventions: docs/conventions.md (equiangular grids, rotations act on points).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from equisphere.so3 import rotation_y, rotation_z

__all__ = ["grid_symmetry_rotations"]


def grid_symmetry_rotations(
    bandwidths: Sequence[int], dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """All rotations that map the equiangular grids of all ``bandwidths`` onto themselves.

    Parameters
    ----------
    bandwidths : sequence of int
        Bandwidths of every sphere and SO(3) grid in the network.
    dtype : torch.dtype

    Returns
    -------
    torch.Tensor, shape (2 n, 3, 3)
        ``Rz(2 pi k / n)`` for ``k = 0 .. n-1``, then ``Rz(2 pi k / n) Ry(pi)``,
        with ``n = gcd(2 B_1, 2 B_2, ...)``.

    Examples
    --------
    >>> grid_symmetry_rotations([30, 10, 6]).shape  # gcd(60, 20, 12) = 4
    torch.Size([8, 3, 3])
    """
    if len(bandwidths) == 0 or any(
        isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in bandwidths
    ):
        raise ValueError(
            f"expected a non-empty list of positive int bandwidths, got {bandwidths!r}"
        )
    steps = math.gcd(*(2 * b for b in bandwidths))
    angles = 2 * math.pi * torch.arange(steps, dtype=torch.float64) / steps
    turns = rotation_z(angles)  # (n, 3, 3)
    flipped = turns @ rotation_y(torch.tensor(math.pi, dtype=torch.float64))
    return torch.cat([turns, flipped]).to(dtype)
