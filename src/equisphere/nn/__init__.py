"""Equivariant layers for signals on the sphere and on SO(3).

Convolutions are products in the harmonic domain (Cohen et al., 2018):
analyse, multiply per degree, synthesise. Signals live on grids between
layers, so pointwise nonlinearities act on grid values.

- :class:`S2Convolution`: sphere ``(N, C, n_theta, n_phi)`` -> SO(3)
  ``(N, C', 2B, 2B, 2B)``.
- :class:`SO3Convolution`: SO(3) -> SO(3).
- :class:`SO3ToS2`: SO(3) -> sphere, for dense outputs.
- :class:`ZonalS2Convolution`: sphere -> sphere with isotropic filters.
- :class:`GridActivation`, :class:`EquivariantBatchNorm`, :class:`BandLimit`,
  :class:`GlobalPool`: nonlinearity, normalisation, spectral pooling and
  invariant pooling.
- Kernel grids for local filters and :func:`parameter_table`.

Conventions: docs/conventions.md (layouts, real harmonics, group convolutions).
"""

from equisphere.nn._activation import GridActivation
from equisphere.nn._batchnorm import EquivariantBatchNorm
from equisphere.nn._kernel_grids import ring_grid, s2_near_identity_grid, so3_near_identity_grid
from equisphere.nn._pooling import BandLimit, GlobalPool
from equisphere.nn._s2_convolution import S2Convolution
from equisphere.nn._so3_convolution import SO3Convolution
from equisphere.nn._so3_to_s2 import SO3ToS2
from equisphere.nn._summary import parameter_table
from equisphere.nn._zonal import ZonalS2Convolution

__all__ = [
    "BandLimit",
    "EquivariantBatchNorm",
    "GlobalPool",
    "GridActivation",
    "S2Convolution",
    "SO3Convolution",
    "SO3ToS2",
    "ZonalS2Convolution",
    "parameter_table",
    "ring_grid",
    "s2_near_identity_grid",
    "so3_near_identity_grid",
]
