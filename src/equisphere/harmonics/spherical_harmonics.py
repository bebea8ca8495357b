"""Real and complex spherical harmonics at arbitrary points.

Method: the orthonormalised associated Legendre functions
``Pbar_l^m = N_l^m P_l^m(cos theta)`` come from the standard stable three-term
recurrences (no factorials):

- ``Pbar_0^0 = 1 / sqrt(4 pi)``,
- ``Pbar_m^m = sqrt((2m + 1) / (2m)) sin(theta) Pbar_{m-1}^{m-1}``,
- ``Pbar_{m+1}^m = sqrt(2m + 3) cos(theta) Pbar_m^m``,
- ``Pbar_l^m = a_lm (cos(theta) Pbar_{l-1}^m - b_lm Pbar_{l-2}^m)`` with
  ``a_lm = sqrt((4l^2 - 1) / (l^2 - m^2))``,
  ``b_lm = sqrt(((l - 1)^2 - m^2) / (4 (l - 1)^2 - 1))``.

The loop runs over degrees and is vectorised over orders and points, so it is
differentiable in the angles. The public functions evaluate it in float64 and
return the input's dtype. ``Pbar_m^m`` falls like ``sin(theta)^m``: at the
first equiangular ring of bandwidth 512 it underflows to zero in float64 where
its true value is below about 1e-300.

Conventions (docs/conventions.md): ``P_l^m`` without the Condon-Shortley phase;
complex ``Y_l^m = (-1)^m Pbar_l^m e^{i m phi}`` for ``m >= 0`` and
``Y_l^{-m} = (-1)^m conj(Y_l^m)`` (scipy's ``sph_harm_y``); real
``Y_{l,m} = sqrt(2) Pbar_l^m cos(m phi)`` (``m > 0``), ``Pbar_l^0`` (``m = 0``),
``sqrt(2) Pbar_l^|m| sin(|m| phi)`` (``m < 0``). Flat index ``l^2 + l + m``.
"""

from __future__ import annotations

import math

import torch

from equisphere.quadrature import check_bandwidth

__all__ = ["complex_spherical_harmonics", "normalized_legendre", "real_spherical_harmonics"]


def normalized_legendre(bandwidth: int, colatitude: torch.Tensor) -> torch.Tensor:
    """Orthonormalised associated Legendre functions ``Pbar_l^m(cos theta)``.

    Parameters
    ----------
    bandwidth : int
        Degrees ``l = 0 .. bandwidth-1``.
    colatitude : torch.Tensor, shape (...)
        ``theta`` in radians.

    Returns
    -------
    torch.Tensor, shape (..., bandwidth, bandwidth)
        Entry ``[..., l, m]`` is ``N_l^m P_l^m(cos theta)`` for ``m <= l`` and 0
        above the diagonal; ``sum_l`` of ``2 pi Pbar^2`` over ``theta`` integrates to 1.

    Conventions: no Condon-Shortley phase (docs/conventions.md).
    """
    bandwidth = check_bandwidth(bandwidth)
    x, s = torch.cos(colatitude), torch.sin(colatitude)

    rows = [torch.full_like(x, 1 / math.sqrt(4 * math.pi))[..., None]]  # degree 0: (..., 1)
    for degree in range(1, bandwidth):
        previous = rows[-1]
        m = torch.arange(degree - 1, dtype=x.dtype, device=x.device)
        parts = []
        if degree >= 2:
            # Three-term recurrence for the orders m <= l - 2.
            before = rows[-2]
            a = torch.sqrt((4 * degree**2 - 1) / (degree**2 - m**2))
            b = torch.sqrt(((degree - 1) ** 2 - m**2) / (4 * (degree - 1) ** 2 - 1))
            parts.append(a * (x[..., None] * previous[..., :-1] - b * before))
        else:
            parts.append(x.new_zeros(x.shape + (0,)))
        diagonal = previous[..., -1]
        parts.append((math.sqrt(2 * degree + 1) * x * diagonal)[..., None])  # m = l - 1
        parts.append(
            (math.sqrt((2 * degree + 1) / (2 * degree)) * s * diagonal)[..., None]
        )  # m = l
        rows.append(torch.cat(parts, dim=-1))

    padded = [torch.nn.functional.pad(row, (0, bandwidth - row.shape[-1])) for row in rows]
    return torch.stack(padded, dim=-2)


def _flat_orders(bandwidth: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    degrees = torch.cat([torch.full((2 * l + 1,), l) for l in range(bandwidth)]).to(device)
    orders = torch.cat([torch.arange(-l, l + 1) for l in range(bandwidth)]).to(device)
    return degrees, orders


def _check_angles(
    colatitude: torch.Tensor, longitude: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    for name, value in (("colatitude", colatitude), ("longitude", longitude)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"expected {name} to be a torch.Tensor, got {type(value).__name__}")
        if not value.is_floating_point():
            raise TypeError(f"expected {name} to be floating point, got dtype {value.dtype}")
    return torch.broadcast_tensors(colatitude, longitude)


def _legendre_flat(bandwidth: int, colatitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``Pbar_l^|m|`` at flat index ``l^2 + l + m`` (shape (..., B^2)) and the orders.

    Computed in float64: near the poles ``cos(theta)`` rounded to float32 would
    cost a relative error of about ``l^2 * 6e-8`` (5e-5 at ``l = 29``).
    """
    legendre = normalized_legendre(bandwidth, colatitude.double()).to(colatitude.dtype)
    degrees, orders = _flat_orders(bandwidth, colatitude.device)
    flat = legendre.flatten(-2)[..., degrees * bandwidth + orders.abs()]  # (..., B^2)
    return flat, orders


def real_spherical_harmonics(
    bandwidth: int, colatitude: torch.Tensor, longitude: torch.Tensor
) -> torch.Tensor:
    """Real orthonormal spherical harmonics ``Y_{l,m}`` of all degrees below ``bandwidth``.

    Parameters
    ----------
    bandwidth : int
        Degrees ``l = 0 .. bandwidth-1``.
    colatitude, longitude : torch.Tensor, broadcastable shapes
        ``theta`` from +z and ``phi`` from +x towards +y, radians.

    Returns
    -------
    torch.Tensor, shape broadcast(colatitude, longitude).shape + (bandwidth^2,)
        ``Y_{l,m}`` at flat index ``l^2 + l + m``; dtype of the angles.

    Conventions: real harmonics of docs/conventions.md.

    Examples
    --------
    >>> theta = torch.tensor(0.4, dtype=torch.float64)
    >>> Y = real_spherical_harmonics(2, theta, torch.tensor(1.0, dtype=torch.float64))
    >>> round(float(Y[2]), 12) == round(math.sqrt(3 / (4 * math.pi)) * math.cos(0.4), 12)
    True
    """
    bandwidth = check_bandwidth(bandwidth)
    colatitude, longitude = _check_angles(colatitude, longitude)

    legendre, orders = _legendre_flat(bandwidth, colatitude)
    turned = longitude[..., None] * orders.abs().to(longitude.dtype)  # (..., B^2)
    trig = torch.where(orders >= 0, torch.cos(turned), torch.sin(turned))
    scale = torch.full_like(trig, math.sqrt(2.0)).masked_fill(orders == 0, 1.0)
    return scale * legendre * trig


def complex_spherical_harmonics(
    bandwidth: int, colatitude: torch.Tensor, longitude: torch.Tensor
) -> torch.Tensor:
    """Complex orthonormal spherical harmonics ``Y_l^m`` of all degrees below ``bandwidth``.

    Parameters
    ----------
    bandwidth : int
        Degrees ``l = 0 .. bandwidth-1``.
    colatitude, longitude : torch.Tensor, broadcastable shapes
        ``theta`` and ``phi``, radians.

    Returns
    -------
    torch.Tensor, shape broadcast(colatitude, longitude).shape + (bandwidth^2,)
        ``Y_l^m`` at flat index ``l^2 + l + m``; complex dtype matching the angles.

    Conventions: complex harmonics of docs/conventions.md, equal to scipy's
    ``sph_harm_y(l, m, theta, phi)``.
    """
    bandwidth = check_bandwidth(bandwidth)
    colatitude, longitude = _check_angles(colatitude, longitude)

    legendre, orders = _legendre_flat(bandwidth, colatitude)
    # Y_l^m = (-1)^m Pbar e^{i m phi} for m > 0, and Pbar e^{i m phi} for m <= 0.
    magnitude = torch.where((orders > 0) & (orders % 2 == 1), -legendre, legendre)
    turned = longitude[..., None] * orders.to(longitude.dtype)
    return torch.complex(magnitude * torch.cos(turned), magnitude * torch.sin(turned))
