import math

import numpy as np
import pytest
import torch
from scipy.special import sph_harm_y

from equisphere.quadrature import driscoll_healy_weights
from equisphere.so3 import SO3Grid
from equisphere.sphere import EquiangularGrid, GaussLegendreGrid, HealpixGrid, make_grid


def test_equiangular_angles_follow_convention():
    grid = EquiangularGrid(4)
    torch.testing.assert_close(grid.theta, torch.pi * (2 * torch.arange(8, dtype=torch.float64) + 1) / 16)
    torch.testing.assert_close(grid.phi, 2 * torch.pi * torch.arange(8, dtype=torch.float64) / 8)
    assert grid.shape == (8, 8)
    torch.testing.assert_close(grid.vectors().norm(dim=-1), torch.ones(8, 8, dtype=torch.float64))


@pytest.mark.parametrize("grid", [EquiangularGrid(7), GaussLegendreGrid(7), HealpixGrid(4), SO3Grid(5)], ids=repr)
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


def test_grid_signal_checks():
    grid = EquiangularGrid(4)
    with pytest.raises(ValueError, match=r"expected signal of shape \(\.\.\., 8, 8\).*got shape \(2, 8, 7\)"):
        grid.check_signal(torch.zeros(2, 8, 7))
    with pytest.raises(ValueError, match="finite"):
        grid.check_signal(torch.full((8, 8), float("inf")))
    with pytest.raises(ValueError, match="bandwidth >= 1"):
        EquiangularGrid(0)
    with pytest.raises(ValueError, match="power of two"):
        HealpixGrid(3)
    with pytest.raises(ValueError, match="grid kind"):
        make_grid("cubed-sphere", 4)
