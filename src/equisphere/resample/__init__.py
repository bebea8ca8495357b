"""Resampling between camera images, panoramas and sphere grids.

Camera image <-> sphere (``image_to_sphere``, ``sphere_to_image``), equirectangular
panorama <-> sphere (``equirect_to_sphere``, ``sphere_to_equirect``), panorama ->
camera image (``equirect_to_image``) and several rig cameras fused onto one sphere
(``fuse_rig``). Maps are sparse operators built once and cached (``MapCache``).
Conventions: docs/conventions.md.
"""

from equisphere.resample.cache import MapCache, default_cache
from equisphere.resample.camera import (
    camera_to_sphere_map,
    image_to_sphere,
    sphere_to_camera_map,
    sphere_to_image,
)
from equisphere.resample.equirect import (
    check_equirect,
    equirect_directions,
    equirect_to_image,
    equirect_to_sphere,
    sphere_to_equirect,
)
from equisphere.resample.fusion import fuse_rig
from equisphere.resample.maps import ResampleMap

__all__ = [
    "MapCache",
    "ResampleMap",
    "camera_to_sphere_map",
    "check_equirect",
    "default_cache",
    "equirect_directions",
    "equirect_to_image",
    "equirect_to_sphere",
    "fuse_rig",
    "image_to_sphere",
    "sphere_to_camera_map",
    "sphere_to_equirect",
    "sphere_to_image",
]
