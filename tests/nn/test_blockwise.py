"""Harmonic transforms on blocks: same values, gradients and second derivatives as in one piece.

The layers apply their transforms through ``blockwise``, which saves nothing for
backward and applies the transform's adjoint instead; at the bandwidths of the
other tests a batch fits in one block, so here the block is made tiny to take
the blockwise path on every layer.
"""

from __future__ import annotations

import functools

import pytest
import torch
from torch.func import functional_call

import equisphere.nn._pooling as pooling_module
import equisphere.nn._s2_convolution as s2_module
import equisphere.nn._so3_convolution as so3_module
import equisphere.nn._so3_to_s2 as so3_to_s2_module
import equisphere.nn._zonal as zonal_module
from equisphere.harmonics import SphericalHarmonicTransform
from equisphere.nn import BandLimit, S2Convolution, SO3Convolution, SO3ToS2, ZonalS2Convolution
from equisphere.nn._spectral import blockwise
from equisphere.so3 import SO3Grid
from equisphere.sphere import EquiangularGrid

MODULES = (pooling_module, s2_module, so3_module, so3_to_s2_module, zonal_module)

CASES = {
    "S2Convolution": (lambda: S2Convolution(2, 2, 3, 2), (3, 2, 6, 6)),
    "SO3Convolution": (lambda: SO3Convolution(2, 2, 3, 2), (3, 2, 6, 6, 6)),
    "SO3ToS2": (lambda: SO3ToS2(2, 2, 2, 3), (3, 2, 4, 4, 4)),
    "ZonalS2Convolution": (lambda: ZonalS2Convolution(2, 2, 3, 2), (3, 2, 6, 6)),
    "BandLimit": (lambda: BandLimit(SO3Grid(3), 2), (3, 2, 6, 6, 6)),
}


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Every layer's transforms on blocks of at most 64 numbers (one row at a time here)."""
    small = functools.partial(blockwise, block_elements=64)
    for module in MODULES:
        monkeypatch.setattr(module, "blockwise", small)


def test_blockwise_matches_the_transform_in_one_piece():
    transform = SphericalHarmonicTransform(EquiangularGrid(4)).double()
    signal = torch.randn(5, 3, 8, 8, dtype=torch.float64)
    whole = transform(signal)
    pieces = blockwise(transform, signal, 2, 16, block_elements=100)
    torch.testing.assert_close(pieces, whole, rtol=0, atol=1e-14)  # BLAS order only


@pytest.mark.parametrize("name", sorted(CASES))
def test_layers_on_blocks_have_right_first_and_second_derivatives(name, tiny_blocks):
    torch.manual_seed(0)
    build, shape = CASES[name]
    layer = build().double()
    signal = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in layer.named_parameters()}
    names = list(params)

    def run(signal, *values):
        return functional_call(layer, dict(zip(names, values, strict=True)), (signal,))

    inputs = (signal, *params.values())
    assert torch.autograd.gradcheck(run, inputs, fast_mode=True)
    assert torch.autograd.gradgradcheck(run, inputs, fast_mode=True)


def test_blocks_give_the_same_output_and_gradient_as_one_piece(monkeypatch):
    torch.manual_seed(1)
    layer = SO3Convolution(3, 4, 3, 3).double()
    signal = torch.randn(4, 3, 6, 6, 6, dtype=torch.float64, requires_grad=True)
    whole = layer(signal)
    (grad_whole,) = torch.autograd.grad(whole.square().sum(), signal)
    monkeypatch.setattr(so3_module, "blockwise", functools.partial(blockwise, block_elements=64))
    pieces = layer(signal)
    (grad_pieces,) = torch.autograd.grad(pieces.square().sum(), signal)
    torch.testing.assert_close(pieces, whole, rtol=0, atol=1e-13)
    torch.testing.assert_close(grad_pieces, grad_whole, rtol=0, atol=1e-12)
