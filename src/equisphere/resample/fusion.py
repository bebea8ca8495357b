"""Several rig cameras fused onto one sphere.

Each camera's image is resampled onto the grid in the rig's world (vehicle)
frame; where cameras overlap the values are blended with weights
``coverage_c * cos^2(theta_c / 2)``, ``theta_c`` the incidence of the direction in
camera ``c``: a direction near a camera's optical axis is taken mostly from it,
and the weight falls smoothly to zero towards 180 degrees, so seams fade.

Conventions: ``world_from_camera`` and the vehicle frame as in
``equisphere.cameras.rig``; rays are directions from the vehicle origin (the
scene is treated as distant, so camera translations are ignored: a near object
at distance ``d`` seen by cameras ``b`` metres apart is misplaced by about
``b / d`` radians).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch

from equisphere.cameras import CameraRig
from equisphere.resample.cache import MapCache, default_cache
from equisphere.resample.camera import image_to_sphere
from equisphere.sphere import SphereGrid

__all__ = ["fuse_rig"]


def fuse_rig(
    images: Mapping[str, torch.Tensor] | Sequence[torch.Tensor],
    rig: CameraRig,
    grid: SphereGrid,
    *,
    supersampling: int | Literal["auto"] = "auto",
    cache: MapCache | None = default_cache,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend the images of a rig's cameras into one signal on ``grid`` (world frame).

    Parameters
    ----------
    images : mapping name -> tensor, or sequence in the rig's order
        Each ``(..., H_c, W_c)`` at its camera's calibrated size; leading shapes equal.
    rig : CameraRig
    grid : SphereGrid
    supersampling : int or "auto"
    cache : MapCache or None

    Returns
    -------
    signal : torch.Tensor, shape (..., *grid.shape)
        Zero where no camera sees.
    coverage : torch.Tensor, shape grid.shape
        Largest coverage fraction of any camera at each cell, in ``[0, 1]``.
    """
    if not isinstance(rig, CameraRig):
        raise TypeError(f"expected a CameraRig, got {type(rig).__name__}")
    if isinstance(images, Mapping):
        missing = [name for name in rig.names if name not in images]
        if missing:
            raise ValueError(f"expected an image for every rig camera; missing {missing}")
        ordered = [images[name] for name in rig.names]
    else:
        ordered = list(images)
        if len(ordered) != len(rig):
            raise ValueError(f"expected {len(rig)} images (one per rig camera), got {len(ordered)}")

    total = weight_sum = best_coverage = None
    for mounted, image in zip(rig, ordered, strict=True):
        rotation = mounted.rotation()
        signal, coverage = image_to_sphere(
            image, mounted.camera, grid, rotation, supersampling=supersampling, cache=cache
        )
        # cos^2(theta_c / 2) = (1 + cos theta_c) / 2, cos theta_c = optical axis . direction
        axis = rotation[:, 2].to(grid.colatitude.dtype)
        cos_incidence = grid.vectors() @ axis
        weight = coverage * ((1 + cos_incidence) / 2).to(coverage)
        if total is None:
            total, weight_sum, best_coverage = signal * weight, weight, coverage
        else:
            total = total + signal * weight
            weight_sum = weight_sum + weight
            best_coverage = torch.maximum(best_coverage, coverage)
    fused = total / torch.where(weight_sum > 0, weight_sum, 1)
    return fused, best_coverage
