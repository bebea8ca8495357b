"""One camera, turned: resampling a fisheye image into the view of the rotated camera.

Turning a camera by ``Q`` (in its own frame: ``world_from_camera' =
world_from_camera Q``) makes the pixel that sees ray ``r'`` in the new view see
what the old view saw along ``Q r'``. So the new image at a pixel is the old
image where the lens projects ``Q r'``; where that ray misses the old sensor, or
the lens, nothing is known (images get 0, labels the ignore index).

This serves twice: as rotation augmentation for networks that read the raw
fisheye image (the only way to rotate a real photograph without its scene), and
to bring two predictions of differently turned cameras into one frame when
measuring equivariance.

Conventions: camera frame x right, y down, z along the optical axis; pixel
centres at integers (docs/conventions.md).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from equisphere.cameras import Camera
from equisphere.so3 import matrix_from_euler_zyz

__all__ = ["random_camera_turns", "rotate_view", "view_source_pixels"]


def view_source_pixels(camera: Camera, rotation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each pixel of the turned view looks in the original image.

    Parameters
    ----------
    camera : Camera
    rotation : torch.Tensor, (3, 3) or (N, 3, 3)
        The turn ``Q``, in the camera frame.

    Returns
    -------
    pixels : torch.Tensor, (..., H, W, 2), float64
        ``(u, v)`` in the original image of each pixel of the turned view.
    valid : torch.Tensor of bool, (..., H, W)
        The new pixel sees a ray, and the original image sees it too.
    """
    rays, seen = camera.unproject(camera.pixel_centres())  # (H, W, 3)
    rotation = torch.as_tensor(rotation, dtype=torch.float64)
    source = torch.einsum("...ij,hwj->...hwi", rotation, rays)  # Q r' for every pixel
    pixels, imaged = camera.project(source)
    return pixels, seen & imaged & camera.contains(pixels)


def rotate_view(
    camera: Camera,
    rotation: torch.Tensor,
    images: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    ignore_index: int = 255,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
    """Images and labels as the camera turned by ``rotation`` would see them.

    Parameters
    ----------
    camera : Camera
    rotation : torch.Tensor, (3, 3) or (N, 3, 3)
    images : torch.Tensor, (N, C, H, W), floating, optional
        Resampled bilinearly; 0 where nothing is seen.
    labels : torch.Tensor, (N, H, W), integer, optional
        Resampled by the nearest pixel; ``ignore_index`` where nothing is seen.
    ignore_index : int

    Returns
    -------
    images, labels : torch.Tensor or None
        In the turned view (None where not given).
    valid : torch.Tensor of bool, (N, H, W) or (H, W)
        Pixels of the turned view that the original image sees.
    """
    reference = images if images is not None else labels
    if reference is None:
        raise ValueError("expected images or labels to turn, got neither")
    camera.check_image(reference)
    pixels, valid = view_source_pixels(camera, rotation)
    batch = reference.shape[0]
    if pixels.ndim == 3:
        pixels, valid = pixels.expand(batch, *pixels.shape), valid.expand(batch, *valid.shape)
    height, width = camera.image_size
    # grid_sample's coordinates with align_corners=False: -1 and +1 are the outer pixel edges.
    scale = torch.tensor([2.0 / width, 2.0 / height], dtype=torch.float64)
    grid = ((pixels + 0.5) * scale - 1).to(device=reference.device)  # (N, H, W, 2)
    valid = valid.to(reference.device)

    if images is not None:
        grid_images = grid.to(images.dtype)
        images = F.grid_sample(images, grid_images, mode="bilinear", align_corners=False)
        images = images * valid[:, None]
    if labels is not None:
        as_float = labels[:, None].to(torch.float64)
        turned = F.grid_sample(as_float, grid, mode="nearest", align_corners=False)[:, 0]
        labels = torch.where(valid, turned.round().to(labels.dtype), ignore_index)
    return images, labels, valid


def random_camera_turns(
    count: int, max_tilt_deg: float = 180.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random turns ``Rz(alpha) Ry(beta) Rz(gamma)`` with the optical axis tilted at most
    ``max_tilt_deg`` (``cos beta`` uniform, so 180 gives uniform rotations), ``(count, 3, 3)``."""
    if not 0 <= max_tilt_deg <= 180:
        raise ValueError(f"expected max_tilt_deg in [0, 180], got {max_tilt_deg!r}")
    draw = torch.rand(3, count, generator=generator, dtype=torch.float64)
    alpha, gamma = 2 * math.pi * draw[0], 2 * math.pi * draw[1]
    lowest = math.cos(math.radians(max_tilt_deg))
    beta = torch.arccos(1 - (1 - lowest) * draw[2])
    return matrix_from_euler_zyz(alpha, beta, gamma)
