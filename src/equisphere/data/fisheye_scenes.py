"""Fisheye segmentation sets in the WoodScape layout, rendered from spherical scenes.

:func:`generate_fisheye_scenes` draws ``size`` scenes (a real panorama and
several Fashion-MNIST garments on the sphere, :mod:`equisphere.data.fisheye_render`),
a camera orientation for each, and writes the views in the layout of
:mod:`equisphere.data.woodscape`: ``rgb_images/``, ``semantic_annotations/gtLabels/``
(0 background, class + 1, 255 where the lens sees nothing), ``calibration/``
(one file per image, holding its orientation as the extrinsic rotation; WoodScape
JSON for ``radial_poly`` lenses) and ``classes.json``; plus ``dataset.json`` (the
options) and ``scenes.npz`` (every object's class, source index, rotation, size
and tint, the panorama and the orientation), from which :func:`load_scenes`
re-creates the scenes to render them again from any orientation.

Camera orientations (``orientation``): ``"upright"`` mounts the camera as its
calibration does (the WoodScape front camera: forward, 23 degrees down; a level
forward camera when the file has no extrinsics) and turns it about the world's
vertical by a uniform random heading; ``"rotated"`` gives it a uniform random
rotation.

A folder that holds a set made with the same options is reused as it is;
one made with other options is replaced only when asked (``overwrite``), and
anything else is never touched. Sets are written to a temporary folder beside
``root`` and renamed into place, so a reader never sees half a set.

Conventions: world frame = panorama frame; camera frame and pixels as in
docs/conventions.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from equisphere.cameras import Camera, MountedCamera, RadialPolyCamera, forward_looking
from equisphere.data.fisheye_render import (
    Orientation,
    SceneObjects,
    camera_orientations,
    default_camera,
    load_panoramas,
    random_tints,
    render_view,
)
from equisphere.data.segmentation import place_objects
from equisphere.data.settings import derive_seed
from equisphere.data.sources import FASHION_MNIST_CLASSES, load_fashion_mnist, source_checksums
from equisphere.data.stereographic import images_to_unit_range
from equisphere.data.woodscape import (
    CLASS_MAP,
    IMAGES_DIR,
    LABELS_DIR,
    woodscape_calibration,
    write_class_map,
)
from equisphere.resample.options import camera_pixels_per_radian

__all__ = ["GENERATOR_VERSION", "generate_fisheye_scenes", "load_scenes"]

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 1
"""Bumped whenever the generated images change; part of ``dataset.json``."""

_OUTPUTS = (IMAGES_DIR.parts[0], LABELS_DIR.parts[0], "calibration", CLASS_MAP, "dataset.json")


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _check_options(size: int, image_size: Sequence[int], threshold: float, opacity: float) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"expected size (number of images) to be a positive int, got {size!r}")
    if len(image_size) != 2 or min(image_size) < 8:
        raise ValueError(f"expected image_size (width, height) of at least 8 x 8, got {image_size}")
    if not 0 <= threshold < 1 or not 0 < opacity <= 1:
        raise ValueError(
            f"expected threshold in [0, 1) and opacity in (0, 1], got {threshold} and {opacity}"
        )


def generate_fisheye_scenes(
    root: str | os.PathLike[str],
    panoramas: str | os.PathLike[str],
    *,
    size: int,
    split: Literal["train", "test"] = "train",
    orientation: Orientation = "upright",
    camera: str | os.PathLike[str] | None = None,
    image_size: tuple[int, int] = (160, 120),
    max_incidence_deg: float | None = None,
    objects: int | tuple[int, int] = (3, 5),
    object_size: float | tuple[float, float] = (30.0, 40.0),
    object_rotation: Literal["NR", "R"] = "NR",
    threshold: float = 0.25,
    opacity: float = 0.9,
    panorama_height: int | None = None,
    seed: int = 0,
    source: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write a WoodScape-style set of fisheye views of spherical scenes (module docstring).

    Parameters
    ----------
    root : path
        Folder to create. If it exists and holds a set made with the same options,
        it is reused as it is; other contents are never replaced unless ``overwrite``.
    panoramas : path
        Folder of equirectangular backgrounds (one drawn per scene).
    size : int
        Number of images.
    split : {"train", "test"}
        Which Fashion-MNIST split the objects come from (and the random stream).
    orientation : {"upright", "rotated"}
        Camera orientations: mounted with a random heading, or uniformly random.
    camera : path, optional
        Calibration file of the lens; default the WoodScape front camera.
    image_size : (int, int)
        ``(width, height)`` of the images; the calibration is scaled to it.
    max_incidence_deg : float, optional
        Image circle in degrees from the optical axis (pixels beyond it get label
        255 and black); default the lens's own limit.
    objects, object_size, object_rotation
        Objects per scene, their half-widths in degrees, and ``"NR"`` (upright,
        tops to the zenith) or ``"R"`` (random rotations); see
        :func:`~equisphere.data.place_objects`.
    threshold, opacity
        See :func:`render_view`.
    panorama_height : int, optional
        Backgrounds are resized to ``panorama_height x 2 panorama_height`` first;
        default 1.5 panorama pixels per image pixel where the lens is coarsest
        (its centre, for fisheyes; a multiple of 16, at least 64): finer only
        costs time, as each pixel averages the panorama over its footprint.
    seed : int
    source : path, optional
        Fashion-MNIST folder; default the built-in subset.
    overwrite : bool
        Replace a set made with other options.
    progress : callable, optional
        Called with the number of images written, now and then.

    Returns
    -------
    Path
        ``root``.

    Raises
    ------
    FileExistsError
        If ``root`` exists with other contents and ``overwrite`` is False.
    """
    from PIL import Image

    from equisphere.cameras import load_calibration

    _check_options(size, image_size, threshold, opacity)
    root = Path(root)
    mounted = default_camera() if camera is None else load_calibration(camera)
    camera_name = mounted.name or "FV"
    lens = mounted.camera.resized(*image_size)
    if panorama_height is None:
        coarsest = camera_pixels_per_radian(lens)[0]  # image pixels per radian
        panorama_height = max(64, 16 * math.ceil(1.5 * coarsest * math.pi / 16))
    names, backgrounds = load_panoramas(panoramas, panorama_height)
    options = {
        "generator": GENERATOR_VERSION,
        "split": split,
        "size": size,
        "orientation": orientation,
        "camera": _calibration_document(mounted.camera, mounted.rotation(), camera_name),
        "image_size": list(image_size),
        "max_incidence_deg": max_incidence_deg,
        "objects": list(objects) if not isinstance(objects, int) else objects,
        "object_size": list(object_size) if not isinstance(object_size, float) else object_size,
        "object_rotation": object_rotation,
        "threshold": threshold,
        "opacity": opacity,
        "panorama_height": panorama_height,
        "seed": seed,
        "panoramas": {name: _file_digest(Path(panoramas) / name) for name in names},
        "source": source_checksums(source, split),
    }
    if _reuse(root, options, overwrite):
        return root
    render_lens = lens
    if max_incidence_deg is not None:
        render_lens = dataclasses.replace(lens, max_incidence=math.radians(max_incidence_deg))

    generator = torch.Generator().manual_seed(derive_seed(seed, "fisheye", split))
    placement = place_objects(
        size, objects, object_size, "reject", None, object_rotation, generator=generator
    )
    images, source_labels = load_fashion_mnist(source, split)
    slots = placement["present"].shape[1]
    indices = torch.randint(0, len(images), (size, slots), generator=generator)
    indices = torch.where(placement["present"], indices, -1)
    classes = torch.where(indices >= 0, torch.from_numpy(source_labels)[indices.clamp_min(0)], -1)
    tints = random_tints(size, slots, generator)
    panorama_index = torch.randint(0, len(names), (size,), generator=generator)
    mount = forward_looking() if mounted.world_from_camera is None else mounted.rotation()
    orientations = camera_orientations(size, orientation, mount, generator)
    unit_images = images_to_unit_range(torch.from_numpy(images), torch.float32)

    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    try:
        for folder in (IMAGES_DIR, LABELS_DIR, Path("calibration")):
            (staging / folder).mkdir(parents=True)
        for i in range(size):
            scene = SceneObjects(
                unit_images[indices[i].clamp_min(0)],
                classes[i],
                placement["rotations"][i],
                placement["sizes"][i],
                tints[i],
            )
            image, labels, _ = render_view(
                scene,
                backgrounds[int(panorama_index[i])],
                render_lens,
                orientations[i],
                threshold=threshold,
                opacity=opacity,
            )
            name = f"{i:05d}_{camera_name}"
            pixels = (image.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
            Image.fromarray(pixels).save(staging / IMAGES_DIR / f"{name}.png")
            Image.fromarray(labels.numpy()).save(staging / LABELS_DIR / f"{name}.png")
            calibration = _calibration_document(lens, orientations[i], camera_name)
            (staging / "calibration" / f"{name}.json").write_text(
                json.dumps(calibration, indent=2) + "\n", encoding="utf-8"
            )
            if progress is not None and ((i + 1) % 50 == 0 or i + 1 == size):
                progress(50 if (i + 1) % 50 == 0 else (i + 1) % 50)
        write_class_map(staging / CLASS_MAP, ("background", *FASHION_MNIST_CLASSES))
        np.savez_compressed(
            staging / "scenes.npz",
            panorama=panorama_index.numpy(),
            world_from_camera=orientations.numpy(),
            classes=classes.numpy(),
            indices=indices.numpy(),
            rotations=placement["rotations"].numpy(),
            sizes=placement["sizes"].numpy(),
            tints=tints.numpy(),
        )
        document = {"options": options, "panorama_names": names, "count": size}
        (staging / "dataset.json").write_text(json.dumps(document, indent=2) + "\n")
        _move_into_place(staging, root, overwrite)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    logger.debug("wrote %d fisheye views to %s", size, root)
    return root


def _calibration_document(camera: Camera, world_from_camera: torch.Tensor, name: str) -> dict:
    """WoodScape JSON for a ``radial_poly`` lens without an incidence cap, else the own format."""
    if isinstance(camera, RadialPolyCamera) and camera.max_incidence is None and camera.skew == 0:
        return woodscape_calibration(camera, world_from_camera, name)
    from equisphere.cameras.calibration import FORMAT_KEY, FORMAT_VERSION, camera_to_dict

    entry = camera_to_dict(MountedCamera(camera, world_from_camera.tolist(), None, name))
    return {FORMAT_KEY: FORMAT_VERSION, "cameras": [entry]}


def _reuse(root: Path, options: dict, overwrite: bool) -> bool:
    """True if ``root`` holds a set made with ``options``; raise if it holds anything else."""
    if not root.exists():
        return False
    if not root.is_dir():
        raise FileExistsError(f"{root} exists and is not a folder; choose another output folder")
    description = root / "dataset.json"
    if description.is_file():
        try:
            made_with = json.loads(description.read_text(encoding="utf-8")).get("options")
        except json.JSONDecodeError:
            made_with = None
        if made_with == json.loads(json.dumps(options)):
            logger.debug("%s holds a set made with the same options: reused", root)
            return True
        if overwrite:
            return False
        differing = sorted(
            key
            for key in options
            if not isinstance(made_with, dict)
            or made_with.get(key) != json.loads(json.dumps(options[key]))
        )
        raise FileExistsError(
            f"{root} holds a fisheye set made with other options (differing: "
            f"{', '.join(differing) or 'its description'}); choose another folder, or pass "
            "overwrite=True (command line: --overwrite) to replace it"
        )
    if any(root.iterdir()):
        raise FileExistsError(
            f"{root} exists and is not a generated fisheye set; choose an empty or new folder"
        )
    return False


def _move_into_place(staging: Path, root: Path, overwrite: bool) -> None:
    """Rename the finished set to ``root``; an old generated set there is removed first."""
    if root.exists():
        if any(root.iterdir()) and not (overwrite and (root / "dataset.json").is_file()):
            raise FileExistsError(f"{root} appeared while the set was written; nothing replaced")
        for name in (*_OUTPUTS, "scenes.npz"):
            target = root / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        for item in staging.iterdir():
            item.rename(root / item.name)
        return
    staging.rename(root)


def load_scenes(
    root: str | os.PathLike[str],
    panoramas: str | os.PathLike[str],
    source: str | os.PathLike[str] | None = None,
) -> tuple[list[SceneObjects], list[torch.Tensor], torch.Tensor, dict]:
    """Re-create the scenes of a generated set, so they can be rendered from any orientation.

    Parameters
    ----------
    root : path
        A folder written by :func:`generate_fisheye_scenes`.
    panoramas : path
        The panorama folder it was made from (checked against the recorded digests).
    source : path, optional
        The Fashion-MNIST folder it was made from (checked likewise); default built-in.

    Returns
    -------
    scenes : list of SceneObjects
    backgrounds : list of torch.Tensor, (3, Hp, 2 Hp), one per scene
    world_from_camera : torch.Tensor, (N, 3, 3), float64
    options : dict
    """
    root = Path(root)
    document = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    options = document["options"]
    names, backgrounds = load_panoramas(panoramas, options["panorama_height"])
    for name, digest in options["panoramas"].items():
        if name not in names or _file_digest(Path(panoramas) / name) != digest:
            raise ValueError(
                f"panorama {name!r} in {panoramas} is missing or differs from the one "
                f"{root} was made from"
            )
    with np.load(root / "scenes.npz") as arrays:
        data = {key: torch.from_numpy(arrays[key]) for key in arrays.files}
    if source_checksums(source, options["split"]) != options["source"]:
        raise ValueError(
            f"the object images in {source or 'the built-in subset'} differ from "
            f"those {root} was made from; pass the same source folder"
        )
    images, _ = load_fashion_mnist(source, options["split"])
    unit_images = images_to_unit_range(torch.from_numpy(images), torch.float32)
    scenes, views = [], []
    for i in range(len(data["panorama"])):
        scenes.append(
            SceneObjects(
                unit_images[data["indices"][i].clamp_min(0)],
                data["classes"][i],
                data["rotations"][i],
                data["sizes"][i],
                data["tints"][i],
            )
        )
        views.append(backgrounds[names.index(document["panorama_names"][int(data["panorama"][i])])])
    return scenes, views, data["world_from_camera"], options
