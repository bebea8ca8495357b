import math

import numpy as np
import pytest
import torch
from scipy.special import sph_harm_y

from equisphere.harmonics import (
    complex_spherical_harmonics,
    normalized_legendre,
    real_spherical_harmonics,
)

F64 = torch.float64


def _points(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    theta = np.concatenate([[0.0, math.pi, 1e-3, math.pi - 1e-3], rng.uniform(0, math.pi, count)])
    phi = rng.uniform(-math.pi, 2 * math.pi, theta.size)
    return torch.from_numpy(theta), torch.from_numpy(phi)


def _scipy_complex(bandwidth: int, theta: torch.Tensor, phi: torch.Tensor) -> np.ndarray:
    t, p = theta.numpy(), phi.numpy()
    return np.stack(
        [sph_harm_y(l, m, t, p) for l in range(bandwidth) for m in range(-l, l + 1)], axis=-1
    )


def test_complex_harmonics_match_scipy_below_degree_40():
    theta, phi = _points(300, seed=0)
    ours = complex_spherical_harmonics(40, theta, phi).numpy()
    np.testing.assert_allclose(ours, _scipy_complex(40, theta, phi), atol=1e-12, rtol=0)


def test_real_harmonics_match_scipy_through_the_convention_relation():
    # Y_{l,m} = sqrt(2) (-1)^m Re Y_l^m (m > 0), Y_l^0 (m = 0), sqrt(2) (-1)^m Im Y_l^|m| (m < 0).
    theta, phi = _points(300, seed=1)
    reference = _scipy_complex(40, theta, phi)
    expected = np.empty(reference.shape)
    for l in range(40):
        for m in range(-l, l + 1):
            positive = reference[:, l * l + l + abs(m)]
            if m > 0:
                expected[:, l * l + l + m] = math.sqrt(2) * (-1) ** m * positive.real
            elif m < 0:
                expected[:, l * l + l + m] = math.sqrt(2) * (-1) ** m * positive.imag
            else:
                expected[:, l * l + l] = positive.real
    ours = real_spherical_harmonics(40, theta, phi).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-12, rtol=0)


def test_real_harmonics_closed_forms():
    theta, phi = _points(50, seed=2)
    Y = real_spherical_harmonics(3, theta, phi)
    x = torch.sin(theta) * torch.cos(phi)
    y = torch.sin(theta) * torch.sin(phi)
    z = torch.cos(theta)
    c1 = math.sqrt(3 / (4 * math.pi))
    torch.testing.assert_close(Y[:, 0], torch.full_like(x, 1 / math.sqrt(4 * math.pi)))
    torch.testing.assert_close(Y[:, 1:4], c1 * torch.stack([y, z, x], -1), atol=1e-14, rtol=0)
    torch.testing.assert_close(Y[:, 4], math.sqrt(15 / (4 * math.pi)) * x * y, atol=1e-14, rtol=0)


def test_legendre_table_is_lower_triangular_and_normalised():
    # int_0^pi Pbar_l^m(theta)^2 sin(theta) d theta = 1 / (2 pi): Gauss-Legendre, exact.
    nodes, weights = np.polynomial.legendre.leggauss(40)
    table = normalized_legendre(20, torch.from_numpy(np.arccos(nodes)))
    assert torch.all(torch.triu(table, diagonal=1) == 0)
    norms = torch.einsum("j,jlm->lm", torch.from_numpy(weights), table**2)
    expected = torch.tril(torch.full((20, 20), 1 / (2 * math.pi), dtype=F64))
    torch.testing.assert_close(norms, expected, atol=1e-13, rtol=0)


def test_float32_matches_float64(dtype):
    theta, phi = (a.to(dtype) for a in _points(100, seed=3))
    # Reference at the same (rounded) angles: only the arithmetic differs.
    reference = real_spherical_harmonics(30, theta.double(), phi.double())
    ours = real_spherical_harmonics(30, theta, phi)
    assert ours.dtype == dtype
    tolerance = 1e-5 if dtype == torch.float32 else 1e-13
    assert float((ours.double() - reference).abs().max()) < tolerance


def test_shapes_broadcast():
    theta = torch.rand(4, 1, dtype=F64)
    phi = torch.rand(1, 5, dtype=F64)
    assert real_spherical_harmonics(6, theta, phi).shape == (4, 5, 36)
    assert complex_spherical_harmonics(6, theta, phi).dtype == torch.complex128


def test_gradients_in_the_angles():
    theta = torch.tensor([0.3, 1.2, 2.9], dtype=F64, requires_grad=True)
    phi = torch.tensor([0.1, 4.0, -1.0], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t, p: real_spherical_harmonics(5, t, p), (theta, phi))


def test_bad_input():
    with pytest.raises(TypeError, match="torch.Tensor"):
        real_spherical_harmonics(3, 0.5, torch.zeros(1))
    with pytest.raises(TypeError, match="floating point"):
        real_spherical_harmonics(3, torch.zeros(2, dtype=torch.long), torch.zeros(2))
    with pytest.raises(ValueError, match="bandwidth >= 1"):
        real_spherical_harmonics(0, torch.zeros(2), torch.zeros(2))
