"""Equivariance on real input: turn the camera, render the same scene, compare the predictions.

A generated scene (:func:`equisphere.data.load_scenes`) is rendered from its
camera orientation ``W`` and from ``W Q`` for a few turns ``Q`` in the camera
frame (about the optical axis, a tilt, both). Both views are segmented; the
first prediction is carried into the second view through the geometry
(:func:`~equisphere.training.fisheye_views.rotate_view`, nearest pixel), and the
disagreement is the fraction of pixels, seen and labelled in both views, whose
labels differ. The same is done with the true label images: their disagreement
is the floor that the nearest-pixel transfer alone causes (pixel centres of one
view fall between those of the other), so a perfectly equivariant and perfectly
accurate segmenter would show that figure, not zero.

For a spherical model on the camera-frame sphere, turning the camera by ``Q``
rotates its input by ``Q^-1`` where both views see the scene; an equivariant
model turns its output the same way, so its disagreement approaches the floor.
A model on the raw image has no such guarantee.

Conventions: turns act in the camera frame (x right, y down, z optical axis):
``world_from_camera' = world_from_camera Q`` (docs/conventions.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import torch

from equisphere.cameras import Camera
from equisphere.data.fisheye_render import SceneObjects, render_view
from equisphere.data.woodscape import IGNORE_INDEX
from equisphere.so3 import rotation_x, rotation_z
from equisphere.training.fisheye import FisheyeSegmentationTask
from equisphere.training.fisheye_views import rotate_view

__all__ = ["DEFAULT_TURNS", "camera_turn_disagreement"]

logger = logging.getLogger(__name__)

DEFAULT_TURNS = {
    "roll 90": rotation_z(torch.tensor(math.pi / 2, dtype=torch.float64)),
    "roll 37": rotation_z(torch.tensor(math.radians(37), dtype=torch.float64)),
    "tilt 30": rotation_x(torch.tensor(math.radians(30), dtype=torch.float64)),
    "roll 60 + tilt 45": rotation_z(torch.tensor(math.radians(60), dtype=torch.float64))
    @ rotation_x(torch.tensor(math.radians(45), dtype=torch.float64)),
}
"""Turns in the camera frame: about the optical axis (roll), about the x axis (tilt)."""


def camera_turn_disagreement(
    task: FisheyeSegmentationTask,
    camera: Camera,
    scenes: Sequence[SceneObjects],
    backgrounds: Sequence[torch.Tensor],
    world_from_camera: torch.Tensor,
    turns: Mapping[str, torch.Tensor] = DEFAULT_TURNS,
    threshold: float = 0.25,
    opacity: float = 0.9,
) -> dict[str, dict[str, float]]:
    """Disagreement of predictions between turned cameras, for each turn.

    Parameters
    ----------
    task : FisheyeSegmentationTask
    camera : Camera
        The lens the scenes are rendered through (the data set's).
    scenes, backgrounds : sequences of equal length
        Scenes and their panoramas (from :func:`~equisphere.data.load_scenes`).
    world_from_camera : torch.Tensor, (N, 3, 3)
        Orientation of the first view of each scene.
    turns : mapping of name -> (3, 3) rotation
    threshold, opacity
        Rendering options (those the set was made with).

    Returns
    -------
    dict of turn name -> dict
        ``disagreement`` (fraction of compared pixels whose predicted labels
        differ), ``floor`` (the same for the true labels), ``pixels`` (pixels
        compared over all scenes), ``accuracy_first`` and ``accuracy_turned``
        (pixel accuracy of the two views on those pixels).
    """
    if not len(scenes) == len(backgrounds) == len(world_from_camera):
        raise ValueError(
            f"expected as many scenes, backgrounds and orientations, got {len(scenes)}, "
            f"{len(backgrounds)} and {len(world_from_camera)}"
        )
    device = next(task.parameters()).device
    totals = {name: torch.zeros(5, dtype=torch.float64) for name in turns}
    for scene, background, rotation in zip(scenes, backgrounds, world_from_camera, strict=True):
        first_image, first_truth, _ = render_view(
            scene, background, camera, rotation, threshold=threshold, opacity=opacity
        )
        views = {"first": (first_image, first_truth)}
        for name, turn in turns.items():
            image, truth, _ = render_view(
                scene, background, camera, rotation @ turn, threshold=threshold, opacity=opacity
            )
            views[name] = (image, truth)
        images = torch.stack([image for image, _ in views.values()]).to(device)
        predicted = task.predict(images, camera).image_labels.cpu()  # (1 + T, H, W)
        for k, (name, turn) in enumerate(turns.items(), start=1):
            truth = views[name][1].long()
            carried = rotate_view(camera, turn, labels=predicted[:1], ignore_index=IGNORE_INDEX)[1]
            carried_truth = rotate_view(
                camera, turn, labels=first_truth[None].long(), ignore_index=IGNORE_INDEX
            )[1]
            compared = (
                (carried[0] != IGNORE_INDEX)
                & (predicted[k] != IGNORE_INDEX)
                & (truth != IGNORE_INDEX)
                & (carried_truth[0] != IGNORE_INDEX)
            )
            totals[name] += torch.tensor(
                [
                    float(compared.sum()),
                    float((compared & (carried[0] != predicted[k])).sum()),
                    float((compared & (carried_truth[0] != truth)).sum()),
                    float((compared & (carried[0] == carried_truth[0])).sum()),
                    float((compared & (predicted[k] == truth)).sum()),
                ],
                dtype=torch.float64,
            )
    result = {}
    for name, (pixels, differ, floor, first_right, turned_right) in totals.items():
        pixels_or_one = max(float(pixels), 1.0)
        result[name] = {
            "disagreement": float(differ) / pixels_or_one,
            "floor": float(floor) / pixels_or_one,
            "accuracy_first": float(first_right) / pixels_or_one,
            "accuracy_turned": float(turned_right) / pixels_or_one,
            "pixels": int(pixels),
        }
        logger.debug("camera turn %s: %s", name, result[name])
    return result
