import math

import numpy as np
import pytest
import torch
from scipy.special import sph_harm_y

from equisphere.quadrature import driscoll_healy_weights, gauss_legendre_nodes
from equisphere.so3 import SO3Grid
from equisphere.sphere import EquiangularGrid, GaussLegendreGrid, HealpixGrid, make_grid


def test_equiangular_angles_follow_convention():
    grid = EquiangularGrid(4)
    torch.testing.assert_close(
        grid.theta, torch.pi * (2 * torch.arange(8, dtype=torch.float64) + 1) / 16
    )
    torch.testing.assert_close(grid.phi, 2 * torch.pi * torch.arange(8, dtype=torch.float64) / 8)
    assert grid.shape == (8, 8)
    torch.testing.assert_close(grid.vectors().norm(dim=-1), torch.ones(8, 8, dtype=torch.float64))


@pytest.mark.parametrize(
    "grid", [EquiangularGrid(7), GaussLegendreGrid(7), HealpixGrid(4), SO3Grid(5)], ids=repr
)
def test_areas_sum_to_measure(grid):
    total = 8 * math.pi**2 if isinstance(grid, SO3Grid) else 4 * math.pi
    assert float(grid.weights.sum()) == pytest.approx(total, rel=1e-13)


@pytest.mark.parametrize("grid_class", [EquiangularGrid, GaussLegendreGrid])
def test_quadrature_integrates_band_limited_products_exactly(grid_class):
    # Products of two harmonics of degree < B are integrated exactly: orthonormality.
    bandwidth = 8
    grid = grid_class(bandwidth)
    theta, phi = grid.colatitude.numpy(), grid.longitude.numpy()
    w = grid.weights.numpy()
    harmonics = [sph_harm_y(l, m, theta, phi) for l in range(bandwidth) for m in range(-l, l + 1)]
    Y = np.stack([h.ravel() for h in harmonics])  # (B^2, points)
    gram = (Y * w.ravel()) @ Y.conj().T
    np.testing.assert_allclose(gram, np.eye(bandwidth**2), atol=1e-13)


def _monomial_integral(a: int, b: int, c: int) -> float:
    """Closed form of the integral of ``x^a y^b z^c`` over the unit sphere."""
    if a % 2 or b % 2 or c % 2:
        return 0.0
    halves = [math.gamma((k + 1) / 2) for k in (a, b, c)]
    return 2 * math.prod(halves) / math.gamma((a + b + c + 3) / 2)


@pytest.mark.parametrize("grid_class", [EquiangularGrid, GaussLegendreGrid])
@pytest.mark.parametrize("bandwidth", [3, 6])
def test_quadrature_integrates_polynomials_below_degree_2B_exactly(grid_class, bandwidth):
    # Every monomial x^a y^b z^c of total degree < 2B, against the closed form; longitude
    # frequencies stay below the 2B samples per ring and the colatitude rule is exact
    # for polynomials in cos(theta) of degree < 2B.
    grid = grid_class(bandwidth)
    x, y, z = grid.vectors().unbind(-1)
    worst = 0.0
    for a in range(2 * bandwidth):
        for b in range(2 * bandwidth - a):
            for c in range(2 * bandwidth - a - b):
                integral = float((grid.weights * x**a * y**b * z**c).sum())
                worst = max(worst, abs(integral - _monomial_integral(a, b, c)))
    assert worst < 1e-13
    # Degree 2B is beyond the rule: z^(2B) is no longer integrated exactly.
    error = float((grid.weights * z ** (2 * bandwidth)).sum()) - _monomial_integral(
        0, 0, 2 * bandwidth
    )
    assert abs(error) > 1e-6


def test_gauss_legendre_weights_match_a_40_digit_reference():
    # Reference: each node refined by Newton's method in 40-digit arithmetic (mpmath), and
    # w = 2 / ((1 - x^2) P_n'(x)^2) there. NumPy's own leggauss weights err by 1.3e-12
    # next to the poles at this size; ours by about 1e-13.
    mpmath = pytest.importorskip("mpmath")
    count = 64
    theta, weights = gauss_legendre_nodes(count)
    reference_x, reference_w = [], []
    with mpmath.workdps(40):
        for start in torch.cos(theta).tolist():
            x = mpmath.mpf(start)
            for _ in range(3):
                p_n, p_prev = mpmath.legendre(count, x), mpmath.legendre(count - 1, x)
                x -= p_n / (count * (x * p_n - p_prev) / (x * x - 1))
            derivative = count * (x * mpmath.legendre(count, x) - mpmath.legendre(count - 1, x))
            derivative /= x * x - 1
            reference_x.append(float(x))
            reference_w.append(float(2 / ((1 - x * x) * derivative**2)))
    reference_x, reference_w = (
        torch.tensor(v, dtype=torch.float64) for v in (reference_x, reference_w)
    )
    assert float((torch.cos(theta) - reference_x).abs().max()) < 3e-16
    assert float((weights / reference_w - 1).abs().max()) < 5e-13


def test_driscoll_healy_weights_integrate_polynomials_in_cos():
    bandwidth = 6
    grid = EquiangularGrid(bandwidth)
    w = driscoll_healy_weights(bandwidth)
    for degree in range(2 * bandwidth):
        exact = (1 - (-1) ** (degree + 1)) / (degree + 1)  # int_{-1}^{1} x^d dx
        assert float((w * torch.cos(grid.theta) ** degree).sum()) == pytest.approx(exact, abs=1e-14)


def test_healpix_matches_healpy():
    healpy = pytest.importorskip("healpy")
    grid = HealpixGrid(8, order="nested")
    vec = np.stack(healpy.pix2vec(8, np.arange(768), nest=True), axis=-1)
    np.testing.assert_allclose(grid.vectors().numpy(), vec, atol=1e-14)


def test_so3_grid_matrices_map_pole_to_beta_alpha():
    grid = SO3Grid(3)
    R = grid.matrices()
    pole = R[..., :, 2]  # R e_z
    theta = torch.atan2(pole[..., :2].norm(dim=-1), pole[..., 2])
    torch.testing.assert_close(theta, grid.beta[:, None, None].expand(grid.shape))
    # ... and to longitude alpha; axes (beta, alpha, gamma) with the documented values.
    alpha, beta, gamma = grid.angles()
    step = 2 * math.pi * torch.arange(6, dtype=torch.float64) / 6
    torch.testing.assert_close(beta[:, 0, 0], math.pi * (2 * torch.arange(6.0).double() + 1) / 12)
    torch.testing.assert_close(alpha[0, :, 0], step)
    torch.testing.assert_close(gamma[0, 0, :], step)
    phi = torch.atan2(pole[..., 1], pole[..., 0]) % (2 * math.pi)
    torch.testing.assert_close(phi, alpha, atol=1e-12, rtol=0)


def test_grid_signal_checks():
    grid = EquiangularGrid(4)
    with pytest.raises(
        ValueError, match=r"expected signal of shape \(\.\.\., 8, 8\).*got shape \(2, 8, 7\)"
    ):
        grid.check_signal(torch.zeros(2, 8, 7))
    with pytest.raises(ValueError, match="finite"):
        grid.check_signal(torch.full((8, 8), float("inf")))
    with pytest.raises(ValueError, match="bandwidth >= 1"):
        EquiangularGrid(0)
    with pytest.raises(ValueError, match="power of two"):
        HealpixGrid(3)
    with pytest.raises(ValueError, match="grid kind"):
        make_grid("cubed-sphere", 4)
