"""Cameras mounted on a vehicle or robot: orientation and position, and rigs of them.

Conventions (docs/conventions.md): ``world_from_camera`` is the 3x3 rotation that
maps a ray in the camera frame (x right, y down, z optical axis) to the world
frame, ``ray_in_world = world_from_camera @ ray_in_camera``. For a rig the world
frame is the vehicle frame (ISO 8855: x forward, y left, z up), and
``translation`` is the camera centre in that frame, in metres. The sphere a rig
is fused onto is centred at the vehicle origin; rays are treated as directions
(scene at infinity), so translations cause parallax of ``baseline / distance``
radians for near objects.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from equisphere.cameras.base import Camera
from equisphere.so3 import check_rotation_matrix, matrix_from_quaternion

__all__ = ["CameraRig", "MountedCamera", "forward_looking", "rotation_from_quaternion_xyzw"]

Matrix3 = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]


def _as_matrix3(value: object, name: str) -> Matrix3:
    matrix = torch.as_tensor(value, dtype=torch.float64)
    if matrix.shape != (3, 3):
        raise ValueError(
            f"expected {name} to be a 3x3 rotation matrix, got shape {tuple(matrix.shape)}"
        )
    check_rotation_matrix(matrix, atol=1e-6)
    return tuple(tuple(float(x) for x in row) for row in matrix.tolist())  # type: ignore[return-value]


def rotation_from_quaternion_xyzw(quaternion: Sequence[float]) -> torch.Tensor:
    """Rotation matrix (float64, 3x3) from a scalar-last quaternion ``[x, y, z, w]``.

    Raises ``ValueError`` unless the quaternion has four finite entries and unit
    norm within 1e-3 (it is then normalised).
    """
    q = torch.as_tensor([float(x) for x in quaternion], dtype=torch.float64)
    if q.shape != (4,) or not torch.isfinite(q).all():
        raise ValueError(f"expected a finite quaternion [x, y, z, w], got {list(quaternion)!r}")
    norm = float(q.norm())
    if abs(norm - 1) > 1e-3:
        raise ValueError(f"expected a unit quaternion [x, y, z, w], got norm {norm:.6g}")
    x, y, z, w = (q / norm).tolist()
    return matrix_from_quaternion(torch.tensor([w, x, y, z], dtype=torch.float64))


def forward_looking(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``world_from_camera`` of a level camera looking along world +x.

    Camera z (optical axis) -> world +x, camera x (right) -> world -y, camera y
    (down) -> world -z: the view a driver has, in the vehicle frame.
    """
    return torch.tensor([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]], dtype=dtype)


@dataclass(frozen=True)
class MountedCamera:
    """A camera with its pose in a world (vehicle) frame.

    Parameters
    ----------
    camera : Camera
    world_from_camera : 3x3 nested tuple or tensor, optional
        Rotation taking camera-frame rays to the world frame; None when unknown.
    translation : (float, float, float), optional
        Camera centre in the world frame, metres.
    name : str
    """

    camera: Camera
    world_from_camera: Matrix3 | None = None
    translation: tuple[float, float, float] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.camera, Camera):
            raise TypeError(f"expected camera to be a Camera, got {type(self.camera).__name__}")
        if self.world_from_camera is not None:
            object.__setattr__(
                self, "world_from_camera", _as_matrix3(self.world_from_camera, "world_from_camera")
            )
        if self.translation is not None:
            values = tuple(float(x) for x in self.translation)
            if len(values) != 3 or not all(math.isfinite(x) for x in values):
                raise ValueError(
                    f"expected a finite translation [x, y, z], got {self.translation!r}"
                )
            object.__setattr__(self, "translation", values)

    def rotation(
        self, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """``world_from_camera`` as a tensor (identity when unknown), shape (3, 3)."""
        if self.world_from_camera is None:
            return torch.eye(3, dtype=dtype, device=device)
        return torch.tensor(self.world_from_camera, dtype=dtype, device=device)

    def optical_axis(self) -> torch.Tensor:
        """Direction of the optical axis in the world frame, shape (3,), float64."""
        return self.rotation()[:, 2]


@dataclass(frozen=True)
class CameraRig:
    """Several mounted cameras sharing one world (vehicle) frame.

    Parameters
    ----------
    cameras : tuple of MountedCamera
        Each with ``world_from_camera`` set and a distinct non-empty ``name``.
    """

    cameras: tuple[MountedCamera, ...]

    def __post_init__(self) -> None:
        cameras = tuple(self.cameras)
        if not cameras:
            raise ValueError("expected at least one camera in the rig, got none")
        names = [mounted.name for mounted in cameras]
        for mounted in cameras:
            if not isinstance(mounted, MountedCamera):
                raise TypeError(f"expected MountedCamera entries, got {type(mounted).__name__}")
            if mounted.world_from_camera is None:
                raise ValueError(
                    f"camera {mounted.name!r} has no extrinsics: a rig needs world_from_camera "
                    "for every camera"
                )
        if "" in names or len(set(names)) != len(names):
            raise ValueError(f"expected distinct, non-empty camera names in a rig, got {names}")
        object.__setattr__(self, "cameras", cameras)

    @property
    def names(self) -> list[str]:
        return [mounted.name for mounted in self.cameras]

    def __getitem__(self, name: str) -> MountedCamera:
        for mounted in self.cameras:
            if mounted.name == name:
                return mounted
        raise KeyError(f"no camera named {name!r} in the rig; it has {self.names}")

    def __iter__(self) -> Iterator[MountedCamera]:
        return iter(self.cameras)

    def __len__(self) -> int:
        return len(self.cameras)
