"""Rotations of 3D space: conversions, composition and uniform sampling.

Every function is batched over leading dimensions, differentiable where the
map is smooth, and works on any device and floating dtype.

Conventions
-----------
- Rotations act on points: ``x' = R @ x``.
- ZYZ Euler angles: ``R(alpha, beta, gamma) = Rz(alpha) @ Ry(beta) @ Rz(gamma)``
  with ``alpha, gamma`` in ``[0, 2 pi)`` and ``beta`` in ``[0, pi]``.
- Quaternions are unit quaternions with the scalar first: ``(w, x, y, z)``.
  ``q`` and ``-q`` are the same rotation; conversions return ``w >= 0``.
- Axis-angle is a rotation vector ``angle * axis`` (shape ``(..., 3)``), angle
  in ``[0, pi]`` radians, counter-clockwise about ``axis`` (right-hand rule).
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "check_rotation_matrix",
    "compose",
    "euler_zyz_from_matrix",
    "inverse",
    "matrix_from_axis_angle",
    "matrix_from_euler_zyz",
    "matrix_from_quaternion",
    "quaternion_from_matrix",
    "axis_angle_from_matrix",
    "random_rotation_matrices",
    "rotation_x",
    "rotation_y",
    "rotation_z",
]


def check_rotation_matrix(matrix: torch.Tensor, atol: float | None = None) -> torch.Tensor:
    """Raise ``ValueError`` unless ``matrix`` is a batch of proper rotations.

    Parameters
    ----------
    matrix : torch.Tensor, shape (..., 3, 3)
    atol : float, optional
        Tolerance on ``R^T R - I`` and ``det R - 1``; default 1e-4 in float32
        and 1e-9 in float64.

    Returns
    -------
    torch.Tensor
        ``matrix`` itself, so the check can be chained.
    """
    if not isinstance(matrix, torch.Tensor):
        raise TypeError(
            f"expected a torch.Tensor of rotation matrices, got {type(matrix).__name__}"
        )
    if matrix.ndim < 2 or matrix.shape[-2:] != (3, 3):
        raise ValueError(
            f"expected rotation matrices of shape (..., 3, 3), got shape {tuple(matrix.shape)}"
        )
    if not matrix.is_floating_point():
        raise ValueError(f"expected a floating-point tensor, got dtype {matrix.dtype}")
    if not torch.isfinite(matrix).all():
        raise ValueError("expected finite rotation matrices, got NaN or infinite entries")
    if atol is None:
        atol = 1e-9 if matrix.dtype == torch.float64 else 1e-4
    eye = torch.eye(3, dtype=matrix.dtype, device=matrix.device)
    orthogonality = (matrix.transpose(-1, -2) @ matrix - eye).abs().amax() if matrix.numel() else 0
    determinant = torch.linalg.det(matrix) if matrix.numel() else torch.ones(1)
    if orthogonality > atol or (determinant - 1).abs().amax() > atol:
        raise ValueError(
            "expected proper rotation matrices (R^T R = I, det R = +1) within "
            f"{atol:g}, got max |R^T R - I| = {float(orthogonality):.3g} and "
            f"det R in [{float(determinant.min()):.4g}, {float(determinant.max()):.4g}]"
        )
    return matrix


def _axis_rotation(angle: torch.Tensor, axis: int) -> torch.Tensor:
    angle = torch.as_tensor(angle)
    if not angle.is_floating_point():
        angle = angle.to(torch.get_default_dtype())
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == 0:
        rows = [one, zero, zero, zero, c, -s, zero, s, c]
    elif axis == 1:
        rows = [c, zero, s, zero, one, zero, -s, zero, c]
    else:
        rows = [c, -s, zero, s, c, zero, zero, zero, one]
    return torch.stack(rows, dim=-1).reshape(angle.shape + (3, 3))


def rotation_x(angle: torch.Tensor | float) -> torch.Tensor:
    """Rotation by ``angle`` radians about +x; shape ``angle.shape + (3, 3)``."""
    return _axis_rotation(angle, 0)


def rotation_y(angle: torch.Tensor | float) -> torch.Tensor:
    """Rotation by ``angle`` radians about +y; shape ``angle.shape + (3, 3)``."""
    return _axis_rotation(angle, 1)


def rotation_z(angle: torch.Tensor | float) -> torch.Tensor:
    """Rotation by ``angle`` radians about +z; shape ``angle.shape + (3, 3)``."""
    return _axis_rotation(angle, 2)


def matrix_from_euler_zyz(
    alpha: torch.Tensor | float, beta: torch.Tensor | float, gamma: torch.Tensor | float
) -> torch.Tensor:
    """``Rz(alpha) @ Ry(beta) @ Rz(gamma)``, broadcast over the angles.

    Conventions: ZYZ Euler angles, rotations act on points.

    Examples
    --------
    >>> import math
    >>> R = matrix_from_euler_zyz(math.pi / 2, 0.0, 0.0)
    >>> [round(v, 6) + 0.0 for v in (R @ torch.tensor([1.0, 0.0, 0.0])).tolist()]  # + 0.0: no -0.0
    [0.0, 1.0, 0.0]
    """
    alpha, beta, gamma = torch.broadcast_tensors(
        *(
            torch.as_tensor(a, dtype=torch.get_default_dtype()) if not torch.is_tensor(a) else a
            for a in (alpha, beta, gamma)
        )
    )
    return rotation_z(alpha) @ rotation_y(beta) @ rotation_z(gamma)


def euler_zyz_from_matrix(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ZYZ Euler angles ``(alpha, beta, gamma)`` of rotation matrices.

    At the gimbal-lock poses (``beta`` = 0 or pi) only ``alpha + gamma`` (or
    ``alpha - gamma``) is defined; there ``gamma`` is set to 0.

    Parameters
    ----------
    matrix : torch.Tensor, shape (..., 3, 3)

    Returns
    -------
    alpha, beta, gamma : torch.Tensor, each of shape (...)
        ``alpha, gamma`` in ``[0, 2 pi)``, ``beta`` in ``[0, pi]``.
    """
    check_rotation_matrix(matrix)
    # R e_z = (cos a sin b, sin a sin b, cos b): the image of the north pole.
    beta = torch.atan2(torch.linalg.vector_norm(matrix[..., :2, 2], dim=-1), matrix[..., 2, 2])
    alpha = torch.atan2(matrix[..., 1, 2], matrix[..., 0, 2])
    # Third row is (-sin b cos g, sin b sin g, cos b).
    gamma = torch.atan2(matrix[..., 2, 1], -matrix[..., 2, 0])

    # Gimbal lock: sin(beta) ~ 0. Put everything into alpha.
    eps = 1e-6 if matrix.dtype == torch.float64 else 1e-3
    locked = torch.sin(beta) < eps
    # For beta ~ 0, R ~ Rz(alpha + gamma); for beta ~ pi, R ~ Rz(alpha - gamma) Ry(pi).
    locked_alpha = torch.where(
        matrix[..., 2, 2] > 0,
        torch.atan2(matrix[..., 1, 0], matrix[..., 0, 0]),
        torch.atan2(-matrix[..., 1, 0], -matrix[..., 0, 0]),
    )
    alpha = torch.where(locked, locked_alpha, alpha)
    gamma = torch.where(locked, torch.zeros_like(gamma), gamma)
    two_pi = 2 * math.pi
    return torch.remainder(alpha, two_pi), beta, torch.remainder(gamma, two_pi)


def matrix_from_quaternion(quaternion: torch.Tensor) -> torch.Tensor:
    """Rotation matrices of quaternions ``(w, x, y, z)``; normalised first.

    Parameters
    ----------
    quaternion : torch.Tensor, shape (..., 4)

    Returns
    -------
    torch.Tensor, shape (..., 3, 3)
    """
    if quaternion.shape[-1:] != (4,):
        raise ValueError(
            f"expected quaternions of shape (..., 4) in (w, x, y, z) order, "
            f"got shape {tuple(quaternion.shape)}"
        )
    norm = torch.linalg.vector_norm(quaternion, dim=-1, keepdim=True)
    if (norm == 0).any() or not torch.isfinite(quaternion).all():
        raise ValueError("expected finite, non-zero quaternions")
    w, x, y, z = (quaternion / norm).unbind(-1)
    entries = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip
    return torch.stack(entries, dim=-1).reshape(quaternion.shape[:-1] + (3, 3))


def quaternion_from_matrix(matrix: torch.Tensor) -> torch.Tensor:
    """Unit quaternions ``(w, x, y, z)`` with ``w >= 0`` of rotation matrices.

    Uses the largest of the four diagonal combinations to avoid dividing by a
    small number (Shepperd's method).

    Parameters
    ----------
    matrix : torch.Tensor, shape (..., 3, 3)

    Returns
    -------
    torch.Tensor, shape (..., 4)
    """
    check_rotation_matrix(matrix)
    m = matrix
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    # Four candidates, each proportional to the quaternion; rows: 4w*q, 4x*q, 4y*q, 4z*q.
    candidates = torch.stack(
        [
            torch.stack(
                [
                    1 + trace,
                    m[..., 2, 1] - m[..., 1, 2],
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 1, 0] - m[..., 0, 1],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 2, 1] - m[..., 1, 2],
                    1 + 2 * m[..., 0, 0] - trace,
                    m[..., 0, 1] + m[..., 1, 0],
                    m[..., 0, 2] + m[..., 2, 0],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 0, 1] + m[..., 1, 0],
                    1 + 2 * m[..., 1, 1] - trace,
                    m[..., 1, 2] + m[..., 2, 1],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 1, 0] - m[..., 0, 1],
                    m[..., 0, 2] + m[..., 2, 0],
                    m[..., 1, 2] + m[..., 2, 1],
                    1 + 2 * m[..., 2, 2] - trace,
                ],
                -1,
            ),
        ],
        dim=-2,
    )  # (..., 4, 4)
    diagonal = torch.diagonal(candidates, dim1=-2, dim2=-1)  # (..., 4) = 4 q_i^2
    best = diagonal.argmax(dim=-1, keepdim=True)
    chosen = torch.gather(candidates, -2, best.unsqueeze(-1).expand(best.shape + (4,))).squeeze(-2)
    quaternion = chosen / torch.linalg.vector_norm(chosen, dim=-1, keepdim=True)
    return torch.where(quaternion[..., :1] < 0, -quaternion, quaternion)


def matrix_from_axis_angle(rotation_vector: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from rotation vectors ``angle * axis`` (Rodrigues).

    Parameters
    ----------
    rotation_vector : torch.Tensor, shape (..., 3)
        Angle in radians times the unit axis.

    Returns
    -------
    torch.Tensor, shape (..., 3, 3)
    """
    if rotation_vector.shape[-1:] != (3,):
        raise ValueError(
            f"expected rotation vectors of shape (..., 3), got shape {tuple(rotation_vector.shape)}"
        )
    half_angle = 0.5 * torch.linalg.vector_norm(rotation_vector, dim=-1, keepdim=True)
    # sin(h)/(2h) -> 1/2 as h -> 0; sinc keeps this smooth and differentiable at 0.
    scale = 0.5 * torch.sinc(half_angle / math.pi)
    quaternion = torch.cat([torch.cos(half_angle), scale * rotation_vector], dim=-1)
    return matrix_from_quaternion(quaternion)


def axis_angle_from_matrix(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation vectors ``angle * axis`` with angle in ``[0, pi]``.

    Parameters
    ----------
    matrix : torch.Tensor, shape (..., 3, 3)

    Returns
    -------
    torch.Tensor, shape (..., 3)
    """
    quaternion = quaternion_from_matrix(matrix)
    w, xyz = quaternion[..., :1], quaternion[..., 1:]
    sin_half = torch.linalg.vector_norm(xyz, dim=-1, keepdim=True)
    angle = 2 * torch.atan2(sin_half, w)
    # angle / sin(angle / 2) -> 2 / w near the identity; avoid 0 / 0 there.
    small = sin_half < 1e-12
    factor = torch.where(
        small, 2 / w, angle / torch.where(small, torch.ones_like(sin_half), sin_half)
    )
    return xyz * factor


def compose(*matrices: torch.Tensor) -> torch.Tensor:
    """Product ``R1 @ R2 @ ...``: apply the last rotation first."""
    if not matrices:
        raise ValueError("expected at least one rotation matrix to compose, got none")
    result = matrices[0]
    for matrix in matrices[1:]:
        result = result @ matrix
    return result


def inverse(matrix: torch.Tensor) -> torch.Tensor:
    """Inverse of rotation matrices (their transpose)."""
    return matrix.transpose(-1, -2)


def random_rotation_matrices(
    count: int,
    seed: int | None = None,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Rotations drawn uniformly from SO(3) (Haar measure).

    A 4D standard normal vector, normalised, is a uniform unit quaternion, whose
    rotation is Haar-distributed.

    Parameters
    ----------
    count : int
        Number of rotations.
    seed : int, optional
        Seed of a private generator; the same seed gives the same rotations.
    generator : torch.Generator, optional
        Generator to draw from instead of ``seed``.

    Returns
    -------
    torch.Tensor, shape (count, 3, 3)

    Examples
    --------
    >>> R = random_rotation_matrices(4, seed=0, dtype=torch.float64)
    >>> bool(torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64)))
    True
    """
    if count < 0:
        raise ValueError(f"expected a non-negative number of rotations, got {count}")
    if generator is None:
        generator = torch.Generator()
        generator.manual_seed(seed if seed is not None else torch.seed())
    dtype = dtype or torch.get_default_dtype()
    quaternion = torch.randn(count, 4, generator=generator, dtype=torch.float64)
    return matrix_from_quaternion(quaternion).to(dtype=dtype, device=device)
