"""Camera images onto sphere grids and back.

Conventions (docs/conventions.md): images ``(..., H, W)`` with pixel centres at
integers; signals ``(..., *grid.shape)``. The sphere is the camera frame (north
pole = optical axis) unless ``world_from_camera`` is given; then grid directions
are world directions and a camera ray is ``world_from_camera.T @ direction``.

Anti-aliasing (image -> sphere): each grid cell averages bilinear samples at
``s_theta x s_phi`` points spread over its area (area-weighted supersampling, a
box filter of the cell's size). ``supersampling="auto"`` picks enough points to
be at most one image pixel apart (measured from the lens's largest pixel
density, capped at 8 per direction). Sphere -> image interpolates the grid
bilinearly (``mode="bilinear"``, for values and scores) or takes the nearest
grid point (``mode="nearest"``, for labels, any dtype).

Maps are built once per (camera, grid, orientation, options) and cached.
"""

from __future__ import annotations

from typing import Literal

import torch

from equisphere.cameras import Camera
from equisphere.resample.cache import MapCache, default_cache
from equisphere.resample.lookups import camera_lookup, grid_lookup
from equisphere.resample.maps import ResampleMap, build_linear_map, build_nearest_map
from equisphere.resample.options import (
    camera_counts,
    check_grid,
    check_mode,
    check_supersampling,
    rotation_and_key,
)
from equisphere.resample.samples import grid_cell_samples, pixel_samples
from equisphere.sphere import SphereGrid

__all__ = ["camera_to_sphere_map", "image_to_sphere", "sphere_to_camera_map", "sphere_to_image"]


def _check_camera(camera: object) -> Camera:
    if not isinstance(camera, Camera):
        raise TypeError(
            f"expected a Camera (e.g. load_calibration(path).camera), got {type(camera).__name__}"
        )
    return camera


def camera_to_sphere_map(
    camera: Camera,
    grid: SphereGrid,
    world_from_camera: torch.Tensor | None = None,
    *,
    mode: Literal["bilinear", "nearest"] = "bilinear",
    supersampling: int | Literal["auto"] = "auto",
    cache: MapCache | None = default_cache,
) -> ResampleMap:
    """The (cached) map from this camera's images to signals on ``grid``."""
    _check_camera(camera)
    check_grid(grid)
    check_mode(mode)
    supersampling = 1 if mode == "nearest" else check_supersampling(supersampling)
    rotation, rotation_key = rotation_and_key(world_from_camera)
    key = ("camera->sphere", camera, repr(grid), rotation_key, mode, supersampling)

    def build() -> ResampleMap:
        chunks = grid_cell_samples(grid, camera_counts(camera, rotation, supersampling))
        builder = build_nearest_map if mode == "nearest" else build_linear_map
        return builder(chunks, camera_lookup(camera, rotation), camera.image_size, grid.shape)

    return cache.get(key, build) if cache is not None else build()


def image_to_sphere(
    image: torch.Tensor,
    camera: Camera,
    grid: SphereGrid,
    world_from_camera: torch.Tensor | None = None,
    *,
    mode: Literal["bilinear", "nearest"] = "bilinear",
    supersampling: int | Literal["auto"] = "auto",
    cache: MapCache | None = default_cache,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample a camera image onto a sphere grid.

    Parameters
    ----------
    image : torch.Tensor, shape (..., H, W)
        ``(H, W)`` must equal the calibration's ``(camera.height, camera.width)``.
        Floating for ``"bilinear"``; any dtype for ``"nearest"``.
    camera : Camera
    grid : SphereGrid
    world_from_camera : torch.Tensor, shape (3, 3), optional
        Camera orientation; None puts the sphere in the camera frame.
    mode : {"bilinear", "nearest"}
    supersampling : int or "auto"
        Sub-samples per cell and direction (``"auto"``: from the lens's pixel density).
    cache : MapCache or None

    Returns
    -------
    signal : torch.Tensor, shape (..., *grid.shape)
        Zero where nothing is seen.
    coverage : torch.Tensor, shape grid.shape
        Fraction of each cell the camera sees, in ``[0, 1]``.

    Examples
    --------
    >>> from equisphere.cameras import EquidistantCamera
    >>> from equisphere.sphere import EquiangularGrid
    >>> cam = EquidistantCamera(width=64, height=64, fx=20.0, fy=20.0, cx=31.5, cy=31.5)
    >>> signal, coverage = image_to_sphere(torch.ones(3, 64, 64), cam, EquiangularGrid(8))
    >>> signal.shape, bool(coverage[0].min() == 1), round(float(signal[:, 0].min()), 6)
    (torch.Size([3, 16, 16]), True, 1.0)
    """
    _check_camera(camera).check_image(image)
    resample_map = camera_to_sphere_map(
        camera, grid, world_from_camera, mode=mode, supersampling=supersampling, cache=cache
    )
    return resample_map.apply(image), resample_map.coverage_like(image)


def sphere_to_camera_map(
    grid: SphereGrid,
    camera: Camera,
    world_from_camera: torch.Tensor | None = None,
    *,
    mode: Literal["bilinear", "nearest"] = "bilinear",
    supersampling: int = 1,
    cache: MapCache | None = default_cache,
) -> ResampleMap:
    """The (cached) map from signals on ``grid`` to this camera's images."""
    _check_camera(camera)
    check_grid(grid)
    check_mode(mode)
    supersampling = 1 if mode == "nearest" else check_supersampling(supersampling)
    if supersampling == "auto":
        raise ValueError("expected an integer supersampling for sphere -> image, got 'auto'")
    rotation, rotation_key = rotation_and_key(world_from_camera)
    key = ("sphere->camera", repr(grid), camera, rotation_key, mode, supersampling)

    def to_directions(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rays, valid = camera.unproject(pixels)
        return rays @ rotation.T, valid  # (M, 3): world_from_camera @ ray for each row

    def build() -> ResampleMap:
        chunks = pixel_samples(camera.height, camera.width, supersampling, to_directions)
        builder = build_nearest_map if mode == "nearest" else build_linear_map
        return builder(chunks, grid_lookup(grid), grid.shape, camera.image_size)

    return cache.get(key, build) if cache is not None else build()


def sphere_to_image(
    signal: torch.Tensor,
    grid: SphereGrid,
    camera: Camera,
    world_from_camera: torch.Tensor | None = None,
    *,
    mode: Literal["bilinear", "nearest"] = "bilinear",
    supersampling: int = 1,
    fill: float | int = 0,
    cache: MapCache | None = default_cache,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw a spherical signal into a camera image.

    Parameters
    ----------
    signal : torch.Tensor, shape (..., *grid.shape)
        Values (``"bilinear"``, floating) or labels (``"nearest"``, any dtype).
    grid : SphereGrid
    camera : Camera
    world_from_camera : torch.Tensor, shape (3, 3), optional
    mode : {"bilinear", "nearest"}
    supersampling : int
        Sub-samples per pixel and direction (when the grid is finer than the image).
    fill : number
        Value of pixels the lens does not see.

    Returns
    -------
    image : torch.Tensor, shape (..., camera.height, camera.width)
    valid : torch.Tensor of bool, shape (camera.height, camera.width)
        Pixels that see a ray.

    Examples
    --------
    >>> from equisphere.cameras import EquidistantCamera
    >>> from equisphere.sphere import EquiangularGrid
    >>> grid = EquiangularGrid(16)
    >>> cam = EquidistantCamera(width=40, height=30, fx=10.0, fy=10.0, cx=19.5, cy=14.5)
    >>> height = torch.cos(grid.colatitude)  # z of each grid point: 1 on the optical axis
    >>> image, valid = sphere_to_image(height, grid, cam)
    >>> round(float(image[14:16, 19:21].mean()), 2), bool(valid.all())
    (1.0, True)
    """
    check_grid(grid).check_signal(signal)
    resample_map = sphere_to_camera_map(
        grid, camera, world_from_camera, mode=mode, supersampling=supersampling, cache=cache
    )
    image = resample_map.apply(signal, fill=fill)
    return image, resample_map.coverage.to(signal.device) > 0
