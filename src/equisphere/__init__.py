"""equisphere: rotation-equivariant deep learning on spherical images.

Sub-packages, from the ground up: ``so3`` (rotations, SO(3) grid, Wigner-D),
``sphere`` (grids and quadrature), ``harmonics`` (spherical and SO(3) Fourier
transforms), ``nn`` (equivariant layers), ``testing`` (equivariance checker),
``cameras`` (lens models, calibration), ``resample`` (image <-> sphere),
``data``, ``models``, ``training``, ``viz`` and ``cli``. Conventions are in
``docs/conventions.md``.
"""

__version__ = "0.1.0"
