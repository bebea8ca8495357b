"""SO3Convolution: values against the defining integral, exact equivariance, gradients, errors."""

from __future__ import annotations

import pytest
import torch
from band_limited import so3_signal, so3_values
from torch.func import functional_call

from equisphere.nn import SO3Convolution, so3_near_identity_grid
from equisphere.so3 import (
    SO3Grid,
    euler_zyz_from_matrix,
    matrix_from_euler_zyz,
    random_rotation_matrices,
    wigner_D_flat,
)
from equisphere.testing import SO3Rotation, check_equivariance


def test_shapes_and_parameter_count():
    layer = SO3Convolution(20, 40, bandwidth_in=10, bandwidth_out=6)
    assert layer.weight.shape == (20, 40, 72)
    assert sum(p.numel() for p in layer.parameters()) == 20 * 40 * 72 + 40
    assert layer(torch.randn(1, 20, 20, 20, 20)).shape == (1, 40, 12, 12, 12)
    spectral = SO3Convolution(2, 3, 4, 3, filter="spectral")
    assert spectral.weight.shape == (2, 3, 35)


def test_local_filter_reads_the_input_at_the_right_translated_kernel_rotations():
    # (f * psi)(R) = sum_k w_k f(R Q_k) when f is band-limited to bandwidth_out.
    torch.manual_seed(0)
    layer = SO3Convolution(2, 3, bandwidth_in=4, bandwidth_out=3).double()
    with torch.no_grad():
        layer.bias.normal_()
    signal, coeffs = so3_signal((1, 2), grid_bandwidth=4, band=3)
    output = layer(signal)  # (1, 3, 6, 6, 6)

    rotations = SO3Grid(3).matrices().reshape(-1, 3, 3)  # (216, 3, 3)
    kernel = matrix_from_euler_zyz(*so3_near_identity_grid().unbind(-1))  # (72, 3, 3)
    products = (rotations[:, None] @ kernel[None]).reshape(-1, 3, 3)
    values = so3_values(coeffs, products).reshape(1, 2, 216, 72)  # f_i(R Q_k)
    expected = torch.einsum("nirk,iok->nor", values, layer.weight) + layer.bias[:, None]
    torch.testing.assert_close(output.reshape(1, 3, -1), expected, rtol=0, atol=1e-12)


def test_spectral_filter_matches_the_convolution_integral_by_quadrature():
    # (f * psi)(R) = int f(Q) psi(R^-1 Q) dQ, exact by SOFT quadrature on SO3Grid(4).
    torch.manual_seed(1)
    layer = SO3Convolution(2, 2, 4, 3, filter="spectral", bias=False).double()
    signal, _ = so3_signal((1, 2), grid_bandwidth=4, band=4, seed=2)
    output = layer(signal)

    grid_in, grid_out = SO3Grid(4), SO3Grid(3)
    points = grid_in.matrices().reshape(-1, 3, 3)  # Q, (512, 3, 3)
    rotations = grid_out.matrices().reshape(-1, 3, 3)  # R, (216, 3, 3)
    pulled = rotations.transpose(-1, -2)[:, None] @ points[None]  # R^-1 Q
    wigner = wigner_D_flat(3, *euler_zyz_from_matrix(pulled))  # (216, 512, 35)
    psi = torch.einsum("rqk,iok->iorq", wigner, layer.weight)
    weights = grid_in.weights.reshape(-1)
    expected = torch.einsum("niq,iorq,q->nor", signal.reshape(1, 2, -1), psi, weights)
    torch.testing.assert_close(output.reshape(1, 2, -1), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("filter", ["local", "spectral"])
@pytest.mark.parametrize("bandwidths", [(5, 3), (3, 5)])
def test_exactly_equivariant_to_random_rotations(filter, bandwidths):
    bandwidth_in, bandwidth_out = bandwidths
    torch.manual_seed(2)
    layer = SO3Convolution(2, 3, bandwidth_in, bandwidth_out, filter=filter).double()
    signal, _ = so3_signal((2, 2), bandwidth_in, bandwidth_in, seed=3)
    report = check_equivariance(
        layer,
        signal,
        random_rotation_matrices(3, seed=4, dtype=torch.float64),
        SO3Rotation(bandwidth_in),
        SO3Rotation(bandwidth_out),
    )
    assert report.relative_error < 1e-10, str(report)


def test_float32_close_to_float64():
    torch.manual_seed(3)
    layer = SO3Convolution(3, 4, 6, 4)
    signal, _ = so3_signal((2, 3), 6, 6, seed=5)
    with torch.no_grad():
        reference = layer.double()(signal)
        single = layer.float()(signal.float())
    assert single.dtype == torch.float32
    assert float((single.double() - reference).norm() / reference.norm()) < 1e-6


@pytest.mark.parametrize("filter", ["local", "spectral"])
def test_gradcheck(filter):
    torch.manual_seed(4)
    layer = SO3Convolution(2, 2, 2, 2, filter=filter).double()
    signal = torch.randn(1, 2, 4, 4, 4, dtype=torch.float64, requires_grad=True)
    weight = layer.weight.detach().clone().requires_grad_(True)
    bias = layer.bias.detach().clone().requires_grad_(True)

    def run(signal, weight, bias):
        return functional_call(layer, {"weight": weight, "bias": bias}, (signal,))

    assert torch.autograd.gradcheck(run, (signal, weight, bias))


def test_initialisation_keeps_the_mean_square():
    torch.manual_seed(5)
    signal, _ = so3_signal((8, 6), 6, 6, seed=6, dtype=torch.float32)
    signal = signal / signal.std()
    for filter in ("local", "spectral"):
        layer = SO3Convolution(6, 16, 6, 6, filter=filter)
        with torch.no_grad():
            ratio = float(layer(signal).square().mean())
        assert 0.05 < ratio < 3.0, (filter, ratio)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((2, 3, 8, 8, 8), r"expected input with 2 channels.*got 3 channels"),
        ((2, 2, 10, 10, 10), r"expected input on SO3Grid\(bandwidth=4\).*bandwidth 5"),
        ((2, 2, 8, 8), r"expected input of rank 5.*got rank 4"),
    ],
)
def test_bad_input_names_expected_and_actual_shapes(shape, message):
    with pytest.raises(ValueError, match=message):
        SO3Convolution(2, 2, 4, 3)(torch.zeros(shape))


def test_bad_kernel_grid():
    with pytest.raises(ValueError, match=r"kernel_grid of shape \(n_points, 3\).*Euler"):
        SO3Convolution(1, 1, 3, 3, kernel_grid=torch.zeros(4, 2))
