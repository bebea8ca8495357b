"""Calibration files: the project's own format, and one entry point for every format.

The own format (YAML or JSON, schema in docs/cameras.md) is a mapping with
``equisphere_calibration: 1`` and a list ``cameras``; a single-camera file is a
rig of one. ``load_calibration`` also reads OpenCV (``K``, ``D``, ``xi``) and
WoodScape files, recognised by their keys.

Conventions: pixel centres and frames as in docs/conventions.md;
``world_from_camera`` as in ``equisphere.cameras.rig``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import yaml

from equisphere.cameras.analytic import (
    EquidistantCamera,
    EquisolidCamera,
    OrthographicCamera,
    PinholeCamera,
    StereographicCamera,
)
from equisphere.cameras.base import Camera
from equisphere.cameras.files import (
    CalibrationError,
    number,
    numbers,
    read_mapping,
    reject_unknown,
    require,
)
from equisphere.cameras.omni import DoubleSphereCamera, UnifiedCamera
from equisphere.cameras.opencv_files import read_opencv
from equisphere.cameras.polynomial import KannalaBrandtCamera, RadialPolyCamera
from equisphere.cameras.rig import CameraRig, MountedCamera, rotation_from_quaternion_xyzw
from equisphere.cameras.woodscape_files import read_woodscape

__all__ = [
    "CAMERA_MODELS",
    "CalibrationError",
    "camera_from_dict",
    "camera_to_dict",
    "load_calibration",
    "load_rig",
    "save_calibration",
]

logger = logging.getLogger(__name__)

FORMAT_KEY = "equisphere_calibration"
FORMAT_VERSION = 1

CAMERA_MODELS: dict[str, type[Camera]] = {
    cls.model: cls
    for cls in (
        PinholeCamera,
        EquidistantCamera,
        EquisolidCamera,
        StereographicCamera,
        OrthographicCamera,
        KannalaBrandtCamera,
        RadialPolyCamera,
        UnifiedCamera,
        DoubleSphereCamera,
    )
}

_OPTIONAL_INTRINSICS = {"skew"}


def _intrinsic_names(cls: type[Camera]) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in ("width", "height", "max_incidence")
    ]


def camera_to_dict(mounted: MountedCamera | Camera) -> dict:
    """One camera entry of the own format (plain Python values)."""
    if isinstance(mounted, Camera):
        mounted = MountedCamera(mounted)
    camera = mounted.camera
    intrinsics = {}
    for name in _intrinsic_names(type(camera)):
        value = getattr(camera, name)
        intrinsics[name] = list(value) if isinstance(value, tuple) else value
    entry: dict = {
        "name": mounted.name,
        "model": camera.model,
        "image_size": [camera.width, camera.height],
        "intrinsics": intrinsics,
    }
    if camera.max_incidence is not None:
        entry["max_incidence_deg"] = math.degrees(camera.max_incidence)
    if mounted.world_from_camera is not None:
        entry["world_from_camera"] = {"rotation": [list(row) for row in mounted.world_from_camera]}
        if mounted.translation is not None:
            entry["world_from_camera"]["translation"] = list(mounted.translation)
    return entry


def camera_from_dict(
    entry: dict, path: Path | str = "<dict>", section: str = "cameras[0]"
) -> MountedCamera:
    """Build a camera from one entry of the own format; every key is checked."""
    path = Path(path)
    reject_unknown(
        entry,
        ["name", "model", "image_size", "intrinsics", "max_incidence_deg", "world_from_camera"],
        path,
        section,
    )
    model = require(entry, "model", path, section)
    if model not in CAMERA_MODELS:
        raise CalibrationError(
            f"{path} [{section}]: unknown camera model {model!r}; "
            f"expected one of {sorted(CAMERA_MODELS)}"
        )
    cls = CAMERA_MODELS[model]
    width, height = numbers(
        require(entry, "image_size", path, section), "image_size", path, 2, section
    )
    raw = require(entry, "intrinsics", path, section)
    names = _intrinsic_names(cls)
    reject_unknown(raw, names, path, f"{section}.intrinsics")
    intrinsics: dict = {}
    for name in names:
        if name in _OPTIONAL_INTRINSICS and name not in raw:
            continue
        value = require(raw, name, path, f"{section}.intrinsics")
        if name == "coefficients":
            intrinsics[name] = tuple(numbers(value, name, path, None, f"{section}.intrinsics"))
        else:
            intrinsics[name] = number(value, name, path, f"{section}.intrinsics")
    max_incidence = entry.get("max_incidence_deg")
    if max_incidence is not None:
        max_incidence = math.radians(number(max_incidence, "max_incidence_deg", path, section))
    try:
        camera = cls(
            width=_whole(width, "image_size", path),
            height=_whole(height, "image_size", path),
            max_incidence=max_incidence,
            **intrinsics,
        )
    except (ValueError, TypeError) as error:
        raise CalibrationError(f"{path} [{section}]: {error}") from None

    rotation = translation = None
    pose = entry.get("world_from_camera")
    if pose is not None:
        pose_section = f"{section}.world_from_camera"
        reject_unknown(pose, ["rotation", "quaternion_xyzw", "translation"], path, pose_section)
        if ("rotation" in pose) == ("quaternion_xyzw" in pose):
            raise CalibrationError(
                f"{path} [{pose_section}]: expected exactly one of 'rotation' (3x3) or "
                f"'quaternion_xyzw', got keys {sorted(pose)}"
            )
        try:
            if "rotation" in pose:
                values = numbers(pose["rotation"], "rotation", path, 9, pose_section)
                rotation = [values[0:3], values[3:6], values[6:9]]
            else:
                quaternion = numbers(
                    pose["quaternion_xyzw"], "quaternion_xyzw", path, 4, pose_section
                )
                rotation = rotation_from_quaternion_xyzw(quaternion).tolist()
            if "translation" in pose:
                translation = numbers(pose["translation"], "translation", path, 3, pose_section)
            mounted = MountedCamera(camera, rotation, translation, str(entry.get("name", "")))
        except (ValueError, TypeError) as error:
            raise CalibrationError(f"{path} [{pose_section}]: {error}") from None
        return mounted
    return MountedCamera(camera, None, None, str(entry.get("name", "")))


def _whole(value: float, key: str, path: Path) -> int:
    if not float(value).is_integer() or value < 1:
        raise CalibrationError(
            f"{path}: expected whole positive pixel counts in {key!r}, got {value!r}"
        )
    return int(value)


def _read_own(data: dict, path: Path) -> list[MountedCamera]:
    reject_unknown(data, [FORMAT_KEY, "cameras"], path)
    version = data[FORMAT_KEY]
    if version != FORMAT_VERSION:
        raise CalibrationError(
            f"{path}: unsupported {FORMAT_KEY} version {version!r}; this equisphere reads "
            f"version {FORMAT_VERSION}"
        )
    entries = require(data, "cameras", path)
    if not isinstance(entries, list) or not entries:
        raise CalibrationError(
            f"{path}: expected 'cameras' to be a non-empty list, got {entries!r}"
        )
    return [camera_from_dict(entry, path, f"cameras[{i}]") for i, entry in enumerate(entries)]


def _detect(data: dict) -> Literal["equisphere", "woodscape", "opencv"]:
    if FORMAT_KEY in data:
        return "equisphere"
    if "intrinsic" in data or "cam_name" in data:
        return "woodscape"
    return "opencv"


def _read_any(
    path: str | Path, opencv_model: str, woodscape_legacy: Literal["reject", "intrinsics"]
) -> list[MountedCamera]:
    data, path = read_mapping(path)
    kind = _detect(data)
    logger.debug("reading %s as a %s calibration", path, kind)
    if kind == "equisphere":
        return _read_own(data, path)
    if kind == "woodscape":
        return [read_woodscape(data, path, legacy=woodscape_legacy)]
    return [read_opencv(data, path, model=opencv_model)]  # type: ignore[arg-type]


def load_calibration(
    path: str | Path,
    *,
    name: str | None = None,
    opencv_model: Literal["auto", "pinhole", "kannala_brandt", "unified"] = "auto",
    woodscape_legacy: Literal["reject", "intrinsics"] = "reject",
) -> MountedCamera:
    """Read one camera from an own-format, OpenCV or WoodScape file (told apart by keys).

    Parameters
    ----------
    path : str or Path
        ``.json``, ``.yaml`` or ``.yml``.
    name : str, optional
        Which camera of a multi-camera own-format file.
    opencv_model : str
        For OpenCV files: see ``read_opencv``.
    woodscape_legacy : {"reject", "intrinsics"}
        For the older WoodScape layout: refuse (default) or convert its intrinsics only.

    Returns
    -------
    MountedCamera
        The camera, its extrinsics where the file has them, and its name.

    Raises
    ------
    CalibrationError (a ValueError)
        Missing, misnamed or non-finite keys; an unknown model; an ambiguous file.
    """
    cameras = _read_any(path, opencv_model, woodscape_legacy)
    if name is not None:
        matches = [c for c in cameras if c.name == name]
        if not matches:
            raise CalibrationError(
                f"{path}: no camera named {name!r}; found {[c.name for c in cameras]}"
            )
        return matches[0]
    if len(cameras) != 1:
        raise CalibrationError(
            f"{path}: holds {len(cameras)} cameras {[c.name for c in cameras]}; "
            "pass name= to pick one, or use load_rig"
        )
    return cameras[0]


def load_rig(paths: str | Path | Sequence[str | Path]) -> CameraRig:
    """A rig from one own-format file, or from several files of any format (one camera each).

    Every camera needs extrinsics (``world_from_camera``) and a distinct name; a
    camera read without a name is named after its file.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    cameras: list[MountedCamera] = []
    for path in paths:
        for mounted in _read_any(path, "auto", "reject"):
            if not mounted.name:
                mounted = dataclasses.replace(mounted, name=Path(path).stem)
            cameras.append(mounted)
    return CameraRig(tuple(cameras))


def save_calibration(
    path: str | Path, cameras: Camera | MountedCamera | CameraRig, *, overwrite: bool = False
) -> Path:
    """Write cameras in the own format (YAML for ``.yaml``/``.yml``, JSON for ``.json``).

    Raises ``FileExistsError`` if ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        raise ValueError(f"expected a .json, .yaml or .yml path, got {str(path)!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (or --overwrite) to replace it")
    if isinstance(cameras, CameraRig):
        entries = [camera_to_dict(c) for c in cameras]
    else:
        entries = [camera_to_dict(cameras)]
    document = {FORMAT_KEY: FORMAT_VERSION, "cameras": entries}
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path
