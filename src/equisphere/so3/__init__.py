"""The rotation group SO(3): rotations, the SO(3) grid and (later) Wigner-D matrices."""

from equisphere.so3.grid import SO3Grid
from equisphere.so3.rotations import (
    axis_angle_from_matrix,
    check_rotation_matrix,
    compose,
    euler_zyz_from_matrix,
    inverse,
    matrix_from_axis_angle,
    matrix_from_euler_zyz,
    matrix_from_quaternion,
    quaternion_from_matrix,
    random_rotation_matrices,
    rotation_x,
    rotation_y,
    rotation_z,
)

__all__ = [
    "SO3Grid",
    "axis_angle_from_matrix",
    "check_rotation_matrix",
    "compose",
    "euler_zyz_from_matrix",
    "inverse",
    "matrix_from_axis_angle",
    "matrix_from_euler_zyz",
    "matrix_from_quaternion",
    "quaternion_from_matrix",
    "random_rotation_matrices",
    "rotation_x",
    "rotation_y",
    "rotation_z",
]
