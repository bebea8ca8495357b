import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from equisphere.so3 import (
    axis_angle_from_matrix,
    check_rotation_matrix,
    euler_zyz_from_matrix,
    inverse,
    matrix_from_axis_angle,
    matrix_from_euler_zyz,
    matrix_from_quaternion,
    quaternion_from_matrix,
    random_rotation_matrices,
    rotation_z,
)

F64 = torch.float64


def test_rotation_z_turns_x_into_y():
    R = rotation_z(torch.tensor(math.pi / 2, dtype=F64))
    torch.testing.assert_close(
        R @ torch.tensor([1.0, 0, 0], dtype=F64), torch.tensor([0.0, 1, 0], dtype=F64)
    )


def test_random_rotations_are_rotations_and_seeded():
    R = random_rotation_matrices(100, seed=3, dtype=F64)
    check_rotation_matrix(R)
    torch.testing.assert_close(R, random_rotation_matrices(100, seed=3, dtype=F64))
    assert not torch.allclose(R, random_rotation_matrices(100, seed=4, dtype=F64))


def test_random_rotations_are_uniform():
    # For Haar measure the trace has mean 0 and E[R] = 0; the image of e_z is uniform.
    R = random_rotation_matrices(20000, seed=0, dtype=F64)
    assert abs(float(R.mean(0).abs().max())) < 0.02
    z = R[:, :, 2]
    assert abs(float(z[:, 2].mean())) < 0.02  # uniform on the sphere: E[cos] = 0
    assert abs(float((z[:, 2] ** 2).mean()) - 1 / 3) < 0.01


def test_euler_round_trip():
    R = random_rotation_matrices(500, seed=1, dtype=F64)
    torch.testing.assert_close(
        matrix_from_euler_zyz(*euler_zyz_from_matrix(R)), R, atol=1e-12, rtol=0
    )


@pytest.mark.parametrize("beta", [0.0, math.pi])
def test_euler_gimbal_lock(beta):
    R = matrix_from_euler_zyz(
        torch.tensor(0.7, dtype=F64), torch.tensor(beta, dtype=F64), torch.tensor(0.4, dtype=F64)
    )
    torch.testing.assert_close(
        matrix_from_euler_zyz(*euler_zyz_from_matrix(R)), R, atol=1e-12, rtol=0
    )


def test_euler_matches_product_of_axis_rotations():
    a, b, g = torch.tensor([0.3, 1.1, 2.0], dtype=F64)
    # Closed form of R e_z = (cos a sin b, sin a sin b, cos b).
    R = matrix_from_euler_zyz(a, b, g)
    expected = torch.stack([torch.cos(a) * torch.sin(b), torch.sin(a) * torch.sin(b), torch.cos(b)])
    torch.testing.assert_close(R[:, 2], expected)


def test_quaternion_round_trip_and_sign():
    R = random_rotation_matrices(500, seed=2, dtype=F64)
    q = quaternion_from_matrix(R)
    assert (q[:, 0] >= 0).all()
    torch.testing.assert_close(matrix_from_quaternion(q), R, atol=1e-12, rtol=0)
    torch.testing.assert_close(matrix_from_quaternion(-q), R, atol=1e-12, rtol=0)


def test_quaternion_closed_form():
    # 90 degrees about z: q = (cos 45, 0, 0, sin 45).
    q = torch.tensor([math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)], dtype=F64)
    torch.testing.assert_close(
        matrix_from_quaternion(q), rotation_z(torch.tensor(math.pi / 2, dtype=F64))
    )


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=3, max_size=3))
def test_axis_angle_round_trip(vector):
    v = torch.tensor(vector, dtype=F64)
    if float(v.norm()) >= math.pi - 1e-6:
        return
    torch.testing.assert_close(
        axis_angle_from_matrix(matrix_from_axis_angle(v)), v, atol=1e-9, rtol=0
    )


def test_axis_angle_identity_and_gradient():
    v = torch.zeros(3, dtype=F64, requires_grad=True)
    R = matrix_from_axis_angle(v)
    torch.testing.assert_close(R, torch.eye(3, dtype=F64))
    # d(R x)/dv at 0 is -[x]_x: finite everywhere, including at the identity.
    assert torch.autograd.gradcheck(
        lambda w: matrix_from_axis_angle(w), (torch.randn(3, dtype=F64, requires_grad=True),)
    )
    R.sum().backward()
    assert torch.isfinite(v.grad).all()


def test_composition_and_inverse():
    R1, R2 = random_rotation_matrices(2, seed=5, dtype=F64)
    torch.testing.assert_close(inverse(R1) @ R1, torch.eye(3, dtype=F64))
    q = quaternion_from_matrix(R1 @ R2)
    torch.testing.assert_close(matrix_from_quaternion(q), R1 @ R2)


def test_check_rotation_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match=r"R\^T R = I"):
        check_rotation_matrix(torch.eye(3) * 2)
    with pytest.raises(ValueError, match="det R"):
        check_rotation_matrix(torch.diag(torch.tensor([1.0, 1.0, -1.0])))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 3\)"):
        check_rotation_matrix(torch.eye(4))
    with pytest.raises(ValueError, match="finite"):
        check_rotation_matrix(torch.full((3, 3), float("nan")))
