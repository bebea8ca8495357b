"""The central, radially symmetric camera: what every lens model shares.

Every lens here maps a ray at incidence angle ``theta`` and azimuth ``phi`` to the
normalised image point ``m = r(theta) (cos phi, sin phi)`` and then to pixels with
the affine intrinsics ``u = fx m_x + skew m_y + cx``, ``v = fy m_y + cy``. A lens
model only supplies ``r`` and its inverse; this module does the frames, the
validity masks and the checks.

Conventions (docs/conventions.md): camera frame x right, y down, z along the
optical axis; ``theta = atan2(sqrt(x^2 + y^2), z)`` from the full 3D ray, so rays
beyond 90 degrees are handled wherever the lens sees them; pixels ``(u, v) =
(column, row)`` with integer values at pixel centres and ``(0, 0)`` the centre of
the top-left pixel.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import torch

__all__ = ["Camera", "check_pixels", "check_rays"]


def check_rays(rays: torch.Tensor, name: str = "rays_in_camera") -> torch.Tensor:
    """Raise unless ``rays`` is a finite floating tensor of shape ``(..., 3)``."""
    if not isinstance(rays, torch.Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(rays).__name__}")
    if rays.ndim < 1 or rays.shape[-1] != 3:
        raise ValueError(f"expected {name} of shape (..., 3), got shape {tuple(rays.shape)}")
    if not rays.is_floating_point():
        raise TypeError(f"expected {name} of a floating dtype, got {rays.dtype}")
    if not torch.isfinite(rays).all():
        raise ValueError(f"expected finite {name}, got NaN or infinite entries")
    return rays


def check_pixels(pixels: torch.Tensor, name: str = "pixels") -> torch.Tensor:
    """Raise unless ``pixels`` is a finite floating tensor of shape ``(..., 2)``."""
    if not isinstance(pixels, torch.Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(pixels).__name__}")
    if pixels.ndim < 1 or pixels.shape[-1] != 2:
        raise ValueError(
            f"expected {name} (u, v) of shape (..., 2), got shape {tuple(pixels.shape)}"
        )
    if not pixels.is_floating_point():
        raise TypeError(f"expected {name} of a floating dtype, got {pixels.dtype}")
    if not torch.isfinite(pixels).all():
        raise ValueError(f"expected finite {name}, got NaN or infinite entries")
    return pixels


def _hypot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``sqrt(x^2 + y^2)`` with a zero (not NaN) gradient at the origin."""
    squared = x * x + y * y
    positive = squared > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, squared, 1.0)), 0.0)


def _check_finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected {name} to be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite {name}, got {value!r}: check the calibration")
    return float(value)


@dataclass(frozen=True, kw_only=True)
class Camera:
    """A central camera with a radially symmetric lens; subclasses give the lens.

    Parameters
    ----------
    width, height : int
        Image size in pixels.
    fx, fy : float
        Scale of the normalised image point in pixels, horizontally and vertically.
        For the lenses with a focal length this is the focal length in pixels.
    cx, cy : float
        Principal point in pixels (pixel-centre convention).
    skew : float
        Horizontal shear: ``u = fx m_x + skew m_y + cx`` (``K[0, 1]`` in OpenCV).
    max_incidence : float, optional
        Field-of-view limit in radians: rays beyond it and the pixels that would
        see them are invalid. Default: the lens's own limit.

    Notes
    -----
    ``project`` and ``unproject`` return a validity mask; entries where it is False
    hold finite placeholders (the principal point, the optical axis) so that no NaN
    reaches a loss or a gradient. A camera is immutable and hashable, so resampling
    maps can be cached by it. It is differentiable with respect to rays and pixels;
    its parameters are plain numbers.

    Round trips ``unproject(project(ray))`` agree to 1e-9 in float64 over the whole
    one-to-one range. Known limit: float32 pixels carry ~1e-4 px of rounding, so
    where a lens's radius flattens (equisolid at 99% of its range) a float32 round
    trip is off by up to ~1e-3 rad; use float64 there.
    """

    model: ClassVar[str] = "camera"

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    skew: float = 0.0
    max_incidence: float | None = None

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():
                object.__setattr__(self, name, int(value))
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"expected {name} to be a positive whole number, got {value!r}")
        for field in dataclasses.fields(self):
            if field.name in ("width", "height", "max_incidence"):
                continue
            value = getattr(self, field.name)
            if isinstance(value, tuple):
                object.__setattr__(
                    self,
                    field.name,
                    tuple(_check_finite(f"{field.name}[{i}]", v) for i, v in enumerate(value)),
                )
            else:
                object.__setattr__(self, field.name, _check_finite(field.name, value))
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"expected positive fx and fy, got fx={self.fx!r}, fy={self.fy!r}")
        if self.max_incidence is not None:
            limit = _check_finite("max_incidence", self.max_incidence)
            if not 0 < limit <= math.pi:
                raise ValueError(f"expected max_incidence in (0, pi] radians, got {limit!r}")
            object.__setattr__(self, "max_incidence", limit)
        self._check_lens()

    # ----- what a lens model supplies -------------------------------------------------

    def _check_lens(self) -> None:
        """Validate the lens parameters (raise ``ValueError``)."""

    @property
    def incidence_limit(self) -> float:
        """Exclusive upper bound of the incidence angles the lens maps one-to-one (radians)."""
        raise NotImplementedError

    def _radius(self, theta: float) -> float:
        """Normalised radius ``r(theta)`` for one angle, in float64 (used for limits)."""
        raise NotImplementedError

    def _radius_over_sin(
        self, sin_t: torch.Tensor, cos_t: torch.Tensor, theta: torch.Tensor
    ) -> torch.Tensor:
        """``r(theta) / sin(theta)``, finite on the valid range including ``theta = 0``."""
        raise NotImplementedError

    def _lift(self, radius: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(sin(theta) / r, cos(theta))`` for valid normalised radii, finite at ``r = 0``."""
        raise NotImplementedError

    # ----- derived limits -------------------------------------------------------------

    @property
    def field_of_view(self) -> float:
        """Largest valid incidence angle in radians (half the full field of view)."""
        if self.max_incidence is None:
            return self.incidence_limit
        return min(self.max_incidence, self.incidence_limit)

    @cached_property
    def radius_limit(self) -> float:
        """Exclusive bound on the normalised radius of valid pixels (may be ``inf``)."""
        return self._radius(self.incidence_limit)

    @cached_property
    def _radius_cap(self) -> float:
        """Inclusive bound from ``max_incidence`` (``inf`` when there is none)."""
        if self.max_incidence is None or self.max_incidence >= self.incidence_limit:
            return math.inf
        return self._radius(self.max_incidence)

    # ----- the maps -------------------------------------------------------------------

    def project(self, rays_in_camera: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixels where rays are imaged.

        Parameters
        ----------
        rays_in_camera : torch.Tensor, shape (..., 3)
            Ray directions in the camera frame (any non-zero length).

        Returns
        -------
        pixels : torch.Tensor, shape (..., 2)
            ``(u, v)`` in pixels; the principal point where ``valid`` is False.
        valid : torch.Tensor of bool, shape (...)
            True where the lens images the ray one-to-one (incidence below the
            lens limit and ``max_incidence``). Whether the pixel lies on the
            sensor is a separate question: see ``contains``.

        Conventions
        -----------
        Camera frame and pixel centres as in docs/conventions.md.
        """
        check_rays(rays_in_camera)

        norm = torch.linalg.vector_norm(rays_in_camera, dim=-1)
        unit = rays_in_camera / norm.clamp_min(torch.finfo(norm.dtype).tiny)[..., None]
        sin_t = _hypot(unit[..., 0], unit[..., 1])
        theta = torch.atan2(sin_t, unit[..., 2])
        valid = (norm > 0) & (theta < self.incidence_limit)
        if self.max_incidence is not None:
            valid &= theta <= self.max_incidence

        # Invalid rays are replaced by the optical axis so no branch produces NaN.
        axis = torch.tensor([0.0, 0.0, 1.0], dtype=unit.dtype, device=unit.device)
        unit = torch.where(valid[..., None], unit, axis)
        sin_t = torch.where(valid, sin_t, 0.0)
        theta = torch.where(valid, theta, 0.0)
        scale = self._radius_over_sin(sin_t, unit[..., 2], theta)
        mx, my = scale * unit[..., 0], scale * unit[..., 1]
        u = self.fx * mx + self.skew * my + self.cx
        v = self.fy * my + self.cy
        return torch.stack([u, v], dim=-1), valid

    def unproject(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit rays seen by pixels.

        Parameters
        ----------
        pixels : torch.Tensor, shape (..., 2)
            ``(u, v)`` in pixels.

        Returns
        -------
        rays_in_camera : torch.Tensor, shape (..., 3)
            Unit rays in the camera frame; the optical axis where ``valid`` is False.
        valid : torch.Tensor of bool, shape (...)
            True where the pixel lies inside the lens's one-to-one image (and
            within ``max_incidence``); pixels beyond a fold of the lens map are
            invalid rather than given a wrong ray.

        Conventions
        -----------
        Camera frame and pixel centres as in docs/conventions.md.
        """
        check_pixels(pixels)

        my = (pixels[..., 1] - self.cy) / self.fy
        mx = (pixels[..., 0] - self.cx - self.skew * my) / self.fx
        radius = _hypot(mx, my)
        valid = radius < self.radius_limit
        if self._radius_cap < math.inf:
            valid &= radius <= self._radius_cap

        radius = torch.where(valid, radius, 0.0)
        sin_over_radius, cos_t = self._lift(radius)
        rays = torch.stack([sin_over_radius * mx, sin_over_radius * my, cos_t], dim=-1)
        axis = torch.tensor([0.0, 0.0, 1.0], dtype=rays.dtype, device=rays.device)
        return torch.where(valid[..., None], rays, axis), valid

    # ----- image helpers --------------------------------------------------------------

    @property
    def image_size(self) -> tuple[int, int]:
        """``(height, width)``, the trailing shape of an image from this camera."""
        return self.height, self.width

    def contains(self, pixels: torch.Tensor) -> torch.Tensor:
        """True where ``(u, v)`` falls on the sensor: ``-0.5 <= u <= width - 0.5``, same for v."""
        u, v = pixels[..., 0], pixels[..., 1]
        return (u >= -0.5) & (u <= self.width - 0.5) & (v >= -0.5) & (v <= self.height - 0.5)

    def largest_incidence_in_image(self) -> float:
        """Largest incidence angle (radians) seen anywhere on the sensor.

        Taken on the sensor's outline (1028 points); when part of the outline lies
        outside the lens's image circle, the field of view itself.
        """
        t = torch.linspace(0, 1, 257, dtype=torch.float64)
        along_u, along_v = t * self.width - 0.5, t * self.height - 0.5
        low = torch.full_like(t, -0.5)
        right, bottom = torch.full_like(t, self.width - 0.5), torch.full_like(t, self.height - 0.5)
        outline = torch.cat(
            [
                torch.stack([along_u, low], dim=-1),
                torch.stack([along_u, bottom], dim=-1),
                torch.stack([low, along_v], dim=-1),
                torch.stack([right, along_v], dim=-1),
            ]
        )  # (4 * 257, 2)
        rays, valid = self.unproject(outline)
        if not valid.all():
            return self.field_of_view
        return float(torch.atan2(rays[:, :2].norm(dim=-1), rays[:, 2]).max())

    def pixel_centres(
        self, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """``(u, v)`` of every pixel centre, shape ``(height, width, 2)``."""
        v, u = torch.meshgrid(
            torch.arange(self.height, dtype=dtype, device=device),
            torch.arange(self.width, dtype=dtype, device=device),
            indexing="ij",
        )
        return torch.stack([u, v], dim=-1)

    def check_image(self, image: torch.Tensor, name: str = "image") -> torch.Tensor:
        """Raise ``ValueError`` unless ``image`` is ``(..., height, width)`` for this camera."""
        if not isinstance(image, torch.Tensor):
            raise TypeError(f"expected {name} to be a torch.Tensor, got {type(image).__name__}")
        if image.ndim < 2 or tuple(image.shape[-2:]) != (self.height, self.width):
            got = tuple(image.shape[-2:]) if image.ndim >= 2 else tuple(image.shape)
            raise ValueError(
                f"expected {name} of size (height, width) = ({self.height}, {self.width}) "
                f"as in the calibration, got {got}; resize the image, or use "
                "camera.resized(width, height) if the image was scaled after calibration"
            )
        return image

    def resized(self, width: int, height: int) -> Camera:
        """The same lens for an image scaled to ``width x height``.

        Conventions
        -----------
        A pixel coordinate ``u`` becomes ``(u + 0.5) s - 0.5`` with ``s = width / self.width``.
        """
        sx, sy = width / self.width, height / self.height
        return dataclasses.replace(
            self,
            width=width,
            height=height,
            fx=self.fx * sx,
            fy=self.fy * sy,
            skew=self.skew * sx,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
        )

    def parameters(self) -> dict[str, object]:
        """The fields as plain Python values (with ``model``), for files and logs."""
        values = {"model": self.model}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            values[field.name] = list(value) if isinstance(value, tuple) else value
        return values
