"""Rendering spherical segmentation scenes through a fisheye lens, over a real panorama.

A scene is a world sphere: an equirectangular panorama as background, and
several Fashion-MNIST garments placed on it as in
:mod:`equisphere.data.segmentation` (stereographic squares of half-width
``size`` degrees, each with its rotation). A camera with orientation
``world_from_camera`` sees world direction ``d`` along its ray
``world_from_camera^T d``. :func:`render_view` draws, for every pixel:

- background: the panorama through the lens (:func:`panorama_view`, the values
  of :func:`~equisphere.resample.equirect_to_image`: a box filter where the
  panorama is finer than the pixels);
- objects: each object's intensity ``v_k`` in [0, 1] at the pixel centre's world
  direction, computed exactly (no intermediate grid); the brightest object
  ``k*`` is drawn over the background as a tinted overlay,
  ``rgb = (1 - opacity v) background + opacity v tint_k*``, tints being colours
  unrelated to the class;
- labels: class ``c + 1`` of ``k*`` where ``v > threshold``, else 0
  (background), and :data:`~equisphere.data.woodscape.IGNORE_INDEX` (255) where
  the pixel centre sees no ray (beyond the lens's image circle or ``max_incidence``).

So colour and label come from the same ray and the same intensity: a pixel is
labelled an object exactly where that object's overlay is drawn above the threshold.

Conventions: world frame = panorama frame (docs/conventions.md: row 0 at +z,
longitude = -phi); camera frame and pixel centres as there.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from equisphere.cameras import Camera, MountedCamera
from equisphere.cameras.woodscape_files import read_woodscape
from equisphere.data.stereographic import sample_images
from equisphere.data.woodscape import IGNORE_INDEX
from equisphere.resample import check_equirect
from equisphere.resample.lookups import equirect_pixels, image_bilinear
from equisphere.resample.options import MAX_SUPERSAMPLING, camera_pixels_per_radian
from equisphere.so3 import random_rotation_matrices, rotation_z

__all__ = [
    "WOODSCAPE_FRONT",
    "Orientation",
    "SceneObjects",
    "camera_orientations",
    "default_camera",
    "load_panoramas",
    "panorama_view",
    "random_tints",
    "render_view",
]

Orientation = Literal["upright", "rotated"]

# The WoodScape front camera (valeoai/WoodScape, scripts/calibration/front.json): 1280 x 966
# pixels, about 190 degrees horizontally.
WOODSCAPE_FRONT = {
    "name": "FV",
    "intrinsic": {
        "model": "radial_poly",
        "poly_order": 4,
        "k1": 339.749,
        "k2": -31.988,
        "k3": 48.275,
        "k4": -7.201,
        "cx_offset": 3.942,
        "cy_offset": -3.093,
        "aspect_ratio": 1.0,
        "width": 1280.0,
        "height": 966.0,
    },
    "extrinsic": {
        "quaternion": [
            0.5941767906169857,
            -0.5878843193897473,
            0.3873184109007999,
            -0.3890121040340926,
        ],
        "translation": [3.7484, 0.0, 0.6601699999999999],
    },
}


def default_camera() -> MountedCamera:
    """The WoodScape front camera (1280 x 966, forward and 23 degrees down), as read from JSON."""
    return read_woodscape(WOODSCAPE_FRONT, Path("<WoodScape front camera>"))


@dataclass
class SceneObjects:
    """The objects of one scene (``K`` slots; absent slots have class -1).

    Attributes
    ----------
    images : torch.Tensor, (K, 28, 28), float in [0, 1]
    classes : torch.Tensor, (K,), int64, source class 0..9 or -1
    rotations : torch.Tensor, (K, 3, 3), float64
    sizes : torch.Tensor, (K,), float64, half-widths in degrees
    tints : torch.Tensor, (K, 3), float in [0, 1]
    """

    images: torch.Tensor
    classes: torch.Tensor
    rotations: torch.Tensor
    sizes: torch.Tensor
    tints: torch.Tensor


def load_panoramas(
    folder: str | os.PathLike[str], height: int = 256
) -> tuple[list[str], list[torch.Tensor]]:
    """Every equirectangular image in ``folder``, resized to ``height x 2 height``.

    Returns
    -------
    names : list of str
        File names, sorted.
    panoramas : list of torch.Tensor, each (3, height, 2 height), float32 in [0, 1]

    Raises
    ------
    FileNotFoundError
        If the folder does not exist or holds no image.
    ValueError
        If an image is not twice as wide as high.
    """
    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"panorama folder {str(folder)!r} not found")
    suffixes = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)
    if not paths:
        raise FileNotFoundError(f"{folder} holds no panorama images ({', '.join(suffixes)})")
    names, panoramas = [], []
    for path in paths:
        with Image.open(path) as image:
            if image.width != 2 * image.height:
                raise ValueError(
                    f"expected equirectangular panoramas twice as wide as high, got "
                    f"{image.width} x {image.height} in {path.name!r}"
                )
            image = image.convert("RGB").resize((2 * height, height), Image.Resampling.BOX)
            pixels = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)
        names.append(path.name)
        panoramas.append(pixels.to(torch.float32) / 255)
    return names, panoramas


def camera_orientations(
    count: int, orientation: Orientation, mount: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """``world_from_camera`` of ``count`` views, shape (count, 3, 3), float64.

    ``"upright"``: ``Rz(heading) mount`` with a uniform heading; ``"rotated"``:
    uniform random rotations.
    """
    if orientation == "upright":
        heading = 2 * math.pi * torch.rand(count, generator=generator, dtype=torch.float64)
        return rotation_z(heading) @ mount.to(torch.float64)
    if orientation == "rotated":
        return random_rotation_matrices(count, generator=generator, dtype=torch.float64)
    raise ValueError(
        f"expected orientation 'upright' (mounted, random heading) or 'rotated', got "
        f"{orientation!r}"
    )


@functools.lru_cache(maxsize=8)
def _lens_rays(camera: Camera, supersampling: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Camera-frame rays of ``s x s`` sub-samples per pixel, ``(H W, s^2, 3)``, and validity.

    Sub-samples sit at ``u + (i + 0.5) / s - 0.5`` (a centred box filter, as
    :func:`equisphere.resample.pixel_samples`); ``s = 1`` gives the pixel centres.
    """
    offsets = (torch.arange(supersampling, dtype=torch.float64) + 0.5) / supersampling - 0.5
    dv, du = torch.meshgrid(offsets, offsets, indexing="ij")
    centres = camera.pixel_centres().reshape(-1, 1, 2)  # (H W, 1, 2)
    pixels = centres + torch.stack([du.reshape(-1), dv.reshape(-1)], dim=-1)  # (H W, s^2, 2)
    return camera.unproject(pixels)


@functools.lru_cache(maxsize=8)
def _sparsest_density(camera: Camera) -> float:
    return camera_pixels_per_radian(camera)[0]


def panorama_view(
    panorama: torch.Tensor,
    camera: Camera,
    world_from_camera: torch.Tensor,
    supersampling: int | Literal["auto"] = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """A panorama seen through a camera: the same values as
    :func:`~equisphere.resample.equirect_to_image`, without building a sparse map.

    Each pixel averages bilinear panorama samples at its valid ``s x s``
    sub-samples; ``"auto"`` picks ``s`` as ``equirect_to_image`` does. A map is
    worth building when it is applied many times; a generator renders each
    orientation once, and this direct gather is about ten times faster.

    Returns
    -------
    image : torch.Tensor, (C, H, W), dtype of ``panorama``; 0 where nothing is seen
    valid : torch.Tensor of bool, (H, W): pixels with at least one valid sub-sample
    """
    height, width = check_equirect(panorama)
    if supersampling == "auto":
        ratio = (height / math.pi) / _sparsest_density(camera)
        supersampling = int(min(MAX_SUPERSAMPLING, max(1, math.ceil(ratio - 1e-9))))
    rays, valid = _lens_rays(camera, supersampling)  # (P, S, 3), (P, S)
    rotation = torch.as_tensor(world_from_camera, dtype=torch.float64)
    directions = (rays @ rotation.T).reshape(-1, 3)  # world_from_camera @ ray, per sub-sample
    uv = equirect_pixels(directions, height, width)
    index, weight = image_bilinear(uv[:, 0], uv[:, 1], height, width, wrap_u=True)  # (P S, 4)

    channels = panorama.reshape(panorama.shape[0], -1)
    samples = (channels[:, index] * weight.to(panorama.dtype)).sum(-1)  # (C, P S)
    samples = samples.reshape(panorama.shape[0], *valid.shape)  # (C, P, S)
    count = valid.sum(-1)  # (P,)
    image = (samples * valid).sum(-1) / count.clamp_min(1)
    return image.reshape(-1, *camera.image_size), (count > 0).reshape(camera.image_size)


def render_view(
    objects: SceneObjects,
    panorama: torch.Tensor,
    camera: Camera,
    world_from_camera: torch.Tensor,
    *,
    threshold: float = 0.25,
    opacity: float = 0.9,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render one scene through a camera: colour image, label image, intensity of the objects.

    Parameters
    ----------
    objects : SceneObjects
    panorama : torch.Tensor, (3, Hp, 2 Hp)
    camera : Camera
    world_from_camera : torch.Tensor, (3, 3)
    threshold : float
        Least object intensity labelled as the object.
    opacity : float
        Weight of an object's tint at intensity 1.

    Returns
    -------
    image : torch.Tensor, (3, H, W), float32 in [0, 1]; 0 where the lens sees nothing
    labels : torch.Tensor, (H, W), uint8: 0 background, class + 1, or 255 (no ray)
    intensity : torch.Tensor, (H, W), float32: the brightest object's intensity (0 if none)
    """
    rotation = torch.as_tensor(world_from_camera, dtype=torch.float64)
    background, _ = panorama_view(panorama, camera, rotation)
    rays, valid = _lens_rays(camera, 1)  # (H W, 1, 3), (H W, 1): the pixel centres
    directions = rays[:, 0] @ rotation.T  # world_from_camera @ ray, per pixel
    valid = valid[:, 0]

    present = objects.classes >= 0
    side = 4 * torch.tan(torch.deg2rad(torch.where(present, objects.sizes, 1.0)) / 2)
    values = sample_images(
        objects.images.double(), directions, objects.rotations.double(), side=side
    )  # (K, P)
    values = values * present[:, None]
    brightest, which = values.max(dim=0)  # (P,)

    labels = torch.where(brightest > threshold, objects.classes[which] + 1, 0)
    labels = torch.where(valid, labels, IGNORE_INDEX).to(torch.uint8)
    weight = opacity * brightest  # (P,)
    tint = objects.tints.double()[which].T  # (3, P)
    image = (1 - weight) * background.reshape(3, -1) + weight * tint
    image = torch.where(valid, image, 0.0).clamp(0, 1)
    height, width = camera.image_size
    intensity = torch.where(valid, brightest, 0.0)
    return (
        image.reshape(3, height, width).float(),
        labels.reshape(height, width),
        intensity.reshape(height, width).float(),
    )


def random_tints(count: int, slots: int, generator: torch.Generator) -> torch.Tensor:
    """Random saturated colours (hue uniform, saturation 0.5..1, value 0.7..1), ``(N, K, 3)``."""
    hue = torch.rand(count, slots, generator=generator, dtype=torch.float64)
    saturation = 0.5 + 0.5 * torch.rand(count, slots, generator=generator, dtype=torch.float64)
    value = 0.7 + 0.3 * torch.rand(count, slots, generator=generator, dtype=torch.float64)
    # HSV -> RGB: channel n in (5, 3, 1) is v - v s clamp(min(k, 4 - k), 0, 1), k = (n + 6h) mod 6.
    channels = []
    for n in (5.0, 3.0, 1.0):
        k = torch.remainder(n + 6 * hue, 6)
        channels.append(value - value * saturation * torch.clamp(torch.minimum(k, 4 - k), 0, 1))
    return torch.stack(channels, dim=-1)
