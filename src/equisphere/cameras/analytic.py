"""Lenses with a closed-form radius and inverse: pinhole and the classical fisheyes.

Normalised radius ``r`` against incidence ``theta`` (pixels: ``fx r``):

=============  =================  ====================  =================
lens           ``r(theta)``       one-to-one for        ``r`` limit
=============  =================  ====================  =================
pinhole        ``tan theta``      ``theta < pi/2``      ``inf``
equidistant    ``theta``          ``theta < pi``        ``pi``
equisolid      ``2 sin(theta/2)`` ``theta < pi``        ``2``
stereographic  ``2 tan(theta/2)`` ``theta < pi``        ``inf``
orthographic   ``sin theta``      ``theta < pi/2``      ``1``
=============  =================  ====================  =================

Each model computes ``r / sin(theta)`` and ``sin(theta) / r`` in forms that stay
finite on the optical axis, so the round trip is exact to rounding.

Conventions: camera frame and pixels as in docs/conventions.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from equisphere.cameras.base import Camera

__all__ = [
    "EquidistantCamera",
    "EquisolidCamera",
    "OrthographicCamera",
    "PinholeCamera",
    "StereographicCamera",
]


def _sinc(x: torch.Tensor) -> torch.Tensor:
    """``sin(x) / x``, 1 at 0, differentiable everywhere."""
    return torch.sinc(x / math.pi)


@dataclass(frozen=True, kw_only=True)
class PinholeCamera(Camera):
    """Perspective projection ``r = tan(theta)``; sees only rays in front (``z > 0``).

    Examples
    --------
    >>> cam = PinholeCamera(width=640, height=480, fx=500.0, fy=500.0, cx=319.5, cy=239.5)
    >>> pixels, valid = cam.project(torch.tensor([[0.1, -0.2, 1.0]], dtype=torch.float64))
    >>> pixels.tolist(), valid.tolist()
    ([[369.5, 139.5]], [True])
    """

    model = "pinhole"

    @property
    def incidence_limit(self) -> float:
        return math.pi / 2

    def _radius(self, theta: float) -> float:
        return math.inf if theta >= math.pi / 2 else math.tan(theta)

    def _radius_over_sin(self, sin_t, cos_t, theta):
        return 1 / cos_t

    def _lift(self, radius):
        inv = torch.rsqrt(1 + radius * radius)
        return inv, inv


@dataclass(frozen=True, kw_only=True)
class EquidistantCamera(Camera):
    """Equidistant (f-theta) fisheye ``r = theta``; one-to-one up to 180 degrees."""

    model = "equidistant"

    @property
    def incidence_limit(self) -> float:
        return math.pi

    def _radius(self, theta: float) -> float:
        return theta

    def _radius_over_sin(self, sin_t, cos_t, theta):
        return 1 / _sinc(theta)

    def _lift(self, radius):
        return _sinc(radius), torch.cos(radius)


@dataclass(frozen=True, kw_only=True)
class EquisolidCamera(Camera):
    """Equisolid-angle (equal-area) fisheye ``r = 2 sin(theta / 2)``."""

    model = "equisolid"

    @property
    def incidence_limit(self) -> float:
        return math.pi

    def _radius(self, theta: float) -> float:
        return 2 * math.sin(theta / 2)

    def _radius_over_sin(self, sin_t, cos_t, theta):
        # 2 sin(t/2) / (2 sin(t/2) cos(t/2)) = 1 / cos(t/2)
        return 1 / torch.cos(theta / 2)

    def _lift(self, radius):
        # sin t = r cos(t/2) and cos(t/2) = sqrt(1 - r^2/4); cos t = 1 - r^2/2.
        half = radius / 2
        return torch.sqrt((1 - half) * (1 + half)), 1 - 2 * half * half


@dataclass(frozen=True, kw_only=True)
class StereographicCamera(Camera):
    """Stereographic fisheye ``r = 2 tan(theta / 2)``; conformal, up to 180 degrees."""

    model = "stereographic"

    @property
    def incidence_limit(self) -> float:
        return math.pi

    def _radius(self, theta: float) -> float:
        return math.inf if theta >= math.pi else 2 * math.tan(theta / 2)

    def _radius_over_sin(self, sin_t, cos_t, theta):
        # 2 tan(t/2) / sin t = 1 / cos^2(t/2)
        return 1 / torch.cos(theta / 2) ** 2

    def _lift(self, radius):
        r2 = radius * radius
        return 4 / (4 + r2), (4 - r2) / (4 + r2)


@dataclass(frozen=True, kw_only=True)
class OrthographicCamera(Camera):
    """Orthographic fisheye ``r = sin(theta)``; one-to-one below 90 degrees."""

    model = "orthographic"

    @property
    def incidence_limit(self) -> float:
        return math.pi / 2

    def _radius(self, theta: float) -> float:
        return math.sin(min(theta, math.pi / 2))

    def _radius_over_sin(self, sin_t, cos_t, theta):
        return torch.ones_like(sin_t)

    def _lift(self, radius):
        return torch.ones_like(radius), torch.sqrt((1 - radius) * (1 + radius))
