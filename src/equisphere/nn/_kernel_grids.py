"""Kernel grids: the points where a local filter has its learnable weights.

A local filter on the sphere is a weighted sum of point masses at a few points
near the north pole; on SO(3) it is a weighted sum of point masses at a few
rotations near the identity (the construction of Cohen et al., 2018). A zonal
(isotropic) filter puts its weights on rings of constant colatitude around the
north pole. Band-limiting these filters to the layer's bandwidth makes them
smooth bumps; the convolution with a point mass at ``x_k`` reads the input at
the rotated point ``R x_k``.

Conventions (docs/conventions.md): colatitude from +z and longitude from +x,
radians; ZYZ Euler angles ``R = Rz(alpha) Ry(beta) Rz(gamma)``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["ring_grid", "s2_near_identity_grid", "so3_near_identity_grid"]


def _check_count(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected {name} to be a positive int, got {value!r}")
    return value


def _check_angle(value: float, name: str, upper: float) -> float:
    value = float(value)
    if not 0.0 < value <= upper:
        raise ValueError(f"expected {name} in (0, {upper:.6g}] radians, got {value!r}")
    return value


def s2_near_identity_grid(
    max_colatitude: float = math.pi / 8, n_colatitude: int = 3, n_longitude: int = 8
) -> torch.Tensor:
    """Points on ``n_colatitude`` rings around the north pole, ``n_longitude`` on each.

    The rings sit at colatitudes ``max_colatitude * j / n_colatitude`` for
    ``j = 1 .. n_colatitude``; longitudes are ``2 pi k / n_longitude``. The
    default gives the 24 points of Cohen et al.'s MNIST network.

    Returns
    -------
    torch.Tensor, shape (n_colatitude * n_longitude, 2), float64
        ``(colatitude, longitude)`` of each point, radians.

    Examples
    --------
    >>> grid = s2_near_identity_grid()
    >>> grid.shape, round(float(grid[:, 0].max()), 6) == round(math.pi / 8, 6)
    (torch.Size([24, 2]), True)
    """
    max_colatitude = _check_angle(max_colatitude, "max_colatitude", math.pi)
    n_colatitude = _check_count(n_colatitude, "n_colatitude")
    n_longitude = _check_count(n_longitude, "n_longitude")

    colatitude = max_colatitude * torch.arange(1, n_colatitude + 1, dtype=torch.float64)
    colatitude = colatitude / n_colatitude
    longitude = 2 * math.pi * torch.arange(n_longitude, dtype=torch.float64) / n_longitude
    colatitude, longitude = torch.meshgrid(colatitude, longitude, indexing="ij")
    return torch.stack([colatitude.flatten(), longitude.flatten()], dim=-1)


def so3_near_identity_grid(
    max_beta: float = math.pi / 8,
    n_beta: int = 3,
    n_alpha: int = 8,
    max_twist: float = math.pi / 4,
    n_twist: int = 3,
) -> torch.Tensor:
    """Rotations near the identity: ``Rz(alpha) Ry(beta) Rz(twist - alpha)``.

    Without twist, ``Rz(alpha) Ry(beta) Rz(-alpha)`` turns by ``beta`` about an
    axis in the xy-plane, so it moves the north pole by ``beta`` towards
    longitude ``alpha``; the twist then turns about the (moved) pole. ``beta``
    takes the values ``max_beta * j / n_beta`` (``j = 1 .. n_beta``), ``alpha``
    the values ``2 pi k / n_alpha`` and the twist ``n_twist`` values evenly from
    ``-max_twist`` to ``max_twist`` (just 0 when ``n_twist`` is 1). The default
    gives 72 rotations, the count that brings Cohen et al.'s MNIST network to
    about 58K parameters.

    Returns
    -------
    torch.Tensor, shape (n_beta * n_alpha * n_twist, 3), float64
        ZYZ Euler angles ``(alpha, beta, gamma)`` of each rotation, radians.

    Examples
    --------
    >>> so3_near_identity_grid().shape
    torch.Size([72, 3])
    """
    max_beta = _check_angle(max_beta, "max_beta", math.pi)
    n_beta = _check_count(n_beta, "n_beta")
    n_alpha = _check_count(n_alpha, "n_alpha")
    max_twist = _check_angle(max_twist, "max_twist", math.pi)
    n_twist = _check_count(n_twist, "n_twist")

    beta = max_beta * torch.arange(1, n_beta + 1, dtype=torch.float64) / n_beta
    alpha = 2 * math.pi * torch.arange(n_alpha, dtype=torch.float64) / n_alpha
    if n_twist == 1:
        twist = torch.zeros(1, dtype=torch.float64)
    else:
        twist = torch.linspace(-max_twist, max_twist, n_twist, dtype=torch.float64)
    beta, alpha, twist = torch.meshgrid(beta, alpha, twist, indexing="ij")
    gamma = twist - alpha
    return torch.stack([alpha.flatten(), beta.flatten(), gamma.flatten()], dim=-1)


def ring_grid(max_colatitude: float = math.pi / 8, n_rings: int = 4) -> torch.Tensor:
    """Colatitudes of the rings of a zonal filter: ``max_colatitude * j / (n_rings - 1)``.

    Ring 0 is the north pole itself (a point), so a one-ring filter is a
    channel mixing that acts at every point alone.

    Returns
    -------
    torch.Tensor, shape (n_rings,), float64, radians

    Examples
    --------
    >>> [round(v, 4) for v in ring_grid(math.pi / 4, 3).tolist()]
    [0.0, 0.3927, 0.7854]
    """
    max_colatitude = _check_angle(max_colatitude, "max_colatitude", math.pi)
    n_rings = _check_count(n_rings, "n_rings")
    if n_rings == 1:
        return torch.zeros(1, dtype=torch.float64)
    return torch.linspace(0.0, max_colatitude, n_rings, dtype=torch.float64)
