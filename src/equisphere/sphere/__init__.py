"""Grids on the sphere S2 and their quadrature."""

from equisphere.sphere.grids import (
    EquiangularGrid,
    GaussLegendreGrid,
    HealpixGrid,
    SphereGrid,
    angles_from_vectors,
    make_grid,
    unit_vectors,
)
from equisphere.sphere.interpolate import rotate_signal, sample_signal

__all__ = [
    "EquiangularGrid",
    "GaussLegendreGrid",
    "HealpixGrid",
    "SphereGrid",
    "angles_from_vectors",
    "make_grid",
    "rotate_signal",
    "sample_signal",
    "unit_vectors",
]
