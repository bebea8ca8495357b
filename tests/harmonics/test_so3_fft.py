import math

import pytest
import torch

from equisphere.harmonics import (
    InverseSO3FourierTransform,
    SO3FourierTransform,
    so3_block_offset,
    so3_coefficient_count,
)
from equisphere.so3 import SO3Grid, wigner_D, wigner_D_flat

F64 = torch.float64


def _random_coeffs(shape: tuple[int, ...], bandwidth: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape + (so3_coefficient_count(bandwidth),), generator=generator, dtype=F64)


def test_coefficient_count_and_offsets():
    assert [so3_coefficient_count(b) for b in (1, 2, 3, 10)] == [1, 10, 35, 1330]
    assert [so3_block_offset(l) for l in (0, 1, 2, 3)] == [0, 1, 10, 35]
    assert so3_block_offset(16) == so3_coefficient_count(16)


def test_round_trip_is_exact_at_bandwidth_16():
    # A random band-limited signal on SO3Grid(16): analysis recovers its coefficients
    # and synthesis its grid values.
    coeffs = _random_coeffs((2,), 16, seed=0)
    signal = InverseSO3FourierTransform(16)(coeffs)
    assert signal.shape == (2, 32, 32, 32)
    recovered = SO3FourierTransform(16)(signal)
    assert float((recovered - coeffs).abs().max()) < 1e-10
    assert float((InverseSO3FourierTransform(16)(recovered) - signal).abs().max()) < 1e-10


@pytest.mark.parametrize(("grid_bandwidth", "bandwidth"), [(5, 5), (7, 4)])
def test_forward_recovers_a_sum_of_known_wigner_D_functions(grid_bandwidth, bandwidth):
    # f(R) = 0.7 D^1_{-1,1} - 1.3 D^3_{2,0} + 0.4 D^0_{00}, sampled with wigner_D on the grid.
    alpha, beta, gamma = SO3Grid(grid_bandwidth).angles()
    terms = [(1, -1, 1, 0.7), (3, 2, 0, -1.3), (0, 0, 0, 0.4)]
    signal = sum(
        weight * wigner_D(degree, alpha, beta, gamma)[..., m + degree, n + degree]
        for degree, m, n, weight in terms
    )
    expected = torch.zeros(so3_coefficient_count(bandwidth), dtype=F64)
    for degree, m, n, weight in terms:
        expected[so3_block_offset(degree) + (m + degree) * (2 * degree + 1) + n + degree] = weight
    coeffs = SO3FourierTransform(grid_bandwidth, bandwidth)(signal)
    torch.testing.assert_close(coeffs, expected, atol=1e-13, rtol=0)


def test_inverse_matches_the_dense_definition():
    # The slow, obvious synthesis: sum of coefficients times every real D^l_mn at each grid point.
    grid_bandwidth, bandwidth = 4, 3
    coeffs = _random_coeffs((3,), bandwidth, seed=1)
    dense = wigner_D_flat(bandwidth, *SO3Grid(grid_bandwidth).angles())  # (2B, 2B, 2B, count)
    expected = torch.einsum("nk,ijlk->nijl", coeffs, dense)
    signal = InverseSO3FourierTransform(grid_bandwidth, bandwidth)(coeffs)
    torch.testing.assert_close(signal, expected, atol=1e-13, rtol=0)


def test_left_rotation_about_z_acts_through_wigner_D():
    # g(R) = f(Q^-1 R) with Q = Rz(2 pi k / 2B) shifts the alpha axis by k samples (exact on
    # the grid), and its coefficients are D^l(Q) fhat^l.
    grid_bandwidth, shift = 6, 2
    coeffs = _random_coeffs((), grid_bandwidth, seed=2)
    signal = InverseSO3FourierTransform(grid_bandwidth)(coeffs)
    shifted = torch.roll(signal, shifts=shift, dims=-2)
    turned = SO3FourierTransform(grid_bandwidth)(shifted)
    angle = torch.tensor(2 * math.pi * shift / (2 * grid_bandwidth), dtype=F64)
    zero = torch.zeros((), dtype=F64)
    for degree in range(grid_bandwidth):
        start, size = so3_block_offset(degree), 2 * degree + 1
        block = coeffs[start : start + size**2].reshape(size, size)
        expected = wigner_D(degree, angle, zero, zero) @ block
        torch.testing.assert_close(
            turned[start : start + size**2].reshape(size, size), expected, atol=1e-12, rtol=0
        )


def test_float32_is_accurate_to_1e_5_relative(dtype):
    coeffs = _random_coeffs((2,), 8, seed=3)
    signal = InverseSO3FourierTransform(8)(coeffs)
    recovered = SO3FourierTransform(8)(signal.to(dtype))
    assert recovered.dtype == dtype
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    assert float((recovered.double() - coeffs).abs().max() / coeffs.abs().max()) < tolerance
    synthesised = InverseSO3FourierTransform(8)(coeffs.to(dtype))
    assert float((synthesised.double() - signal).abs().max() / signal.abs().max()) < tolerance


def test_batched_leading_dimensions():
    signal = InverseSO3FourierTransform(3)(_random_coeffs((2, 3), 3, seed=4))
    forward = SO3FourierTransform(3)
    torch.testing.assert_close(forward(signal)[1, 2], forward(signal[1, 2]), atol=1e-15, rtol=0)


def test_gradcheck():
    signal = torch.randn(2, 4, 4, 4, dtype=F64, requires_grad=True)
    coeffs = torch.randn(2, 10, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(SO3FourierTransform(2), (signal,))
    assert torch.autograd.gradcheck(InverseSO3FourierTransform(3, 2), (coeffs,))


def test_bad_input_says_expected_and_got():
    forward = SO3FourierTransform(4)
    with pytest.raises(
        ValueError, match=r"expected signal of shape \(\.\.\., 8, 8, 8\).*got shape \(6, 6, 6\)"
    ):
        forward(torch.zeros(6, 6, 6))
    bad = torch.zeros(8, 8, 8)
    bad[1, 2, 3] = float("inf")
    with pytest.raises(ValueError, match="finite"):
        forward(bad)
    with pytest.raises(
        ValueError, match=r"expected coeffs of shape \(\.\.\., 84\).*got shape \(35,\)"
    ):
        InverseSO3FourierTransform(4)(torch.zeros(35))
    with pytest.raises(ValueError, match="expected coeffs to be finite"):
        InverseSO3FourierTransform(4)(torch.full((84,), float("nan")))
    with pytest.raises(ValueError, match="bandwidth <= grid_bandwidth = 4"):
        InverseSO3FourierTransform(4, 5)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    coeffs = _random_coeffs((3,), 6, seed=5)
    inverse, forward = InverseSO3FourierTransform(6), SO3FourierTransform(6)
    signal = inverse(coeffs)
    torch.testing.assert_close(inverse.cuda()(coeffs.cuda()).cpu(), signal, atol=1e-12, rtol=0)
    torch.testing.assert_close(forward.cuda()(signal.cuda()).cpu(), coeffs, atol=1e-12, rtol=0)
