"""The rotation group SO(3): rotations, the SO(3) grid and Wigner-D matrices."""

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
from equisphere.so3.wigner import (
    real_from_complex_basis,
    wigner_D,
    wigner_D_flat,
    wigner_D_matrices,
    wigner_small_d,
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
    "real_from_complex_basis",
    "wigner_D",
    "wigner_D_flat",
    "wigner_D_matrices",
    "wigner_small_d",
]
