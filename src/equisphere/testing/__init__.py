"""Checking layers from outside: the public equivariance checker and the rotation actions.

Nothing in :mod:`equisphere.nn` imports this package; it measures the layers
the way a user would, by rotating inputs and outputs.
"""

from equisphere.testing._actions import SO3Rotation, SphereRotation, invariant
from equisphere.testing._equivariance import EquivarianceReport, check_equivariance
from equisphere.testing._grid_symmetries import grid_symmetry_rotations

__all__ = [
    "EquivarianceReport",
    "SO3Rotation",
    "SphereRotation",
    "check_equivariance",
    "grid_symmetry_rotations",
    "invariant",
]
