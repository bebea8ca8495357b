"""Activation, batch norm, band-limit reduction, global pooling and the parameter table."""

from __future__ import annotations

import math

import pytest
import torch
from band_limited import so3_signal, sphere_signal

from equisphere.nn import (
    BandLimit,
    EquivariantBatchNorm,
    GlobalPool,
    GridActivation,
    S2Convolution,
    parameter_table,
)
from equisphere.so3 import SO3Grid, random_rotation_matrices
from equisphere.sphere import EquiangularGrid, GaussLegendreGrid
from equisphere.testing import SO3Rotation, SphereRotation, check_equivariance, invariant


def test_activation_by_name_and_callable():
    x = torch.linspace(-2, 2, 9)
    assert torch.equal(GridActivation("relu")(x), x.clamp(min=0))
    assert torch.equal(GridActivation(torch.tanh)(x), torch.tanh(x))
    with pytest.raises(ValueError, match="expected activation one of gelu, relu"):
        GridActivation("swish")


def test_batch_norm_normalises_with_quadrature_weights():
    grid = SO3Grid(3)
    norm = EquivariantBatchNorm(2, grid).double()
    signal, _ = so3_signal((4, 2), 3, 3, seed=0)
    signal = 3 * signal + torch.tensor([1.0, -2.0], dtype=torch.float64)[:, None, None, None]
    output = norm(signal)
    weights = grid.weights / grid.weights.sum()
    mean = (output * weights).sum(dim=(-3, -2, -1)).mean(0)
    second = (output.square() * weights).sum(dim=(-3, -2, -1)).mean(0)
    torch.testing.assert_close(mean, torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(second, torch.ones(2, dtype=torch.float64), atol=1e-4, rtol=0)
    # Running statistics moved a tenth of the way to the batch's.
    batch_mean = (signal * weights).sum(dim=(-3, -2, -1)).mean(0)
    torch.testing.assert_close(norm.running_mean, 0.1 * batch_mean, atol=1e-12, rtol=0)
    norm.eval()
    expected = (signal - norm.running_mean[:, None, None, None]) / torch.sqrt(
        norm.running_var[:, None, None, None] + norm.eps
    )
    torch.testing.assert_close(norm(signal), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_is_exactly_equivariant(training):
    norm = EquivariantBatchNorm(3, EquiangularGrid(5)).double()
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    norm.train(training)
    signal, _ = sphere_signal((4, 3), 5, 5, seed=1)
    report = check_equivariance(
        norm,
        signal,
        random_rotation_matrices(2, seed=2, dtype=torch.float64),
        SphereRotation(EquiangularGrid(5)),
        SphereRotation(EquiangularGrid(5)),
    )
    assert report.relative_error < 1e-10, str(report)


def test_batch_norm_gradcheck():
    norm = EquivariantBatchNorm(2, SO3Grid(2)).double()
    signal = torch.randn(3, 2, 4, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(norm, (signal,))


def test_band_limit_keeps_low_degrees_and_is_equivariant():
    signal, coeffs = so3_signal((2, 3), 5, 3, seed=3)  # already band 3: unchanged
    reduce = BandLimit(SO3Grid(5), 3).double()
    low, _ = so3_signal((2, 3), 3, 3, seed=3)
    torch.testing.assert_close(reduce(signal), low, atol=1e-12, rtol=0)
    full, _ = so3_signal((2, 3), 5, 5, seed=4)
    report = check_equivariance(
        reduce,
        full,
        random_rotation_matrices(2, seed=5, dtype=torch.float64),
        SO3Rotation(5),
        SO3Rotation(3),
    )
    assert report.relative_error < 1e-10, str(report)


def test_band_limit_on_the_sphere():
    reduce = BandLimit(GaussLegendreGrid(6), 4)
    assert reduce.output_grid == GaussLegendreGrid(4)
    signal, _ = sphere_signal((1, 2), 6, 6, seed=6)
    reduce = BandLimit(EquiangularGrid(6), 4).double()
    report = check_equivariance(
        reduce,
        signal,
        random_rotation_matrices(2, seed=7, dtype=torch.float64),
        SphereRotation(EquiangularGrid(6)),
        SphereRotation(EquiangularGrid(4)),
    )
    assert report.relative_error < 1e-10, str(report)
    assert torch.autograd.gradcheck(
        BandLimit(EquiangularGrid(3), 2).double(),
        (torch.randn(1, 1, 6, 6, dtype=torch.float64, requires_grad=True),),
    )


def test_global_pool_is_the_quadrature_mean_and_invariant():
    signal, coeffs = so3_signal((2, 3), 4, 4, seed=8)
    pooled = GlobalPool(SO3Grid(4))(signal)
    # The mean of sum fhat D over SO(3) is the degree-0 coefficient.
    torch.testing.assert_close(pooled, coeffs[..., 0], atol=1e-12, rtol=0)
    report = check_equivariance(
        GlobalPool(SO3Grid(4)),
        signal,
        random_rotation_matrices(3, seed=9, dtype=torch.float64),
        SO3Rotation(4),
        invariant,
    )
    assert report.relative_error < 1e-12
    sphere, sphere_coeffs = sphere_signal((2, 1), 4, 4, seed=10)
    torch.testing.assert_close(
        GlobalPool(EquiangularGrid(4))(sphere),
        sphere_coeffs[..., 0] / math.sqrt(4 * math.pi),
        atol=1e-12,
        rtol=0,
    )
    with pytest.raises(ValueError, match=r"GlobalPool expected input on SO3Grid\(bandwidth=4\)"):
        GlobalPool(SO3Grid(4))(torch.zeros(1, 1, 6, 6, 6))


def test_parameter_table_lists_layers_and_total():
    model = torch.nn.Sequential(S2Convolution(1, 20, 6, 4), GridActivation(), torch.nn.Linear(3, 2))
    table = parameter_table(model)
    lines = table.splitlines()
    assert lines[0].split() == ["layer", "type", "parameters"]
    assert lines[1].split() == ["0", "S2Convolution", "500"]
    assert lines[2].split() == ["2", "Linear", "8"]
    assert lines[3].split() == ["total", "508"]
    with pytest.raises(TypeError, match="torch.nn.Module"):
        parameter_table("model")


@pytest.mark.parametrize("name", ["relu", "gelu", "tanh"])
def test_activation_gradcheck(name):
    # Values kept away from 0, where the ReLU has no derivative.
    signal = torch.randn(2, 3, 4, 4, 4, dtype=torch.float64)
    signal = (signal + 0.1 * signal.sign()).requires_grad_(True)
    activation = GridActivation(name)
    assert torch.autograd.gradcheck(activation, (signal,))
    assert torch.autograd.gradgradcheck(activation, (signal,))


def test_relu_keeps_a_mask_and_matches_torch():
    signal = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    ours = GridActivation("relu")(signal)
    assert ours.grad_fn is not None and "ReLU" in type(ours.grad_fn).__name__
    torch.testing.assert_close(ours, torch.relu(signal), rtol=0, atol=0)
    (grad,) = torch.autograd.grad(ours.sum(), signal)
    torch.testing.assert_close(grad, (signal > 0).double(), rtol=0, atol=0)


def test_relu_makes_no_float_copy_of_its_mask():
    # float * bool converts the bool mask to a float tensor as large as the signal
    # (aten::_to_copy) before multiplying: 20 MiB at the Cohen stack's first layer.
    signal = torch.randn(4, 3, 6, 6, 6, requires_grad=True)
    grad_output = torch.ones(signal.shape)
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=activities, profile_memory=True) as profile:
        output = GridActivation("relu")(signal)
        torch.autograd.grad(output, signal, grad_output)
    copies = [e.cpu_memory_usage for e in profile.events() if e.name == "aten::_to_copy"]
    assert "_ReLUBackward" in {event.name for event in profile.events()}
    assert all(size < 64 for size in copies), copies  # a scalar 0 converted: 4 bytes


def test_global_pool_and_band_limit_gradcheck():
    for grid in (SO3Grid(2), EquiangularGrid(3)):
        signal = torch.randn(2, 3, *grid.shape, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(GlobalPool(grid).double(), (signal,))
    signal = torch.randn(2, 2, 6, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(BandLimit(SO3Grid(3), 2).double(), (signal,))


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (
            lambda: EquivariantBatchNorm(3, SO3Grid(4)),
            (2, 3, 6, 6, 6),
            r"EquivariantBatchNorm expected input on SO3Grid\(bandwidth=4\).*\(2, 3, 6, 6, 6\)"
            r".*bandwidth 3",
        ),
        (
            lambda: EquivariantBatchNorm(3, SO3Grid(4)),
            (2, 4, 8, 8, 8),
            r"expected input with 3 channels.*got 4 channels",
        ),
        (
            lambda: BandLimit(EquiangularGrid(6), 3),
            (2, 1, 10, 10),
            r"BandLimit expected input on EquiangularGrid\(bandwidth=6\)"
            r".*got shape \(2, 1, 10, 10\)",
        ),
        (
            lambda: BandLimit(SO3Grid(5), 3),
            (10, 10, 10),
            r"BandLimit expected input of rank 5.*got rank 3",
        ),
    ],
)
def test_bad_input_names_expected_and_actual_shapes(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer()(torch.zeros(shape))
