"""Equirectangular panoramas onto sphere grids, back, and into camera images.

Conventions (docs/conventions.md): a panorama is ``(..., H, 2H)``; column ``j``
looks at longitude ``((j + 0.5) / W - 0.5) 2 pi`` and longitude ``= -phi`` (seen
from inside the sphere the photograph is unmirrored: moving right turns from +x
towards -y); row ``i`` is at colatitude ``(i + 0.5) pi / H``, row 0 at the zenith
(+z). Longitude wraps; latitude is clamped at the poles. The panorama's frame is
the world frame (for vehicles: x forward, y left, z up).

Anti-aliasing as in ``equisphere.resample.camera``: area-weighted supersampling
of the output cells; ``"auto"`` uses ``ceil(cell size / panorama pixel)``
sub-samples per direction (capped at 8).
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from equisphere.cameras import Camera
from equisphere.resample.cache import MapCache, default_cache
from equisphere.resample.lookups import equirect_lookup, grid_lookup
from equisphere.resample.maps import ResampleMap, build_linear_map, build_nearest_map
from equisphere.resample.options import (
    MAX_SUPERSAMPLING,
    camera_pixels_per_radian,
    check_grid,
    check_mode,
    check_supersampling,
    equirect_counts,
    rotation_and_key,
)
from equisphere.resample.samples import grid_cell_samples, pixel_samples
from equisphere.sphere import SphereGrid, unit_vectors

__all__ = [
    "check_equirect",
    "equirect_directions",
    "equirect_to_image",
    "equirect_to_sphere",
    "sphere_to_equirect",
]


def check_equirect(panorama: torch.Tensor, name: str = "panorama") -> tuple[int, int]:
    """``(H, W)`` of a panorama ``(..., H, 2H)``; ``ValueError`` for any other shape."""
    if not isinstance(panorama, torch.Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(panorama).__name__}")
    if panorama.ndim < 2 or panorama.shape[-1] != 2 * panorama.shape[-2]:
        raise ValueError(
            f"expected an equirectangular {name} of shape (..., H, 2H), got {tuple(panorama.shape)}"
        )
    return int(panorama.shape[-2]), int(panorama.shape[-1])


def equirect_directions(height: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Unit directions of the pixel centres of an ``height x 2 height`` panorama, ``(H, 2H, 3)``."""
    width = 2 * height
    colatitude = (torch.arange(height, dtype=dtype) + 0.5) * math.pi / height
    longitude = ((torch.arange(width, dtype=dtype) + 0.5) / width - 0.5) * 2 * math.pi
    return unit_vectors(colatitude[:, None], -longitude[None, :])


def _equirect_pixel_directions(height: int):
    width = 2 * height

    def to_directions(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        longitude = ((pixels[:, 0] + 0.5) / width - 0.5) * 2 * math.pi
        colatitude = ((pixels[:, 1] + 0.5) * math.pi / height).clamp(0, math.pi)
        directions = unit_vectors(colatitude, -longitude)
        return directions, torch.ones(pixels.shape[0], dtype=torch.bool)

    return to_directions


def equirect_to_sphere(
    panorama: torch.Tensor,
    grid: SphereGrid,
    *,
    mode: Literal["bilinear", "nearest"] = "bilinear",
    supersampling: int | Literal["auto"] = "auto",
    cache: MapCache | None = default_cache,
) -> torch.Tensor:
    """Resample a panorama ``(..., H, 2H)`` onto ``grid``: ``(..., *grid.shape)``.

    Examples
    --------
    >>> from equisphere.sphere import EquiangularGrid
    >>> pano = equirect_directions(32).permute(2, 0, 1)  # each pixel holds its direction
    >>> grid = EquiangularGrid(16)
    >>> signal = equirect_to_sphere(pano, grid, supersampling=1)
    >>> bool((signal.permute(1, 2, 0) - grid.vectors()).abs().max() < 0.01)
    True
    """
    height, width = check_equirect(panorama)
    check_grid(grid)
    check_mode(mode)
    supersampling = 1 if mode == "nearest" else check_supersampling(supersampling)
    key = ("equirect->sphere", height, repr(grid), mode, supersampling)

    def build() -> ResampleMap:
        chunks = grid_cell_samples(grid, equirect_counts(grid, height, supersampling))
        builder = build_nearest_map if mode == "nearest" else build_linear_map
        return builder(chunks, equirect_lookup(height, width), (height, width), grid.shape)

    resample_map = cache.get(key, build) if cache is not None else build()
    return resample_map.apply(panorama)


def sphere_to_equirect(
    signal: torch.Tensor,
    grid: SphereGrid,
    height: int,
    *,
    mode: Literal["bilinear", "nearest"] = "bilinear",
    cache: MapCache | None = default_cache,
) -> torch.Tensor:
    """Draw a spherical signal ``(..., *grid.shape)`` as a panorama ``(..., height, 2 height)``."""
    check_grid(grid).check_signal(signal)
    check_mode(mode)
    if isinstance(height, bool) or not isinstance(height, int) or height < 1:
        raise ValueError(f"expected a positive integer panorama height, got {height!r}")
    key = ("sphere->equirect", repr(grid), height, mode)

    def build() -> ResampleMap:
        chunks = pixel_samples(height, 2 * height, 1, _equirect_pixel_directions(height))
        builder = build_nearest_map if mode == "nearest" else build_linear_map
        return builder(chunks, grid_lookup(grid), grid.shape, (height, 2 * height))

    resample_map = cache.get(key, build) if cache is not None else build()
    return resample_map.apply(signal)


def equirect_to_image(
    panorama: torch.Tensor,
    camera: Camera,
    world_from_camera: torch.Tensor | None = None,
    *,
    mode: Literal["bilinear", "nearest"] = "bilinear",
    supersampling: int | Literal["auto"] = "auto",
    fill: float | int = 0,
    cache: MapCache | None = default_cache,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Render the view of a panorama through a camera: a real scene seen through a real lens.

    Parameters
    ----------
    panorama : torch.Tensor, shape (..., H, 2H)
    camera : Camera
    world_from_camera : torch.Tensor, shape (3, 3), optional
        Camera orientation in the panorama's frame; None: camera frame = world frame
        (the optical axis looks at the zenith).
    mode : {"bilinear", "nearest"}
    supersampling : int or "auto"
        Sub-samples per pixel and direction; ``"auto"`` when the panorama is finer
        than the camera's pixels.
    fill : number
        Value of the pixels the lens does not see.

    Returns
    -------
    image : torch.Tensor, shape (..., camera.height, camera.width)
    valid : torch.Tensor of bool, shape (camera.height, camera.width)

    Examples
    --------
    >>> from equisphere.cameras import PinholeCamera, forward_looking
    >>> panorama = equirect_directions(64).permute(2, 0, 1)  # pixels hold their direction
    >>> cam = PinholeCamera(width=33, height=33, fx=16.0, fy=16.0, cx=16.0, cy=16.0)
    >>> image, valid = equirect_to_image(panorama, cam, forward_looking())
    >>> [round(float(x), 2) for x in image[:, 16, 16]]  # the centre pixel looks along +x
    [1.0, 0.0, 0.0]
    """
    height, width = check_equirect(panorama)
    if not isinstance(camera, Camera):
        raise TypeError(f"expected a Camera, got {type(camera).__name__}")
    check_mode(mode)
    supersampling = 1 if mode == "nearest" else check_supersampling(supersampling)
    if supersampling == "auto":
        # Largest camera pixel (lowest lens density) over a panorama pixel (pi / H).
        ratio = (height / math.pi) / camera_pixels_per_radian(camera)[0]
        supersampling = int(min(MAX_SUPERSAMPLING, max(1, math.ceil(ratio - 1e-9))))
    rotation, rotation_key = rotation_and_key(world_from_camera)
    key = ("equirect->camera", height, camera, rotation_key, mode, supersampling)

    def to_directions(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rays, valid = camera.unproject(pixels)
        return rays @ rotation.T, valid

    def build() -> ResampleMap:
        chunks = pixel_samples(camera.height, camera.width, supersampling, to_directions)
        builder = build_nearest_map if mode == "nearest" else build_linear_map
        return builder(chunks, equirect_lookup(height, width), (height, width), camera.image_size)

    resample_map = cache.get(key, build) if cache is not None else build()
    image = resample_map.apply(panorama, fill=fill)
    return image, resample_map.coverage.to(panorama.device) > 0
