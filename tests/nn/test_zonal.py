"""ZonalS2Convolution: values against ring means and the integral, equivariance, gradients."""

from __future__ import annotations

import math

import pytest
import torch
from band_limited import sphere_signal, sphere_values
from torch.func import functional_call

from equisphere.harmonics import real_spherical_harmonics
from equisphere.nn import ZonalS2Convolution, ring_grid
from equisphere.so3 import matrix_from_euler_zyz, random_rotation_matrices
from equisphere.sphere import EquiangularGrid, GaussLegendreGrid, unit_vectors
from equisphere.sphere.grids import angles_from_vectors
from equisphere.testing import SphereRotation, check_equivariance

ZERO = torch.zeros((), dtype=torch.float64)  # a third Euler angle of 0, in float64


def test_shapes_and_parameter_count():
    layer = ZonalS2Convolution(3, 5, bandwidth_in=8, bandwidth_out=4)
    assert layer(torch.randn(2, 3, 16, 16)).shape == (2, 5, 8, 8)
    assert sum(p.numel() for p in layer.parameters()) == 3 * 5 * 4 + 5
    spectral = ZonalS2Convolution(3, 5, 8, filter="spectral")
    assert spectral.weight.shape == (3, 5, 8)


def test_ring_filter_is_a_weighted_sum_of_ring_means():
    torch.manual_seed(0)
    rings = ring_grid(math.pi / 5, 3)
    layer = ZonalS2Convolution(2, 3, 5, 3, ring_colatitudes=rings).double()
    with torch.no_grad():
        layer.bias.normal_()
    signal, coeffs = sphere_signal((1, 2), grid_bandwidth=5, band=3)
    output = layer(signal)  # (1, 3, 6, 6)

    grid = EquiangularGrid(3)
    carry = matrix_from_euler_zyz(grid.longitude, grid.colatitude, ZERO).reshape(-1, 1, 1, 3, 3)
    turn = 2 * math.pi * torch.arange(6, dtype=torch.float64) / 6  # exact for band 3
    circles = unit_vectors(rings[:, None], turn[None, :])  # (3 rings, 6, 3)
    points = (carry @ circles[None, ..., None])[..., 0]  # (36, 3, 6, 3)
    means = sphere_values(coeffs, points.reshape(-1, 3)).reshape(1, 2, 36, 3, 6).mean(-1)
    expected = torch.einsum("nipk,iok->nop", means, layer.weight) + layer.bias[:, None]
    torch.testing.assert_close(output.reshape(1, 3, -1), expected, rtol=0, atol=1e-12)


def test_spectral_filter_matches_the_integral_by_quadrature():
    # h(x) = int f(y) psi(R_x^-1 y) dy with psi = sum_l p_l Y_l0.
    torch.manual_seed(1)
    layer = ZonalS2Convolution(2, 2, 4, 3, filter="spectral", bias=False).double()
    signal, _ = sphere_signal((1, 2), 4, 4, seed=2)
    output = layer(signal)

    grid_in, grid_out = EquiangularGrid(4), EquiangularGrid(3)
    carry = matrix_from_euler_zyz(grid_out.longitude, grid_out.colatitude, ZERO).reshape(-1, 3, 3)
    points = grid_in.vectors().reshape(-1, 3)
    pulled = torch.einsum("xji,pj->xpi", carry, points)  # R_x^-1 y, (36, 64, 3)
    harmonics = real_spherical_harmonics(3, *angles_from_vectors(pulled))
    zonal = harmonics[..., [0, 2, 6]]  # Y_00, Y_10, Y_20
    psi = torch.einsum("xpl,iol->ioxp", zonal, layer.weight)
    expected = torch.einsum(
        "nip,ioxp,p->nox", signal.reshape(1, 2, -1), psi, grid_in.weights.reshape(-1)
    )
    torch.testing.assert_close(output.reshape(1, 2, -1), expected, rtol=0, atol=1e-12)


def test_single_ring_at_the_pole_mixes_channels_pointwise():
    layer = ZonalS2Convolution(2, 1, 5, ring_colatitudes=torch.zeros(1), bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[[2.0]], [[-3.0]]], dtype=torch.float64))
    signal, _ = sphere_signal((1, 2), 5, 5, seed=3)
    expected = 2 * signal[:, :1] - 3 * signal[:, 1:]
    torch.testing.assert_close(layer(signal), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("filter", ["local", "spectral"])
def test_exactly_equivariant_to_random_rotations(filter):
    torch.manual_seed(2)
    layer = ZonalS2Convolution(2, 3, 6, 4, filter=filter, output_grid=GaussLegendreGrid(4))
    layer = layer.double()
    signal, _ = sphere_signal((2, 2), 6, 6, seed=4)
    report = check_equivariance(
        layer,
        signal,
        random_rotation_matrices(3, seed=5, dtype=torch.float64),
        SphereRotation(EquiangularGrid(6)),
        SphereRotation(GaussLegendreGrid(4)),
    )
    assert report.relative_error < 1e-10, str(report)


@pytest.mark.parametrize("filter", ["local", "spectral"])
def test_gradcheck(filter):
    torch.manual_seed(3)
    layer = ZonalS2Convolution(2, 2, 3, filter=filter).double()
    signal = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    weight = layer.weight.detach().clone().requires_grad_(True)
    bias = layer.bias.detach().clone().requires_grad_(True)

    def run(signal, weight, bias):
        return functional_call(layer, {"weight": weight, "bias": bias}, (signal,))

    assert torch.autograd.gradcheck(run, (signal, weight, bias))


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((1, 3, 8, 8), r"ZonalS2Convolution expected input with 2 channels.*got 3 channels"),
        (
            (1, 2, 12, 12),
            r"expected input on EquiangularGrid\(bandwidth=4\).*got shape \(1, 2, 12, 12\)"
            r".*equiangular grid of bandwidth 6",
        ),
        ((2, 8, 8), r"expected input of rank 4.*got rank 3.*unsqueeze"),
        ((1, 2, 8, 8, 8), r"expected input of rank 4.*got rank 5"),
    ],
)
def test_bad_input_names_expected_and_actual_shapes(shape, message):
    with pytest.raises(ValueError, match=message):
        ZonalS2Convolution(2, 2, 4)(torch.zeros(shape))


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"ring colatitudes of shape \(n_rings,\)"):
        ZonalS2Convolution(1, 1, 4, ring_colatitudes=torch.zeros(2, 2))
