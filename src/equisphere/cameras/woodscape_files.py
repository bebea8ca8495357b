"""WoodScape calibration JSON (valeoai/WoodScape), read by key.

Current layout::

    {"name": "FV",
     "intrinsic": {"model": "radial_poly", "poly_order": 4, "k1": .., "k4": ..,
                   "cx_offset": .., "cy_offset": .., "aspect_ratio": ..,
                   "width": .., "height": ..},
     "extrinsic": {"quaternion": [x, y, z, w], "translation": [x, y, z]}}

``rho(theta) = k1 theta + ... + k4 theta^4`` pixels; the principal point is
``(width / 2 + cx_offset - 0.5, height / 2 + cy_offset - 0.5)`` in the pixel-centre
convention; ``aspect_ratio`` scales the vertical component. The quaternion is
scalar-last and rotates camera coordinates into the vehicle frame (so it gives
``world_from_camera`` with world = vehicle); ``translation`` is the camera
position in metres.

The older layout (``cam_name``; intrinsics ``fisheyeAmt1..4``, ``cxoffs_pix``,
``source_image_x_res``, ...; extrinsics as Euler angles ``rot__x_deg``,
``rot_z1_deg``, ``rot_z2_deg`` and ``pointx_mm``...) is detected. Its intrinsics
map one-to-one onto the current ones and are converted on request
(``legacy="intrinsics"``); its extrinsics use another vehicle origin and angle
convention (they do not reproduce the current quaternion of the same camera), so
they are never converted.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from equisphere.cameras.files import CalibrationError, number, numbers, reject_unknown, require
from equisphere.cameras.polynomial import RadialPolyCamera
from equisphere.cameras.rig import MountedCamera, rotation_from_quaternion_xyzw

__all__ = ["read_woodscape"]

logger = logging.getLogger(__name__)

_LEGACY_INTRINSICS = {
    "fisheyeAmt1": "k1",
    "fisheyeAmt2": "k2",
    "fisheyeAmt3": "k3",
    "fisheyeAmt4": "k4",
    "cxoffs_pix": "cx_offset",
    "cyoffs_pix": "cy_offset",
    "cam_aspect": "aspect_ratio",
    "source_image_x_res": "width",
    "source_image_y_res": "height",
}
_LEGACY_ZERO = ("opt_axis_x_rot_deg", "opt_axis_z1_rot_deg", "opt_axis_z2_rot_deg")
_LEGACY_FALSE = ("image_flip_x_bool", "image_flip_y_bool")


def _is_legacy(data: dict) -> bool:
    intrinsic = data.get("intrinsic")
    return "cam_name" in data or (isinstance(intrinsic, dict) and "fisheyeAmt1" in intrinsic)


def _camera(values: dict[str, float], coefficients: list[float], path: Path) -> RadialPolyCamera:
    width, height = values["width"], values["height"]
    if not (width.is_integer() and height.is_integer()):
        raise CalibrationError(
            f"{path}: expected whole image width and height, got {width} x {height}"
        )
    try:
        return RadialPolyCamera(
            width=int(width),
            height=int(height),
            fx=1.0,
            fy=values["aspect_ratio"],
            cx=width / 2 + values["cx_offset"] - 0.5,
            cy=height / 2 + values["cy_offset"] - 0.5,
            coefficients=tuple(coefficients),
        )
    except (ValueError, TypeError) as error:
        raise CalibrationError(f"{path} [intrinsic]: {error}") from None


def _read_legacy(data: dict, path: Path, legacy: str) -> MountedCamera:
    if legacy != "intrinsics":
        raise CalibrationError(
            f"{path}: this is the older WoodScape calibration layout (keys 'cam_name', "
            "'fisheyeAmt1'.., 'rot__x_deg'..), which is not read by default: its extrinsic "
            "angles use another vehicle origin and convention. Use the current WoodScape "
            "calibration files, or pass woodscape_legacy='intrinsics' (CLI: "
            "--woodscape-legacy intrinsics) to convert the intrinsics only, without extrinsics"
        )
    intrinsic = require(data, "intrinsic", path)
    values = {}
    for old, new in _LEGACY_INTRINSICS.items():
        values[new] = number(require(intrinsic, old, path, "intrinsic"), old, path, "intrinsic")
    for key in _LEGACY_ZERO:
        if key in intrinsic and number(intrinsic[key], key, path, "intrinsic") != 0:
            raise CalibrationError(
                f"{path} [intrinsic]: {key} = {intrinsic[key]!r} cannot be converted (only 0 is)"
            )
    for key in _LEGACY_FALSE:
        if str(intrinsic.get(key, "false")).lower() not in ("false", "0"):
            raise CalibrationError(
                f"{path} [intrinsic]: {key} = {intrinsic[key]!r} cannot be converted "
                "(only false is)"
            )
    coefficients = [values.pop(f"k{i}") for i in range(1, 5)]
    logger.debug("%s: converted the intrinsics of an older WoodScape calibration", path)
    return MountedCamera(_camera(values, coefficients, path), name=str(data.get("cam_name", "")))


def read_woodscape(
    data: dict, path: Path, legacy: Literal["reject", "intrinsics"] = "reject"
) -> MountedCamera:
    """Build a mounted camera from a WoodScape calibration mapping.

    Parameters
    ----------
    data : dict
        The parsed JSON.
    path : Path
        For messages.
    legacy : {"reject", "intrinsics"}
        What to do with the older key layout: refuse with an explanation, or
        convert its intrinsics (the result then has no extrinsics).

    Raises
    ------
    CalibrationError (a ValueError)
        Missing, misnamed or non-finite keys, a model other than ``radial_poly``,
        or the older layout when ``legacy="reject"``.
    """
    if legacy not in ("reject", "intrinsics"):
        raise ValueError(f"expected legacy 'reject' or 'intrinsics', got {legacy!r}")
    if _is_legacy(data):
        return _read_legacy(data, path, legacy)

    reject_unknown(data, ["name", "intrinsic", "extrinsic"], path)
    intrinsic = require(data, "intrinsic", path)
    model = require(intrinsic, "model", path, "intrinsic")
    if model != "radial_poly":
        raise CalibrationError(f"{path} [intrinsic]: expected model 'radial_poly', got {model!r}")
    order = number(
        require(intrinsic, "poly_order", path, "intrinsic"), "poly_order", path, "intrinsic"
    )
    if not order.is_integer() or order < 1:
        raise CalibrationError(f"{path} [intrinsic]: expected a whole poly_order >= 1, got {order}")
    k_names = [f"k{i}" for i in range(1, int(order) + 1)]
    plain = ["cx_offset", "cy_offset", "aspect_ratio", "width", "height"]
    reject_unknown(intrinsic, ["model", "poly_order", *k_names, *plain], path, "intrinsic")
    values = {
        key: number(require(intrinsic, key, path, "intrinsic"), key, path, "intrinsic")
        for key in plain
    }
    coefficients = [
        number(require(intrinsic, key, path, "intrinsic"), key, path, "intrinsic")
        for key in k_names
    ]
    camera = _camera(values, coefficients, path)

    extrinsic = data.get("extrinsic")
    if extrinsic is None:
        return MountedCamera(camera, name=str(data.get("name", "")))
    reject_unknown(extrinsic, ["quaternion", "translation"], path, "extrinsic")
    quaternion = numbers(
        require(extrinsic, "quaternion", path, "extrinsic"), "quaternion", path, 4, "extrinsic"
    )
    translation = numbers(
        require(extrinsic, "translation", path, "extrinsic"), "translation", path, 3, "extrinsic"
    )
    try:
        rotation = rotation_from_quaternion_xyzw(quaternion)
    except ValueError as error:
        raise CalibrationError(f"{path} [extrinsic]: {error}") from None
    return MountedCamera(camera, rotation.tolist(), translation, str(data.get("name", "")))
