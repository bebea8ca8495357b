"""S2Convolution: values against the defining integral, exact equivariance, gradients, errors."""

from __future__ import annotations

import pytest
import torch
from band_limited import sphere_signal, sphere_values
from torch.func import functional_call

from equisphere.harmonics import real_spherical_harmonics
from equisphere.nn import S2Convolution, s2_near_identity_grid
from equisphere.so3 import SO3Grid, random_rotation_matrices
from equisphere.sphere import EquiangularGrid, GaussLegendreGrid, unit_vectors
from equisphere.sphere.grids import angles_from_vectors
from equisphere.testing import SO3Rotation, SphereRotation, check_equivariance


def test_shapes_and_parameter_count():
    layer = S2Convolution(3, 5, bandwidth_in=6, bandwidth_out=4)
    assert layer(torch.randn(2, 3, 12, 12)).shape == (2, 5, 8, 8, 8)
    assert layer.weight.shape == (3, 5, 24)
    assert sum(p.numel() for p in layer.parameters()) == 3 * 5 * 24 + 5
    spectral = S2Convolution(3, 5, 6, 4, filter="spectral", bias=False)
    assert spectral.weight.shape == (3, 5, 16) and spectral.bias is None


def test_local_filter_reads_the_input_at_the_rotated_kernel_points():
    # (f * psi)(R) = sum_k w_k f(R x_k) when f is band-limited to bandwidth_out.
    torch.manual_seed(0)
    layer = S2Convolution(2, 3, bandwidth_in=5, bandwidth_out=3).double()
    with torch.no_grad():
        layer.bias.normal_()
    signal, coeffs = sphere_signal((1, 2), grid_bandwidth=5, band=3)
    output = layer(signal)  # (1, 3, 6, 6, 6)

    rotations = SO3Grid(3).matrices().reshape(-1, 3, 3)  # (216, 3, 3)
    kernel = s2_near_identity_grid()
    points = unit_vectors(kernel[:, 0], kernel[:, 1])  # (24, 3)
    moved = torch.einsum("rij,kj->rki", rotations, points).reshape(-1, 3)
    values = sphere_values(coeffs, moved).reshape(1, 2, 216, 24)  # f_i(R x_k)
    expected = torch.einsum("nirk,iok->nor", values, layer.weight) + layer.bias[:, None]
    torch.testing.assert_close(output.reshape(1, 3, -1), expected, rtol=0, atol=1e-12)


def test_spectral_filter_matches_the_convolution_integral_by_quadrature():
    # (f * psi)(R) = int f(x) psi(R^-1 x) dx, exact by Driscoll-Healy quadrature here.
    torch.manual_seed(1)
    layer = S2Convolution(2, 2, bandwidth_in=4, bandwidth_out=3, filter="spectral", bias=False)
    layer = layer.double()
    signal, _ = sphere_signal((1, 2), grid_bandwidth=4, band=4, seed=3)
    output = layer(signal)

    grid = EquiangularGrid(4)
    points = grid.vectors().reshape(-1, 3)  # (P, 3)
    rotations = SO3Grid(3).matrices().reshape(-1, 3, 3)
    pulled = torch.einsum("rji,pj->rpi", rotations, points)  # R^-1 x
    harmonics = real_spherical_harmonics(3, *angles_from_vectors(pulled))  # (r, P, 9)
    psi = torch.einsum("rpj,ioj->iorp", harmonics, layer.weight)
    integrand = signal.reshape(1, 2, 1, 1, -1) * psi[None] * grid.weights.reshape(-1)
    expected = integrand.sum(dim=(1, -1))  # (1, O, r)
    torch.testing.assert_close(output.reshape(1, 2, -1), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("filter", ["local", "spectral"])
@pytest.mark.parametrize("bandwidths", [(6, 4), (4, 6)])
def test_exactly_equivariant_to_random_rotations(filter, bandwidths):
    bandwidth_in, bandwidth_out = bandwidths
    torch.manual_seed(2)
    layer = S2Convolution(2, 3, bandwidth_in, bandwidth_out, filter=filter).double()
    signal, _ = sphere_signal((2, 2), bandwidth_in, bandwidth_in, seed=4)
    report = check_equivariance(
        layer,
        signal,
        random_rotation_matrices(3, seed=5, dtype=torch.float64),
        SphereRotation(EquiangularGrid(bandwidth_in)),
        SO3Rotation(bandwidth_out),
    )
    assert report.relative_error < 1e-10, str(report)


def test_float32_close_to_float64():
    torch.manual_seed(3)
    layer = S2Convolution(1, 4, 8, 5)
    signal, _ = sphere_signal((2, 1), 8, 8, seed=6)
    with torch.no_grad():
        reference = layer.double()(signal)
        single = layer.float()(signal.float())
    assert single.dtype == torch.float32
    assert float((single.double() - reference).norm() / reference.norm()) < 1e-6


def test_gauss_legendre_input_grid():
    # The same band-limited signal sampled on two grids gives the same output.
    torch.manual_seed(4)
    layer = S2Convolution(1, 2, 5, 3).double()
    gauss = S2Convolution(1, 2, 5, 3, grid=GaussLegendreGrid(5)).double()
    gauss.load_state_dict(layer.state_dict())
    _, coeffs = sphere_signal((1, 1), 5, 5, seed=7)
    grid = GaussLegendreGrid(5)
    on_gauss = sphere_values(coeffs, grid.vectors().reshape(-1, 3)).reshape(1, 1, *grid.shape)
    on_equiangular, _ = sphere_signal((1, 1), 5, 5, seed=7)
    torch.testing.assert_close(gauss(on_gauss), layer(on_equiangular), rtol=0, atol=1e-12)


@pytest.mark.parametrize("filter", ["local", "spectral"])
def test_gradcheck(filter):
    torch.manual_seed(5)
    layer = S2Convolution(2, 2, 3, 2, filter=filter, kernel_grid=None).double()
    signal = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    weight = layer.weight.detach().clone().requires_grad_(True)
    bias = layer.bias.detach().clone().requires_grad_(True)

    def run(signal, weight, bias):
        return functional_call(layer, {"weight": weight, "bias": bias}, (signal,))

    assert torch.autograd.gradcheck(run, (signal, weight, bias))


def test_custom_kernel_grid_and_identity_filter():
    # A single point mass at the north pole: (f * delta)(R) = f(R e_z), the gamma-independent lift.
    layer = S2Convolution(1, 1, 4, 4, kernel_grid=torch.zeros(1, 2), bias=False).double()
    with torch.no_grad():
        layer.weight.fill_(1.0)
    signal, coeffs = sphere_signal((1, 1), 4, 4, seed=8)
    output = layer(signal)[0, 0]  # (beta, alpha, gamma)
    grid = SO3Grid(4)
    poles = unit_vectors(grid.beta[:, None], grid.alpha[None, :]).reshape(-1, 3)
    expected = sphere_values(coeffs, poles).reshape(8, 8, 1).expand(8, 8, 8)
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-12)


def test_initialisation_keeps_the_mean_square():
    torch.manual_seed(6)
    signal = torch.randn(16, 4, 20, 20)
    for filter in ("local", "spectral"):
        layer = S2Convolution(4, 16, 10, 10, filter=filter)
        with torch.no_grad():
            ratio = float(layer(signal).square().mean() / signal.square().mean())
        assert 0.05 < ratio < 3.0, (filter, ratio)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((2, 1, 12, 12), r"expected input with 3 channels.*got 1 channels"),
        ((2, 3, 10, 10), r"expected input on EquiangularGrid\(bandwidth=6\).*bandwidth 5"),
        ((3, 12, 12), r"expected input of rank 4.*got rank 3.*unsqueeze"),
        ((2, 3, 8, 8, 8), r"expected input of rank 4.*\(2, 3, 8, 8, 8\)"),
    ],
)
def test_bad_input_names_expected_and_actual_shapes(shape, message):
    layer = S2Convolution(3, 2, 6, 4)
    with pytest.raises(ValueError, match=message):
        layer(torch.zeros(shape))


def test_bad_arguments():
    with pytest.raises(TypeError, match="floating-point"):
        S2Convolution(1, 1, 4, 4)(torch.zeros(1, 1, 8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="filter 'local'.*'spectral'"):
        S2Convolution(1, 1, 4, 4, filter="dense")
    with pytest.raises(ValueError, match=r"kernel_grid of shape \(n_points, 2\)"):
        S2Convolution(1, 1, 4, 4, kernel_grid=torch.zeros(5, 3))
    with pytest.raises(ValueError, match="kernel_grid only applies"):
        S2Convolution(1, 1, 4, 4, filter="spectral", kernel_grid=torch.zeros(5, 2))
    with pytest.raises(ValueError, match="in_channels to be a positive int"):
        S2Convolution(0, 1, 4, 4)
