"""OpenCV calibration files (YAML from ``cv2.FileStorage`` or JSON): ``K``, ``D``, ``xi``.

Keys read (first match wins):

- camera matrix: ``K``, ``camera_matrix``, ``cameraMatrix``;
- distortion: ``D``, ``distortion_coefficients``, ``dist_coeffs``, ``distCoeffs`` (optional);
- mirror parameter: ``xi`` (``cv2.omnidir``; optional);
- image size: ``image_width`` and ``image_height``, or ``image_size`` / ``imageSize``
  as ``[width, height]``, or ``width`` and ``height``;
- model: an optional ``model`` string, or OpenCV's ``fisheye_model`` flag.

With ``model="auto"`` the model is: the file's ``model`` if given; else unified
when ``xi`` is present; else Kannala-Brandt when ``fisheye_model`` is set or ``D``
has exactly four entries (``cv2.fisheye``'s ``k1..k4``); else pinhole.

Known limits: the pinhole and unified models here carry no extra distortion, so
a file whose ``D`` (plumb-bob ``k1, k2, p1, p2[, k3...]``) is not all zero is
refused with a message rather than read wrongly.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

from equisphere.cameras.analytic import PinholeCamera
from equisphere.cameras.base import Camera
from equisphere.cameras.files import CalibrationError, number, numbers, require
from equisphere.cameras.omni import UnifiedCamera
from equisphere.cameras.polynomial import KannalaBrandtCamera
from equisphere.cameras.rig import MountedCamera

__all__ = ["read_opencv"]

_K_KEYS = ("K", "camera_matrix", "cameraMatrix")
_D_KEYS = ("D", "distortion_coefficients", "dist_coeffs", "distCoeffs")
_MODEL_NAMES = {
    "pinhole": "pinhole",
    "kannala_brandt": "kannala_brandt",
    "fisheye": "kannala_brandt",
    "unified": "unified",
    "omnidir": "unified",
    "mei": "unified",
}


def _first(data: dict, keys: tuple[str, ...]) -> str | None:
    return next((key for key in keys if key in data), None)


def _image_size(data: dict, path: Path) -> tuple[int, int]:
    if "image_width" in data or "image_height" in data:
        width = number(require(data, "image_width", path), "image_width", path)
        height = number(require(data, "image_height", path), "image_height", path)
    elif _first(data, ("image_size", "imageSize")):
        key = _first(data, ("image_size", "imageSize"))
        width, height = numbers(data[key], key, path, 2)
    elif "width" in data or "height" in data:
        width = number(require(data, "width", path), "width", path)
        height = number(require(data, "height", path), "height", path)
    else:
        raise CalibrationError(
            f"{path}: missing the image size; expected 'image_width' and 'image_height' (or "
            f"'image_size' = [width, height]); keys present: {sorted(data)}"
        )
    if not (width.is_integer() and height.is_integer()) or width < 1 or height < 1:
        raise CalibrationError(
            f"{path}: expected whole positive image size, got {width} x {height}"
        )
    return int(width), int(height)


def _choose_model(data: dict, model: str, distortion: list[float] | None, path: Path) -> str:
    if model != "auto":
        if model not in ("pinhole", "kannala_brandt", "unified"):
            raise ValueError(
                f"expected model 'auto', 'pinhole', 'kannala_brandt' or 'unified', got {model!r}"
            )
        return model
    if "model" in data:
        name = str(data["model"]).lower()
        if name not in _MODEL_NAMES:
            raise CalibrationError(
                f"{path}: unknown 'model' {data['model']!r}; expected one of {sorted(_MODEL_NAMES)}"
            )
        return _MODEL_NAMES[name]
    if "xi" in data:
        return "unified"
    if "fisheye_model" in data:
        return (
            "kannala_brandt"
            if bool(number(data["fisheye_model"], "fisheye_model", path))
            else "pinhole"
        )
    if distortion is not None and len(distortion) == 4:
        return "kannala_brandt"
    return "pinhole"


def read_opencv(
    data: dict,
    path: Path,
    model: Literal["auto", "pinhole", "kannala_brandt", "unified"] = "auto",
) -> MountedCamera:
    """Build a camera from an OpenCV calibration mapping (see the module docstring).

    Raises
    ------
    CalibrationError (a ValueError)
        No camera matrix (with a hint if a key looks misspelt), a malformed matrix,
        a distortion the chosen model does not have, or non-finite values.
    """
    key = _first(data, _K_KEYS)
    if key is None:
        close = [m for k in _K_KEYS for m in difflib.get_close_matches(k, map(str, data), n=1)]
        hint = f" (found {close[0]!r}: misspelt?)" if close else ""
        raise CalibrationError(
            f"{path}: missing the camera matrix; expected one of {list(_K_KEYS)}{hint}; "
            f"keys present: {sorted(data)}"
        )
    k = numbers(data[key], key, path, 9)
    if k[3] != 0 or k[6] != 0 or k[7] != 0 or k[8] != 1:
        raise CalibrationError(
            f"{path}: expected a camera matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {k}"
        )
    d_key = _first(data, _D_KEYS)
    distortion = numbers(data[d_key], d_key, path, None) if d_key else None
    width, height = _image_size(data, path)
    chosen = _choose_model(data, model, distortion, path)
    affine = dict(width=width, height=height, fx=k[0], skew=k[1], cx=k[2], fy=k[4], cy=k[5])

    camera: Camera
    try:
        if chosen == "kannala_brandt":
            if distortion is None or len(distortion) != 4:
                raise CalibrationError(
                    f"{path}: the Kannala-Brandt (cv2.fisheye) model needs D = [k1, k2, k3, k4], "
                    f"got {distortion}"
                )
            k1, k2, k3, k4 = distortion
            camera = KannalaBrandtCamera(**affine, k1=k1, k2=k2, k3=k3, k4=k4)
        else:
            if distortion is not None and any(abs(d) > 1e-12 for d in distortion):
                raise CalibrationError(
                    f"{path}: distortion D = {distortion} is not modelled for the {chosen} camera "
                    "(only zero distortion is read); undistort the images first, or save a "
                    "fisheye calibration with cv2.fisheye (model kannala_brandt)"
                )
            if chosen == "unified":
                xi = numbers(require(data, "xi", path), "xi", path, 1)[0]
                camera = UnifiedCamera(**affine, xi=xi)
            else:
                camera = PinholeCamera(**affine)
    except CalibrationError:
        raise
    except (ValueError, TypeError) as error:
        raise CalibrationError(f"{path}: {error}") from None
    return MountedCamera(camera, name=str(data.get("name", data.get("camera_name", ""))))
