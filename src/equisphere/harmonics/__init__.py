"""Harmonic analysis: spherical harmonics, transforms on the sphere and on SO(3).

Conventions are in docs/conventions.md: bandwidth ``B`` means degrees
``l < B``; sphere coefficients ``(..., B^2)`` at ``l^2 + l + m``; SO(3)
coefficients ``(..., B (4 B^2 - 1) / 3)`` with degree ``l`` at ``l (4 l^2 - 1) / 3``.
"""

from equisphere.harmonics.rotate import rotate_coefficients
from equisphere.harmonics.sht import InverseSphericalHarmonicTransform, SphericalHarmonicTransform
from equisphere.harmonics.so3_fft import (
    InverseSO3FourierTransform,
    SO3FourierTransform,
    so3_block_offset,
    so3_coefficient_count,
)
from equisphere.harmonics.spherical_harmonics import (
    complex_spherical_harmonics,
    normalized_legendre,
    real_spherical_harmonics,
)

__all__ = [
    "InverseSO3FourierTransform",
    "InverseSphericalHarmonicTransform",
    "SO3FourierTransform",
    "SphericalHarmonicTransform",
    "complex_spherical_harmonics",
    "normalized_legendre",
    "real_spherical_harmonics",
    "rotate_coefficients",
    "so3_block_offset",
    "so3_coefficient_count",
]
