"""Exact rotation of band-limited signals through their spherical harmonic coefficients."""

from __future__ import annotations

import math

import torch

from equisphere.so3.rotations import check_rotation_matrix
from equisphere.so3.wigner import wigner_D_matrices

__all__ = ["rotate_coefficients"]


def rotate_coefficients(coeffs: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Coefficients of the rotated signal ``(R f)(x) = f(R^-1 x)``.

    Parameters
    ----------
    coeffs : torch.Tensor, shape (..., B^2)
        Real spherical harmonic coefficients of ``f`` (flat index ``l^2 + l + m``).
    rotation : torch.Tensor, shape (3, 3) or (..., 3, 3)
        Proper rotation matrices, broadcast against the leading dimensions of
        ``coeffs``.

    Returns
    -------
    torch.Tensor, shape broadcast(...) + (B^2,), dtype of ``coeffs``
        ``c'_l = D^l(R) c_l`` with the real Wigner-D; exact (to rounding) for the
        band-limited signal, unlike resampling on a grid.

    Raises
    ------
    ValueError
        If ``coeffs`` is not ``(..., B^2)`` or not finite, or ``rotation`` is not a
        batch of proper rotation matrices (the message gives ``max |R^T R - I|`` and
        the range of ``det R``).
    TypeError
        If either is not a tensor, or ``coeffs`` is not float32 or float64.

    Conventions: rotations act on points; real Wigner-D and coefficient layout of
    docs/conventions.md.

    Examples
    --------
    >>> from equisphere.so3 import rotation_z
    >>> coeffs = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64)  # Y_{1,1} ~ x
    >>> quarter_turn = rotation_z(torch.tensor(math.pi / 2, dtype=torch.float64))
    >>> turned = rotate_coefficients(coeffs, quarter_turn)
    >>> [round(v, 12) + 0.0 for v in turned.tolist()]  # x turned to y: Y_{1,-1} ~ y
    [0.0, 1.0, 0.0, 0.0]
    """
    if not isinstance(coeffs, torch.Tensor) or not isinstance(rotation, torch.Tensor):
        raise TypeError("expected coeffs and rotation to be torch.Tensors")
    if coeffs.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"expected coeffs of dtype float32 or float64, got {coeffs.dtype}")
    count = coeffs.shape[-1] if coeffs.ndim else 0
    bandwidth = math.isqrt(count)
    if bandwidth < 1 or bandwidth * bandwidth != count:
        raise ValueError(
            f"expected coeffs of shape (..., B^2) for some bandwidth B >= 1, "
            f"got shape {tuple(coeffs.shape)}"
        )
    if not torch.isfinite(coeffs).all():
        raise ValueError("expected coeffs to be finite, got NaN or infinite values")

    check_rotation_matrix(rotation)  # with the tolerance of its own dtype

    # Euler angles in float64, from the nearest exact rotation (polar factor), so that
    # float32 input is not rejected by the float64 tolerance nor hit by gimbal-lock tests.
    left, _, right = torch.linalg.svd(rotation.to(torch.float64))
    matrices = wigner_D_matrices(bandwidth, left @ right, "real")
    blocks = []
    for degree, matrix in enumerate(matrices):
        block = coeffs[..., degree * degree : (degree + 1) ** 2]  # (..., 2l+1)
        blocks.append((matrix.to(coeffs.dtype) @ block[..., None])[..., 0])
    return torch.cat(blocks, dim=-1)
