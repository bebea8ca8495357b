"""SO3ToS2: values against the defining integral, exact equivariance, gradients, errors."""

from __future__ import annotations

import math

import pytest
import torch
from band_limited import so3_signal, so3_values
from torch.func import functional_call

from equisphere.harmonics import real_spherical_harmonics
from equisphere.nn import SO3ToS2, s2_near_identity_grid
from equisphere.so3 import (
    SO3Grid,
    matrix_from_euler_zyz,
    random_rotation_matrices,
    rotation_z,
)
from equisphere.sphere import EquiangularGrid
from equisphere.sphere.grids import angles_from_vectors
from equisphere.testing import SO3Rotation, SphereRotation, check_equivariance

ZERO = torch.zeros((), dtype=torch.float64)  # a third Euler angle of 0, in float64


def test_shapes():
    layer = SO3ToS2(8, 3, bandwidth_in=6, bandwidth_out=6)
    assert layer(torch.randn(2, 8, 12, 12, 12)).shape == (2, 3, 12, 12)
    drawn = SO3ToS2(8, 3, bandwidth_in=6, bandwidth_out=6, grid=EquiangularGrid(15))
    assert drawn(torch.randn(2, 8, 12, 12, 12)).shape == (2, 3, 30, 30)
    assert sum(p.numel() for p in layer.parameters()) == 8 * 3 * 24 + 3


def test_local_filter_averages_over_the_rotations_that_carry_each_kernel_point():
    # h(x) = sum_k w_k mean_gamma f(R_x Rz(gamma) S_k^-1) with S_k e_z = x_k.
    torch.manual_seed(0)
    layer = SO3ToS2(2, 3, bandwidth_in=4, bandwidth_out=3).double()
    with torch.no_grad():
        layer.bias.normal_()
    signal, coeffs = so3_signal((1, 2), grid_bandwidth=4, band=3)
    output = layer(signal)  # (1, 3, 6, 6)

    grid = EquiangularGrid(3)
    carry = matrix_from_euler_zyz(grid.longitude, grid.colatitude, ZERO).reshape(-1, 1, 1, 3, 3)
    kernel = s2_near_identity_grid()
    back = matrix_from_euler_zyz(kernel[:, 1], kernel[:, 0], ZERO).transpose(-1, -2)  # S_k^-1
    gamma = 2 * math.pi * torch.arange(6, dtype=torch.float64) / 6  # exact mean for band 3
    turn = rotation_z(gamma)[None, None]  # (1, 1, 6, 3, 3)
    rotations = carry @ turn @ back[None, :, None]  # (36, 24, 6, 3, 3)
    values = so3_values(coeffs, rotations.reshape(-1, 3, 3)).reshape(1, 2, 36, 24, 6).mean(-1)
    expected = torch.einsum("nipk,iok->nop", values, layer.weight) + layer.bias[:, None]
    torch.testing.assert_close(output.reshape(1, 3, -1), expected, rtol=0, atol=1e-12)


def test_spectral_filter_matches_the_integral_by_quadrature():
    # h(x) = 1 / (2 pi) int f(R) psi(R^-1 x) dR, exact by SOFT quadrature.
    torch.manual_seed(1)
    layer = SO3ToS2(2, 2, 4, 3, filter="spectral", bias=False).double()
    signal, _ = so3_signal((1, 2), grid_bandwidth=4, band=4, seed=2)
    output = layer(signal)

    grid_in, grid_out = SO3Grid(4), EquiangularGrid(3)
    rotations = grid_in.matrices().reshape(-1, 3, 3)  # (512, 3, 3)
    points = grid_out.vectors().reshape(-1, 3)  # (36, 3)
    pulled = torch.einsum("rji,pj->rpi", rotations, points)  # R^-1 x
    harmonics = real_spherical_harmonics(3, *angles_from_vectors(pulled))  # (512, 36, 9)
    psi = torch.einsum("rpj,ioj->iorp", harmonics, layer.weight)
    weights = grid_in.weights.reshape(-1)
    expected = torch.einsum("nir,iorp,r->nop", signal.reshape(1, 2, -1), psi, weights)
    torch.testing.assert_close(
        output.reshape(1, 2, -1), expected / (2 * math.pi), rtol=0, atol=1e-12
    )


def test_north_pole_filter_is_the_mean_over_gamma():
    layer = SO3ToS2(1, 1, 4, 4, kernel_grid=torch.zeros(1, 2), bias=False).double()
    with torch.no_grad():
        layer.weight.fill_(1.0)
    signal, _ = so3_signal((1, 1), 4, 4, seed=3)
    torch.testing.assert_close(layer(signal), signal.mean(-1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("filter", ["local", "spectral"])
@pytest.mark.parametrize("bandwidths", [(5, 3), (3, 5)])
def test_exactly_equivariant_to_random_rotations(filter, bandwidths):
    bandwidth_in, bandwidth_out = bandwidths
    torch.manual_seed(2)
    layer = SO3ToS2(2, 3, bandwidth_in, bandwidth_out, filter=filter).double()
    signal, _ = so3_signal((2, 2), bandwidth_in, bandwidth_in, seed=4)
    report = check_equivariance(
        layer,
        signal,
        random_rotation_matrices(3, seed=5, dtype=torch.float64),
        SO3Rotation(bandwidth_in),
        SphereRotation(EquiangularGrid(bandwidth_out)),
    )
    assert report.relative_error < 1e-10, str(report)


@pytest.mark.parametrize("filter", ["local", "spectral"])
def test_gradcheck(filter):
    torch.manual_seed(3)
    layer = SO3ToS2(2, 2, 2, 2, filter=filter).double()
    signal = torch.randn(1, 2, 4, 4, 4, dtype=torch.float64, requires_grad=True)
    weight = layer.weight.detach().clone().requires_grad_(True)
    bias = layer.bias.detach().clone().requires_grad_(True)

    def run(signal, weight, bias):
        return functional_call(layer, {"weight": weight, "bias": bias}, (signal,))

    assert torch.autograd.gradcheck(run, (signal, weight, bias))


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((1, 1, 8, 8, 8), r"SO3ToS2 expected input with 2 channels.*got 1 channels"),
        (
            (1, 2, 6, 6, 6),
            r"expected input on SO3Grid\(bandwidth=4\).*got shape \(1, 2, 6, 6, 6\)"
            r".*SO\(3\) grid of bandwidth 3",
        ),
        ((2, 8, 8, 8), r"expected input of rank 5.*got rank 4.*unsqueeze"),
        ((1, 2, 8, 8), r"expected input of rank 5.*got rank 4 and shape \(1, 2, 8, 8\)"),
    ],
)
def test_bad_input_names_expected_and_actual_shapes(shape, message):
    with pytest.raises(ValueError, match=message):
        SO3ToS2(2, 2, 4, 3)(torch.zeros(shape))


def test_bad_arguments():
    with pytest.raises(TypeError, match="sphere grid"):
        SO3ToS2(1, 1, 3, 3, grid=SO3Grid(3))
    with pytest.raises(TypeError, match="floating-point"):
        SO3ToS2(1, 1, 3, 3)(torch.zeros(1, 1, 6, 6, 6, dtype=torch.long))
