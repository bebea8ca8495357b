"""Checks and choices shared by the resampling functions: modes, orientations, supersampling."""

from __future__ import annotations

import math
from typing import Literal

import torch

from equisphere.cameras import Camera
from equisphere.resample.samples import cell_sizes
from equisphere.so3 import check_rotation_matrix
from equisphere.sphere import HealpixGrid, SphereGrid

__all__ = [
    "MAX_SUPERSAMPLING",
    "camera_pixels_per_radian",
    "check_mode",
    "check_supersampling",
    "grid_counts",
    "rotation_and_key",
]

Mode = Literal["bilinear", "nearest"]
Supersampling = int | Literal["auto"]

MAX_SUPERSAMPLING = 8


def check_mode(mode: str) -> str:
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"expected mode 'bilinear' (values) or 'nearest' (labels), got {mode!r}")
    return mode


def check_supersampling(value: object) -> int | str:
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 32:
        raise ValueError(f"expected supersampling 'auto' or an integer in 1..32, got {value!r}")
    return value


def check_grid(grid: object) -> SphereGrid:
    if not isinstance(grid, SphereGrid):
        raise TypeError(
            f"expected a SphereGrid (e.g. EquiangularGrid(64)), got {type(grid).__name__}"
        )
    return grid


def rotation_and_key(world_from_camera: torch.Tensor | None) -> tuple[torch.Tensor, tuple]:
    """``world_from_camera`` as float64 CPU (identity for None) and a hashable key."""
    if world_from_camera is None:
        rotation = torch.eye(3, dtype=torch.float64)
    else:
        rotation = torch.as_tensor(world_from_camera).detach().to("cpu", torch.float64)
        if rotation.shape != (3, 3):
            raise ValueError(
                f"expected world_from_camera of shape (3, 3), got {tuple(rotation.shape)}"
            )
        check_rotation_matrix(rotation, atol=1e-6)
    return rotation, tuple(rotation.reshape(-1).tolist())


def camera_pixels_per_radian(camera: Camera) -> tuple[float, float]:
    """Smallest and largest image-plane density of the lens (pixels per radian of arc).

    Measured by finite differences of ``project``, radially and tangentially, at
    incidences up to the largest seen at the image border (or the field of view
    when part of the border lies outside the lens's image circle).
    """
    t = torch.linspace(0, 1, 257, dtype=torch.float64)
    along_u, along_v = t * camera.width - 0.5, t * camera.height - 0.5
    left, top = torch.full_like(t, -0.5), torch.full_like(t, -0.5)
    right, bottom = torch.full_like(t, camera.width - 0.5), torch.full_like(t, camera.height - 0.5)
    border = torch.cat(
        [
            torch.stack([along_u, top], dim=-1),
            torch.stack([along_u, bottom], dim=-1),
            torch.stack([left, along_v], dim=-1),
            torch.stack([right, along_v], dim=-1),
        ]
    )  # (4 * 257, 2): the outline of the sensor
    rays, valid = camera.unproject(border)
    if valid.all():
        theta_max = float(torch.atan2(rays[:, :2].norm(dim=-1), rays[:, 2]).max())
    else:
        theta_max = camera.field_of_view
    theta_max = min(theta_max, camera.field_of_view * (1 - 1e-6))
    theta = torch.linspace(1e-3, theta_max, 256, dtype=torch.float64)
    step = 1e-6
    densities = []
    for phi in (0.0, math.pi / 2, math.pi, 3 * math.pi / 2):
        here, ok0 = camera.project(_ray(theta, phi))
        radial, ok1 = camera.project(_ray(theta - step, phi))
        tangential, ok2 = camera.project(_ray(theta, phi + step))
        ok = ok0 & ok1 & ok2
        radial_density = (here - radial).norm(dim=-1) / step
        tangential_density = (tangential - here).norm(dim=-1) / (step * theta.sin())
        densities.append(torch.stack([radial_density, tangential_density])[:, ok])
    density = torch.cat(densities, dim=1)
    if density.numel() == 0:
        raise ValueError(f"the camera sees no ray within its image: {camera!r}")
    return float(density.min()), float(density.max())


def _ray(theta: torch.Tensor, phi: float) -> torch.Tensor:
    return torch.stack(
        [theta.sin() * math.cos(phi), theta.sin() * math.sin(phi), theta.cos()], dim=-1
    )


def grid_counts(
    grid: SphereGrid,
    supersampling: int | str,
    theta_density: float,
    phi_density: float | None = None,
    phi_per_cell: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sub-samples per cell ``(s_theta, s_phi)`` for ``grid_cell_samples``.

    With an integer, ``s x s`` everywhere. With ``"auto"``, enough that sub-samples
    are at most one input pixel apart: ``ceil(extent * density)`` along each
    direction (density in input pixels per radian of arc), or, when
    ``phi_per_cell`` is given, that many along the longitude (panoramas, whose
    pixels shrink with the rings), capped at ``MAX_SUPERSAMPLING``.
    """
    d_theta, d_arc = cell_sizes(grid)
    if supersampling != "auto":
        s = int(supersampling)
        if isinstance(grid, HealpixGrid) and s & (s - 1):
            raise ValueError(f"expected a power of two as HEALPix supersampling, got {s}")
        counts = torch.full_like(d_theta, s, dtype=torch.int64)
        return counts, counts.clone()
    s_theta = torch.ceil(d_theta * theta_density - 1e-9).clamp(1, MAX_SUPERSAMPLING).long()
    if phi_per_cell is not None:
        s_phi = torch.full_like(
            s_theta, min(MAX_SUPERSAMPLING, max(1, math.ceil(phi_per_cell - 1e-9)))
        )
    else:
        density = theta_density if phi_density is None else phi_density
        s_phi = torch.ceil(d_arc * density - 1e-9).clamp(1, MAX_SUPERSAMPLING).long()
    if isinstance(grid, HealpixGrid):
        # Children at nside * s: s must be a power of two.
        s = int(max(s_theta.max(), s_phi.max()))
        s = 1 << (s - 1).bit_length()
        s_theta = torch.tensor([min(s, MAX_SUPERSAMPLING)])
        s_phi = s_theta.clone()
    return s_theta, s_phi
