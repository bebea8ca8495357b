import functools
import math

import numpy as np
import pytest
import quaternionic
import spherical
import torch

from equisphere.harmonics import complex_spherical_harmonics, real_spherical_harmonics
from equisphere.so3 import (
    euler_zyz_from_matrix,
    matrix_from_euler_zyz,
    quaternion_from_matrix,
    random_rotation_matrices,
    real_from_complex_basis,
    rotation_x,
    wigner_D,
    wigner_D_flat,
    wigner_D_matrices,
    wigner_small_d,
)
from equisphere.sphere import angles_from_vectors, unit_vectors

F64 = torch.float64
EYE = functools.partial(torch.eye, dtype=F64)


@functools.lru_cache(maxsize=1)
def _spherical_D(ell_max: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    rotations = random_rotation_matrices(3, seed=seed, dtype=F64)
    wigner = spherical.Wigner(ell_max)
    return rotations, wigner.D(quaternionic.array(quaternion_from_matrix(rotations).numpy()))


def test_D_matches_spherical_for_every_degree_below_128():
    # `spherical` evaluates <l m'| R |l m> with R acting on the ket (Boyle's convention):
    # its D^l_{m'm}(R) is the complex conjugate of ours, for the same quaternion / matrix.
    # Our real-basis D is conj(Q) D Q^T with Y_real = Q Y_complex (real_from_complex_basis).
    rotations, reference = _spherical_D(127, seed=0)
    wigner = spherical.Wigner(127)
    alpha, beta, gamma = euler_zyz_from_matrix(rotations)
    worst_complex = worst_real = 0.0
    for degree in range(128):
        start, stop = (
            wigner.Dindex(degree, -degree, -degree),
            wigner.Dindex(degree, degree, degree) + 1,
        )
        size = 2 * degree + 1
        theirs = torch.from_numpy(reference[:, start:stop].reshape(3, size, size)).conj()
        ours = wigner_D(degree, alpha, beta, gamma, "complex")
        worst_complex = max(worst_complex, float((ours - theirs).abs().max()))
        q = real_from_complex_basis(degree)
        theirs_real = q.conj() @ theirs @ q.T  # (3, 2l+1, 2l+1), real up to rounding
        ours_real = wigner_D(degree, alpha, beta, gamma, "real")
        worst_real = max(worst_real, float((ours_real - theirs_real).abs().max()))
    assert worst_complex < 1e-10
    assert worst_real < 1e-10


def test_small_d_closed_forms():
    beta = torch.tensor([0.0, 0.4, 1.9, math.pi], dtype=F64)
    c, s = torch.cos(beta), torch.sin(beta)
    d1 = wigner_small_d(1, beta)
    expected = torch.stack(
        [
            torch.stack([(1 + c) / 2, -s / math.sqrt(2), (1 - c) / 2], -1),
            torch.stack([s / math.sqrt(2), c, -s / math.sqrt(2)], -1),
            torch.stack([(1 - c) / 2, s / math.sqrt(2), (1 + c) / 2], -1),
        ],
        -2,
    )  # rows m' = 1, 0, -1 (Wikipedia table); ours has rows m' = -1, 0, 1
    torch.testing.assert_close(d1, expected.flip(-2).flip(-1), atol=1e-15, rtol=0)
    d2 = wigner_small_d(2, beta)
    torch.testing.assert_close(d2[:, 2, 2], (3 * c**2 - 1) / 2, atol=1e-15, rtol=0)
    torch.testing.assert_close(d2[:, 4, 3], -(1 + c) * s / 2, atol=1e-15, rtol=0)  # d^2_{2,1}


@pytest.mark.parametrize("degree", [3, 40, 127])
def test_small_d_at_zero_and_pi(degree):
    d = wigner_small_d(degree, torch.tensor([0.0, math.pi], dtype=F64))
    torch.testing.assert_close(d[0], EYE(2 * degree + 1), atol=1e-12, rtol=0)
    orders = torch.arange(-degree, degree + 1)
    # d^l_{m'm}(pi) = (-1)^(l - m) delta_{m', -m}
    expected = torch.diag((-1.0) ** (degree - orders).to(F64)).flip(0)
    torch.testing.assert_close(d[1], expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("basis", ["real", "complex"])
@pytest.mark.parametrize("degree", [0, 1, 2, 7, 50, 127])
def test_homomorphism_and_unitarity(basis, degree):
    r1, r2 = random_rotation_matrices(2, seed=degree, dtype=F64)
    (d1,), (d2,), (d12,) = (
        wigner_D_matrices(degree + 1, r[None], basis)[degree] for r in (r1, r2, r1 @ r2)
    )
    torch.testing.assert_close(d12, d1 @ d2, atol=1e-11, rtol=0)
    identity = EYE(2 * degree + 1).to(d1.dtype)
    torch.testing.assert_close(d1 @ d1.conj().T, identity, atol=1e-12, rtol=0)
    if basis == "real":
        assert d1.dtype == F64


def test_real_is_the_complex_matrix_in_the_real_basis():
    alpha, beta, gamma = (torch.tensor(v, dtype=F64) for v in (0.3, 2.1, -1.2))
    for degree in (1, 4, 30):
        q = real_from_complex_basis(degree)
        complex_d = wigner_D(degree, alpha, beta, gamma, "complex")
        torch.testing.assert_close(
            (q.conj() @ complex_d @ q.T).real,
            wigner_D(degree, alpha, beta, gamma, "real"),
            atol=1e-13,
            rtol=0,
        )


def test_D_rotates_harmonics():
    # Y_l^m(R^-1 x) = sum_m' Y_l^m'(x) D_m'm(R); real coefficients map as c' = D c.
    rotation = random_rotation_matrices(1, seed=5, dtype=F64)[0]
    generator = torch.Generator().manual_seed(0)
    theta = torch.rand(200, generator=generator, dtype=F64) * math.pi
    phi = torch.rand(200, generator=generator, dtype=F64) * 2 * math.pi
    moved = unit_vectors(theta, phi) @ rotation  # rows are R^T x = R^-1 x
    theta_moved, phi_moved = angles_from_vectors(moved)
    bandwidth = 12
    matrices_c = wigner_D_matrices(bandwidth, rotation, "complex")
    matrices_r = wigner_D_matrices(bandwidth, rotation, "real")
    yc, yc_moved = (
        complex_spherical_harmonics(bandwidth, t, p)
        for t, p in ((theta, phi), (theta_moved, phi_moved))
    )
    yr, yr_moved = (
        real_spherical_harmonics(bandwidth, t, p)
        for t, p in ((theta, phi), (theta_moved, phi_moved))
    )
    for degree in range(bandwidth):
        block = slice(degree * degree, (degree + 1) ** 2)
        torch.testing.assert_close(
            yc_moved[:, block], yc[:, block] @ matrices_c[degree], atol=1e-13, rtol=0
        )
        coeffs = torch.randn(2 * degree + 1, generator=generator, dtype=F64)
        torch.testing.assert_close(
            yr[:, block] @ (matrices_r[degree] @ coeffs),
            yr_moved[:, block] @ coeffs,
            atol=1e-13,
            rtol=0,
        )


def test_flat_layout_follows_the_block_offsets():
    alpha, beta, gamma = (torch.rand(5, dtype=F64) * 3 for _ in range(3))
    flat = wigner_D_flat(6, alpha, beta, gamma)
    assert flat.shape == (5, 6 * (4 * 36 - 1) // 3)
    for degree in range(6):
        offset = degree * (4 * degree**2 - 1) // 3
        block = flat[:, offset : offset + (2 * degree + 1) ** 2].reshape(5, 2 * degree + 1, -1)
        torch.testing.assert_close(block, wigner_D(degree, alpha, beta, gamma), atol=0, rtol=0)


def test_float32_matches_float64(dtype):
    angles = [
        torch.tensor([0.3, 2.0], dtype=F64),
        torch.tensor([1.1, 2.9], dtype=F64),
        torch.tensor([-0.5, 4.0], dtype=F64),
    ]
    for degree in (2, 20, 64):
        reference = wigner_D(degree, *angles)
        ours = wigner_D(degree, *(a.to(dtype) for a in angles))
        assert ours.dtype == dtype
        assert float((ours.double() - reference).abs().max()) < (
            1e-5 if dtype == torch.float32 else 1e-13
        )


def test_small_d_is_differentiable_in_beta():
    beta = torch.tensor([0.2, 1.3], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda b: wigner_small_d(3, b), (beta,))
    # d/dbeta d^1_{00} = d/dbeta cos(beta) = -sin(beta)
    (gradient,) = torch.autograd.grad(wigner_small_d(1, beta)[:, 1, 1].sum(), beta)
    torch.testing.assert_close(gradient, -torch.sin(beta.detach()))


def test_bad_input():
    reflection = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=F64))
    with pytest.raises(ValueError, match=r"proper rotation matrices .* det R in \[-1, -1\]"):
        wigner_D_matrices(3, reflection)
    with pytest.raises(
        ValueError, match=r"proper rotation matrices .* within 1e-09, got max \|R\^T R - I\| = 1.25"
    ):
        wigner_D_matrices(3, 1.5 * rotation_x(torch.tensor(0.3, dtype=F64)))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3, 3\)"):
        wigner_D_matrices(3, torch.eye(4, dtype=F64))
    with pytest.raises(ValueError, match="basis 'real' or 'complex'"):
        wigner_D(2, 0.0, 0.0, 0.0, basis="quaternion")
    with pytest.raises(ValueError, match="degree >= 0"):
        wigner_small_d(-1, torch.zeros(1))
    with pytest.raises(TypeError, match="non-negative int"):
        wigner_small_d(1.5, torch.zeros(1))


@pytest.mark.parametrize("beta", [0.0, 1e-12, 1e-8, 5e-7, 1e-3, 2.0, math.pi - 1e-7, math.pi])
def test_matrices_of_rotation_matrices_are_accurate_near_gimbal_lock(beta):
    # Near beta = 0 or pi the Euler angles are ill-conditioned but D(R) is not: reading
    # alpha and gamma separately would cost ~1e-16 / sin(beta) per unit of l (2.9e-7 at
    # beta = 1e-8, l = 60).
    for alpha, gamma in [(0.7, 2.1), (-2.5, 3.0), (3.1, -3.1)]:
        angles = [torch.tensor(v, dtype=F64) for v in (alpha, beta, gamma)]
        rotation = matrix_from_euler_zyz(*angles)
        for basis in ("real", "complex"):
            ours = wigner_D_matrices(61, rotation, basis)[60]
            torch.testing.assert_close(ours, wigner_D(60, *angles, basis), atol=1e-12, rtol=0)
