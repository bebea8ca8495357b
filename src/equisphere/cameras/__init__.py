"""Cameras: lens models (rays <-> pixels), calibration files and multi-camera rigs.

Knows nothing of sphere grids or networks. Conventions (camera frame, pixel
centres, vehicle frame): docs/conventions.md; the calibration file schema:
docs/cameras.md.
"""

from equisphere.cameras.analytic import (
    EquidistantCamera,
    EquisolidCamera,
    OrthographicCamera,
    PinholeCamera,
    StereographicCamera,
)
from equisphere.cameras.base import Camera
from equisphere.cameras.calibration import (
    CAMERA_MODELS,
    camera_from_dict,
    camera_to_dict,
    load_calibration,
    load_rig,
    save_calibration,
)
from equisphere.cameras.files import CalibrationError
from equisphere.cameras.omni import DoubleSphereCamera, UnifiedCamera
from equisphere.cameras.polynomial import KannalaBrandtCamera, PolynomialCamera, RadialPolyCamera
from equisphere.cameras.rig import (
    CameraRig,
    MountedCamera,
    forward_looking,
    rotation_from_quaternion_xyzw,
)

__all__ = [
    "CAMERA_MODELS",
    "CalibrationError",
    "Camera",
    "CameraRig",
    "MountedCamera",
    "camera_from_dict",
    "camera_to_dict",
    "forward_looking",
    "load_calibration",
    "load_rig",
    "rotation_from_quaternion_xyzw",
    "save_calibration",
    "DoubleSphereCamera",
    "EquidistantCamera",
    "EquisolidCamera",
    "KannalaBrandtCamera",
    "OrthographicCamera",
    "PinholeCamera",
    "PolynomialCamera",
    "RadialPolyCamera",
    "StereographicCamera",
    "UnifiedCamera",
]
