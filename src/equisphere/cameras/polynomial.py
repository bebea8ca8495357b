"""Lenses whose radius is a polynomial in the incidence angle: Kannala-Brandt and WoodScape.

``r(theta) = sum_i c_i theta^i`` (no constant term). The inverse has no closed
form, so it is solved numerically, and only where the map is one-to-one: from
``theta = 0`` up to the first angle where ``r`` stops growing (the *fold*, the
smallest root of ``r'`` in ``(0, pi)``), or up to 180 degrees. Pixels beyond the
fold's radius are reported invalid: a folding polynomial would otherwise send
them to a ray on the wrong side of the image.

The solve: a tabulated inverse gives a bracket and a first guess, then
safeguarded Newton steps (bisection when a step leaves the bracket) run to
machine precision. A last Newton step is taken with autograd on, so gradients
are those of the exact inverse, ``d theta / d r = 1 / r'(theta)``.

Conventions: camera frame and pixels as in docs/conventions.md.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from equisphere.cameras.base import Camera

__all__ = ["KannalaBrandtCamera", "PolynomialCamera", "RadialPolyCamera"]

logger = logging.getLogger(__name__)

_TABLE_SIZE = 4096
_MAX_NEWTON_STEPS = 60


def _sinc(x: torch.Tensor) -> torch.Tensor:
    return torch.sinc(x / math.pi)


@dataclass(frozen=True, kw_only=True)
class PolynomialCamera(Camera):
    """Base of the polynomial lenses; subclasses give ``poly`` = ``(c_1, c_2, ...)``."""

    @property
    def poly(self) -> tuple[float, ...]:
        """Coefficients ``c_1 .. c_n`` of ``r(theta) = sum c_i theta^i``."""
        raise NotImplementedError

    def _check_lens(self) -> None:
        if self.poly[0] <= 0:
            raise ValueError(
                f"expected the lens polynomial to start increasing (r'(0) = c_1 > 0), got "
                f"c_1 = {self.poly[0]!r}: the first coefficient must be positive"
            )
        if self.fold_incidence is not None:
            logger.debug(
                "%s lens polynomial folds at %.2f degrees (radius %.4g); "
                "pixels beyond it are invalid",
                self.model,
                math.degrees(self.fold_incidence),
                self._radius(self.fold_incidence),
            )

    @cached_property
    def fold_incidence(self) -> float | None:
        """Smallest angle in ``(0, pi)`` where ``r'(theta) = 0`` (radians), or None.

        Found twice over, so neither a badly scaled polynomial nor a pair of close
        roots escapes: the real roots of ``r'`` (negligible leading coefficients
        dropped) and the first sign change of ``r'`` on a dense scan of ``[0, pi]``.
        """
        slope = np.array([i * c for i, c in enumerate(self.poly, start=1)])  # ascending powers
        size = np.abs(slope) * math.pi ** np.arange(slope.size)
        slope = slope[: int(np.flatnonzero(size > 1e-15 * size.max()).max()) + 1]
        candidates = []
        if slope.size > 1:
            roots = np.roots(slope[::-1])
            real = roots[np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots))].real
            candidates.extend(real[(real > 0) & (real < math.pi)].tolist())
        theta = np.linspace(0, math.pi, 8193)
        bad = np.flatnonzero(np.polynomial.polynomial.polyval(theta, slope) <= 0)
        if bad.size:
            lo, hi = theta[bad[0] - 1], theta[bad[0]]
            for _ in range(60):
                mid = (lo + hi) / 2
                lo, hi = (
                    (mid, hi) if np.polynomial.polynomial.polyval(mid, slope) > 0 else (lo, mid)
                )
            candidates.append(hi)
        if not candidates:
            return None
        # Polish the smallest root with Newton steps on r' so the boundary is exact.
        root = float(min(candidates))
        curvature = np.polynomial.polynomial.polyder(slope)
        for _ in range(3):
            d2 = np.polynomial.polynomial.polyval(root, curvature)
            if d2 == 0:
                break
            step = np.polynomial.polynomial.polyval(root, slope) / d2
            if not abs(step) < 1e-6:
                break
            root -= step
        return root

    @property
    def incidence_limit(self) -> float:
        fold = self.fold_incidence
        return math.pi if fold is None else fold

    def _radius(self, theta: float) -> float:
        return sum(c * theta**i for i, c in enumerate(self.poly, start=1))

    def _radius_over_theta(self, theta: torch.Tensor) -> torch.Tensor:
        """``r(theta) / theta`` by Horner's rule (no singularity at 0)."""
        out = torch.full_like(theta, self.poly[-1])
        for c in self.poly[-2::-1]:
            out = out * theta + c
        return out

    def _radius_and_slope(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        radius = theta * self._radius_over_theta(theta)
        slope = torch.full_like(theta, len(self.poly) * self.poly[-1])
        for i in range(len(self.poly) - 1, 0, -1):
            slope = slope * theta + i * self.poly[i - 1]
        return radius, slope

    def _radius_over_sin(self, sin_t, cos_t, theta):
        return self._radius_over_theta(theta) / _sinc(theta)

    @cached_property
    def _table(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(theta_i, r(theta_i))`` on ``[0, incidence_limit]``, float64, increasing."""
        theta = torch.linspace(0, self.incidence_limit, _TABLE_SIZE, dtype=torch.float64)
        return theta, theta * self._radius_over_theta(theta)

    def incidence(self, radius: torch.Tensor) -> torch.Tensor:
        """Incidence angle ``theta`` with ``r(theta) = radius`` on the one-to-one branch.

        Parameters
        ----------
        radius : torch.Tensor
            Normalised radii in ``[0, radius_limit]``; larger values are clamped.

        Returns
        -------
        torch.Tensor
            Radians, same shape; differentiable with ``d theta / d r = 1 / r'(theta)``.
        """
        table_theta, table_radius = (t.to(radius.device) for t in self._table)
        eps = torch.finfo(radius.dtype).eps
        with torch.no_grad():
            target = radius.detach().to(torch.float64).clamp(0, float(table_radius[-1]))
            hi_index = torch.searchsorted(table_radius, target).clamp(1, _TABLE_SIZE - 1)
            lo, hi = table_theta[hi_index - 1], table_theta[hi_index]
            r_lo, r_hi = table_radius[hi_index - 1], table_radius[hi_index]
            theta = lo + (hi - lo) * ((target - r_lo) / (r_hi - r_lo)).clamp(0, 1)
            for _ in range(_MAX_NEWTON_STEPS):
                value, slope = self._radius_and_slope(theta)
                residual = value - target
                lo = torch.where(residual <= 0, theta, lo)
                hi = torch.where(residual >= 0, theta, hi)
                step = theta - residual / slope
                outside = ~((step > lo) & (step < hi))
                step = torch.where(outside, (lo + hi) / 2, step)
                change = (step - theta).abs()
                theta = step
                if bool((change <= 4 * torch.finfo(torch.float64).eps * (1 + theta)).all()):
                    break
            theta = theta.to(radius.dtype)

        # One differentiable Newton step at the converged root: exact implicit gradient.
        value, slope = self._radius_and_slope(theta)
        slope = torch.where(slope.abs() > eps, slope, eps)
        return theta - (value - radius) / slope

    def _lift(self, radius):
        theta = self.incidence(radius)
        # sin t / r = (sin t / t) / (r / t): finite at the axis.
        return _sinc(theta) / self._radius_over_theta(theta), torch.cos(theta)


@dataclass(frozen=True, kw_only=True)
class KannalaBrandtCamera(PolynomialCamera):
    """Kannala-Brandt fisheye, as OpenCV's ``cv2.fisheye``.

    ``r(theta) = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8)``
    with pixels ``u = fx (m_x + alpha m_y) + cx``, ``v = fy m_y + cy``; here
    ``skew = fx alpha`` (``K[0, 1]``). Unlike OpenCV, which takes
    ``theta = atan(|(x/z, y/z)|)`` and so folds rays behind the camera onto the
    front, the incidence is taken from the full ray: rays beyond 90 degrees are
    imaged wherever the polynomial stays one-to-one.

    Examples
    --------
    >>> cam = KannalaBrandtCamera(width=1280, height=800, fx=330.0, fy=330.0,
    ...                           cx=639.5, cy=399.5, k1=0.05, k2=-0.01)
    >>> ray = torch.tensor([0.3, -0.1, 0.8], dtype=torch.float64)
    >>> back, valid = cam.unproject(cam.project(ray)[0])
    >>> bool(valid), torch.allclose(back, ray / ray.norm(), atol=1e-12)
    (True, True)
    """

    model = "kannala_brandt"

    k1: float = 0.0
    k2: float = 0.0
    k3: float = 0.0
    k4: float = 0.0

    @property
    def poly(self) -> tuple[float, ...]:
        return (1.0, 0.0, self.k1, 0.0, self.k2, 0.0, self.k3, 0.0, self.k4)


@dataclass(frozen=True, kw_only=True)
class RadialPolyCamera(PolynomialCamera):
    """WoodScape ``radial_poly`` fisheye: ``rho(theta) = sum_i k_i theta^i`` in pixels.

    ``coefficients = (k1, k2, ...)``. With ``fx = 1`` and ``fy = aspect_ratio`` (as
    ``read_woodscape`` builds it) ``rho`` is in pixels and the aspect ratio scales
    the vertical component only, as in the WoodScape calibration files.
    """

    model = "radial_poly"

    coefficients: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        coefficients = self.coefficients
        if isinstance(coefficients, (list, np.ndarray)):
            coefficients = tuple(float(c) for c in coefficients)
            object.__setattr__(self, "coefficients", coefficients)
        if not isinstance(coefficients, tuple) or not coefficients:
            raise ValueError(f"expected a non-empty tuple of coefficients, got {coefficients!r}")
        super().__post_init__()

    @property
    def poly(self) -> tuple[float, ...]:
        return self.coefficients
