import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from equisphere.harmonics import (
    InverseSphericalHarmonicTransform,
    SphericalHarmonicTransform,
    real_spherical_harmonics,
)
from equisphere.sphere import EquiangularGrid, GaussLegendreGrid, HealpixGrid

F64 = torch.float64
GRIDS = [EquiangularGrid, GaussLegendreGrid]


def _random_coeffs(shape: tuple[int, ...], bandwidth: int, seed: int, dtype=F64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape + (bandwidth**2,), generator=generator, dtype=F64).to(dtype)


@pytest.mark.parametrize("grid_class", GRIDS, ids=lambda c: c.__name__)
def test_round_trip_is_exact_at_bandwidth_64(grid_class):
    # A random band-limited signal (every degree < 64 present): analysis recovers its
    # coefficients and synthesis its grid values.
    grid = grid_class(64)
    coeffs = _random_coeffs((3,), 64, seed=0)
    analysis, synthesis = SphericalHarmonicTransform(grid), InverseSphericalHarmonicTransform(grid)
    signal = synthesis(coeffs)
    recovered = analysis(signal)
    assert float((recovered - coeffs).abs().max()) < 1e-10
    assert float((synthesis(recovered) - signal).abs().max()) < 1e-10


@settings(max_examples=15, deadline=None)
@given(
    bandwidth=st.integers(1, 12),
    extra=st.integers(0, 3),
    seed=st.integers(0, 2**31 - 1),
    gauss=st.booleans(),
)
def test_round_trip_property(bandwidth, extra, seed, gauss):
    # Any band limit up to the grid's: synthesis then analysis is the identity.
    grid = (GaussLegendreGrid if gauss else EquiangularGrid)(bandwidth + extra)
    coeffs = _random_coeffs((2,), bandwidth, seed)
    signal = InverseSphericalHarmonicTransform(grid, bandwidth)(coeffs)
    torch.testing.assert_close(
        SphericalHarmonicTransform(grid, bandwidth)(signal), coeffs, atol=1e-12, rtol=0
    )


@pytest.mark.parametrize("grid_class", GRIDS, ids=lambda c: c.__name__)
def test_analysis_and_synthesis_match_the_dense_definition(grid_class):
    # The slow, obvious transform: quadrature against every harmonic sampled on the grid.
    grid = grid_class(8)
    harmonics = real_spherical_harmonics(8, grid.colatitude, grid.longitude)  # (theta, phi, B^2)
    signal = torch.randn((4,) + grid.shape, generator=torch.Generator().manual_seed(1), dtype=F64)
    expected = torch.einsum("nij,ijk,ij->nk", signal, harmonics, grid.weights)
    torch.testing.assert_close(
        SphericalHarmonicTransform(grid)(signal), expected, atol=1e-13, rtol=0
    )

    coeffs = _random_coeffs((4,), 8, seed=2)
    synthesised = torch.einsum("nk,ijk->nij", coeffs, harmonics)
    torch.testing.assert_close(
        InverseSphericalHarmonicTransform(grid)(coeffs), synthesised, atol=1e-13, rtol=0
    )


def test_constant_and_degree_one_closed_forms():
    grid = EquiangularGrid(5)
    sht = SphericalHarmonicTransform(grid)
    z = torch.cos(grid.colatitude)
    coeffs = sht(torch.stack([torch.ones(grid.shape, dtype=F64), z]))
    expected = torch.zeros(2, 25, dtype=F64)
    expected[0, 0] = math.sqrt(4 * math.pi)
    expected[1, 2] = math.sqrt(4 * math.pi / 3)  # z = sqrt(4 pi / 3) Y_{1,0}
    torch.testing.assert_close(coeffs, expected, atol=1e-14, rtol=0)


def test_lower_bandwidth_truncates_the_coefficients():
    grid = GaussLegendreGrid(10)
    signal = InverseSphericalHarmonicTransform(grid)(_random_coeffs((), 10, seed=3))
    full = SphericalHarmonicTransform(grid)(signal)
    low = SphericalHarmonicTransform(grid, 4)(signal)
    torch.testing.assert_close(low, full[:16], atol=1e-13, rtol=0)


def test_float32_is_accurate_to_1e_5_relative(dtype):
    grid = EquiangularGrid(32)
    coeffs = _random_coeffs((2, 3), 32, seed=4)
    signal = InverseSphericalHarmonicTransform(grid)(coeffs)
    recovered = SphericalHarmonicTransform(grid)(signal.to(dtype))
    assert recovered.dtype == dtype and recovered.shape == (2, 3, 32 * 32)
    relative = float((recovered.double() - coeffs).abs().max() / coeffs.abs().max())
    assert relative < (1e-5 if dtype == torch.float32 else 1e-12)
    synthesised = InverseSphericalHarmonicTransform(grid)(coeffs.to(dtype))
    assert float((synthesised.double() - signal).abs().max() / signal.abs().max()) < (
        1e-5 if dtype == torch.float32 else 1e-12
    )


def test_batched_leading_dimensions_are_independent():
    grid = EquiangularGrid(6)
    signal = torch.randn(2, 3, *grid.shape, generator=torch.Generator().manual_seed(5), dtype=F64)
    sht = SphericalHarmonicTransform(grid)
    batched = sht(signal)
    torch.testing.assert_close(batched[1, 2], sht(signal[1, 2]), atol=1e-15, rtol=0)


def test_gradcheck():
    grid = EquiangularGrid(3)
    signal = torch.randn(2, *grid.shape, dtype=F64, requires_grad=True)
    coeffs = torch.randn(2, 9, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(SphericalHarmonicTransform(grid), (signal,))
    assert torch.autograd.gradcheck(InverseSphericalHarmonicTransform(grid), (coeffs,))


def test_buffers_are_not_saved_in_state_dict():
    assert SphericalHarmonicTransform(EquiangularGrid(4)).state_dict() == {}
    assert InverseSphericalHarmonicTransform(EquiangularGrid(4)).state_dict() == {}


def test_bad_input_says_expected_and_got():
    grid = EquiangularGrid(8)
    sht = SphericalHarmonicTransform(grid)
    with pytest.raises(
        ValueError, match=r"expected signal of shape \(\.\.\., 16, 16\).*got shape \(2, 12, 12\)"
    ):
        sht(torch.zeros(2, 12, 12))
    bad = torch.zeros(16, 16)
    bad[3, 4] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        sht(bad)
    with pytest.raises(
        ValueError, match=r"expected coeffs of shape \(\.\.\., 64\).*got shape \(49,\)"
    ):
        InverseSphericalHarmonicTransform(grid)(torch.zeros(49))
    with pytest.raises(ValueError, match="expected coeffs to be finite"):
        InverseSphericalHarmonicTransform(grid)(torch.full((64,), float("inf")))
    with pytest.raises(ValueError, match="bandwidth <= the grid's bandwidth 8"):
        SphericalHarmonicTransform(grid, 9)
    with pytest.raises(TypeError, match="EquiangularGrid or GaussLegendreGrid"):
        SphericalHarmonicTransform(HealpixGrid(2))
    with pytest.raises(TypeError, match="float32 or float64"):
        sht(torch.zeros(16, 16, dtype=torch.long))


@pytest.mark.gpu
def test_cuda_matches_cpu():
    grid = EquiangularGrid(16)
    coeffs = _random_coeffs((4,), 16, seed=6)
    isht, sht = InverseSphericalHarmonicTransform(grid), SphericalHarmonicTransform(grid)
    signal = isht(coeffs)
    on_gpu = sht.cuda()(isht.cuda()(coeffs.cuda()))
    torch.testing.assert_close(on_gpu.cpu(), coeffs, atol=1e-12, rtol=0)
    torch.testing.assert_close(isht(coeffs.cuda()).cpu(), signal, atol=1e-12, rtol=0)
