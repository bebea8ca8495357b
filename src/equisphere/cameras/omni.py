"""Omnidirectional lenses built from spheres: unified (Mei) and Double Sphere.

Unified camera model (Geyer-Daniilidis, Mei-Rives), parameter ``xi >= 0``: the
unit ray is shifted by ``xi`` along the axis and projected perspectively,
``m = (x, y) / (z + xi |p|)``, so ``r(theta) = sin(theta) / (cos(theta) + xi)``.
It is one-to-one while ``cos(theta) > -min(xi, 1/xi)``; ``xi = 0`` is the pinhole
and ``xi = 1`` half the stereographic radius.

Double Sphere (Usenko, Demmel, Cremers 2018), parameters ``xi`` and ``alpha``:
``d1 = |p|``, ``d2 = |(x, y, z + xi d1)|``,
``m = (x, y) / (alpha d2 + (1 - alpha)(xi d1 + z))``; valid for
``z > -w2 d1`` with ``w1 = alpha / (1 - alpha)`` if ``alpha <= 1/2`` else
``(1 - alpha) / alpha`` and ``w2 = (w1 + xi) / sqrt(2 w1 xi + xi^2 + 1)``.

Both inverses are closed forms (the paper's lifting formulas).

Conventions: camera frame and pixels as in docs/conventions.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from equisphere.cameras.base import Camera

__all__ = ["DoubleSphereCamera", "UnifiedCamera"]


@dataclass(frozen=True, kw_only=True)
class UnifiedCamera(Camera):
    """Unified (Mei) omnidirectional camera with mirror parameter ``xi >= 0``.

    Examples
    --------
    >>> cam = UnifiedCamera(width=800, height=800, fx=300.0, fy=300.0, cx=399.5,
    ...                     cy=399.5, xi=1.2)
    >>> ray = torch.tensor([1.0, 0.0, -0.3], dtype=torch.float64)  # behind the camera
    >>> pixels, valid = cam.project(ray)
    >>> bool(valid), round(float(pixels[0]), 4)
    (True, 714.3493)
    """

    model = "unified"

    xi: float = 0.0

    def _check_lens(self) -> None:
        if self.xi < 0:
            raise ValueError(f"expected xi >= 0 for the unified camera model, got xi = {self.xi!r}")

    @property
    def incidence_limit(self) -> float:
        if self.xi == 0:
            return math.pi / 2
        return math.acos(-min(self.xi, 1 / self.xi))

    def _radius(self, theta: float) -> float:
        denominator = math.cos(theta) + self.xi
        if self.xi <= 1 and denominator <= 1e-300:
            return math.inf
        return math.sin(theta) / denominator

    def _radius_over_sin(self, sin_t, cos_t, theta):
        return 1 / (cos_t + self.xi)

    def _lift(self, radius):
        r2 = radius * radius
        factor = (self.xi + torch.sqrt((1 + (1 - self.xi**2) * r2).clamp_min(0))) / (1 + r2)
        return factor, factor - self.xi


@dataclass(frozen=True, kw_only=True)
class DoubleSphereCamera(Camera):
    """Double Sphere camera (Usenko et al. 2018), ``xi`` in ``(-1, 1]``, ``alpha`` in ``[0, 1)``.

    Examples
    --------
    >>> cam = DoubleSphereCamera(width=800, height=800, fx=300.0, fy=300.0,
    ...                          cx=399.5, cy=399.5, xi=-0.2, alpha=0.6)
    >>> round(math.degrees(cam.field_of_view), 2)
    122.05
    """

    model = "double_sphere"

    xi: float = 0.0
    alpha: float = 0.5

    def _check_lens(self) -> None:
        if not -1 < self.xi <= 1:
            raise ValueError(f"expected xi in (-1, 1] for the Double Sphere model, got {self.xi!r}")
        if not 0 <= self.alpha < 1:
            raise ValueError(
                f"expected alpha in [0, 1) for the Double Sphere model, got {self.alpha!r}"
            )

    @cached_property
    def incidence_limit(self) -> float:
        # The paper's bound z > -w2 |p|, tightened to where r keeps growing: for
        # xi < 0 the denominator can vanish, or r turn back, before it.
        alpha, xi = self.alpha, self.xi
        w1 = alpha / (1 - alpha) if alpha <= 0.5 else (1 - alpha) / alpha
        w2 = (w1 + xi) / math.sqrt(2 * w1 * xi + xi * xi + 1)
        upper = math.acos(-w2)
        theta = np.linspace(0, upper, 4097)[1:]
        bad = np.flatnonzero(~self._increasing(theta))
        if bad.size == 0:
            return upper
        lo, hi = float(theta[bad[0] - 1]) if bad[0] else 0.0, float(theta[bad[0]])
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self._increasing(np.array([mid]))[0] else (lo, mid)
        return lo

    def _increasing(self, theta: np.ndarray) -> np.ndarray:
        """True where the denominator is positive and ``r'(theta) > 0``."""
        s, c = np.sin(theta), np.cos(theta)
        d2 = np.sqrt(np.maximum(1 + 2 * self.xi * c + self.xi**2, 1e-300))
        denominator = self.alpha * d2 + (1 - self.alpha) * (self.xi + c)
        slope = -self.alpha * self.xi * s / d2 - (1 - self.alpha) * s
        return (denominator > 0) & (c * denominator - s * slope > 0)

    def _radius(self, theta: float) -> float:
        s, c = math.sin(theta), math.cos(theta)
        d2 = math.hypot(s, c + self.xi)
        denominator = self.alpha * d2 + (1 - self.alpha) * (self.xi + c)
        return math.inf if denominator <= 1e-300 else s / denominator

    def _radius_over_sin(self, sin_t, cos_t, theta):
        shifted = cos_t + self.xi
        d2 = torch.hypot(sin_t, shifted)
        return 1 / (self.alpha * d2 + (1 - self.alpha) * shifted)

    def _lift(self, radius):
        alpha, xi = self.alpha, self.xi
        r2 = radius * radius
        root = torch.sqrt((1 - (2 * alpha - 1) * r2).clamp_min(0))
        mz = (1 - alpha * alpha * r2) / (alpha * root + 1 - alpha)
        factor = (mz * xi + torch.sqrt((mz * mz + (1 - xi * xi) * r2).clamp_min(0))) / (
            mz * mz + r2
        )
        return factor, factor * mz - xi
