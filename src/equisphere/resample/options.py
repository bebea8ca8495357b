"""Checks and choices shared by the resampling functions: modes, orientations, supersampling."""

from __future__ import annotations

import math
from typing import Literal

import torch

from equisphere.cameras import Camera
from equisphere.resample.samples import Counts
from equisphere.so3 import check_rotation_matrix
from equisphere.sphere import HealpixGrid, SphereGrid

__all__ = [
    "MAX_SUPERSAMPLING",
    "camera_counts",
    "camera_pixels_per_radian",
    "check_grid",
    "check_mode",
    "check_supersampling",
    "equirect_counts",
    "lens_density_profile",
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


def lens_density_profile(camera: Camera) -> tuple[torch.Tensor, torch.Tensor, float]:
    """How finely the lens samples each incidence angle.

    Returns
    -------
    theta : torch.Tensor, shape (256,)
        Incidence angles from 0 to the largest one the image shows (radians).
    density : torch.Tensor, shape (256,)
        Image pixels per radian of arc at each angle: the larger of the radial and
        tangential densities (finite differences of ``project``, worst azimuth).
    theta_visible : float
        Largest incidence seen anywhere on the sensor: from the image border, or the
        field of view when part of the border lies outside the lens's image circle.
    """
    theta_visible = camera.largest_incidence_in_image()
    theta_max = min(theta_visible, camera.field_of_view * (1 - 1e-6))
    theta = torch.linspace(1e-3, theta_max, 256, dtype=torch.float64)
    step = 1e-6
    density = torch.zeros_like(theta)
    for phi in (0.0, math.pi / 2, math.pi, 3 * math.pi / 2):
        here, ok0 = camera.project(_ray(theta, phi))
        radial, ok1 = camera.project(_ray(theta - step, phi))
        tangential, ok2 = camera.project(_ray(theta, phi + step))
        ok = ok0 & ok1 & ok2
        radial_density = (here - radial).norm(dim=-1) / step
        tangential_density = (tangential - here).norm(dim=-1) / (step * theta.sin())
        best = torch.where(ok, torch.maximum(radial_density, tangential_density), 0.0)
        density = torch.maximum(density, best)
    return theta, density, theta_visible


def camera_pixels_per_radian(camera: Camera) -> tuple[float, float]:
    """Smallest and largest pixels per radian of arc over what the lens shows."""
    _, density, _ = lens_density_profile(camera)
    positive = density[density > 0]
    if positive.numel() == 0:
        raise ValueError(f"the camera sees no ray within its image: {camera!r}")
    return float(positive.min()), float(positive.max())


def _ray(theta: torch.Tensor, phi: float) -> torch.Tensor:
    return torch.stack(
        [theta.sin() * math.cos(phi), theta.sin() * math.sin(phi), theta.cos()], dim=-1
    )


def _subdivide(extent: torch.Tensor, density: torch.Tensor | float) -> torch.Tensor:
    """Sub-samples at most one input pixel apart: ``ceil(extent * density)`` in ``1..8``."""
    return torch.ceil(extent * density - 1e-9).clamp(1, MAX_SUPERSAMPLING).long()


def camera_counts(camera: Camera, rotation: torch.Tensor, supersampling: int | str) -> Counts:
    """Per-cell sub-sample counts for resampling a camera image onto a grid.

    Cells whose nearest point lies beyond the largest incidence the sensor shows
    are skipped. With ``"auto"``, each cell gets ``ceil(extent * density)``
    sub-samples per direction, the density being the lens's largest pixel
    density near the cell's incidence angle.
    """
    theta_table, density_table, theta_visible = lens_density_profile(camera)

    def density_at(theta: torch.Tensor) -> torch.Tensor:
        position = (theta - theta_table[0]) / (theta_table[1] - theta_table[0])
        index = position.round().long().clamp(0, theta_table.numel() - 1)
        return density_table[index]

    def counts(centres: torch.Tensor, d_theta: torch.Tensor, d_arc: torch.Tensor):
        rays_in_camera = centres @ rotation  # (n, 3): R^T d for each row d
        incidence = torch.atan2(rays_in_camera[:, :2].norm(dim=-1), rays_in_camera[:, 2])
        reach = torch.hypot(d_theta, d_arc)  # a generous bound on a cell's radius
        visible = incidence - reach <= theta_visible
        if supersampling == "auto":
            density = torch.maximum(density_at(incidence - reach), density_at(incidence))
            density = torch.maximum(density, density_at(incidence + reach))
            s_theta, s_phi = _subdivide(d_theta, density), _subdivide(d_arc, density)
        else:
            s_theta = s_phi = torch.full_like(incidence, int(supersampling), dtype=torch.int64)
        return torch.where(visible, s_theta, 0), torch.where(visible, s_phi, 0)

    return counts


def equirect_counts(grid: SphereGrid, height: int, supersampling: int | str) -> Counts:
    """Per-cell sub-sample counts for resampling a ``height x 2 height`` panorama.

    A panorama has ``H / pi`` pixels per radian of colatitude; along longitude a
    product-grid cell spans ``2 H / n_phi`` columns on every ring.
    """

    def counts(centres: torch.Tensor, d_theta: torch.Tensor, d_arc: torch.Tensor):
        if supersampling != "auto":
            s = torch.full_like(d_theta, int(supersampling), dtype=torch.int64)
            return s, s
        s_theta = _subdivide(d_theta, height / math.pi)
        if isinstance(grid, HealpixGrid):
            return s_theta, s_theta
        columns = 2 * height / grid.phi.numel()
        return s_theta, _subdivide(torch.ones_like(d_theta), columns)

    return counts
