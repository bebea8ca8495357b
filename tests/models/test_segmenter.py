"""The equivariant segmenter: shapes, registry, equivariance (exact and measured), errors."""

from __future__ import annotations

import pytest
import torch

from equisphere.harmonics import InverseSphericalHarmonicTransform, SphericalHarmonicTransform
from equisphere.models import build_model
from equisphere.models.segmenter import S2Segmenter
from equisphere.so3 import random_rotation_matrices
from equisphere.sphere import EquiangularGrid
from equisphere.testing import SphereRotation, check_equivariance, grid_symmetry_rotations


def test_registered_preset_shapes_and_parameters():
    model = build_model("s2-segmenter", n_classes=11)
    assert isinstance(model, S2Segmenter)
    assert model(torch.rand(2, 1, 60, 60)).shape == (2, 11, 60, 60)
    count = sum(p.numel() for p in model.parameters())
    assert 50_000 < count < 150_000


def test_single_level_and_no_skip():
    model = S2Segmenter(3, 4, bandwidth=6, bandwidths=(4,), channels=(5,), input_skip=False)
    assert model(torch.rand(2, 3, 12, 12)).shape == (2, 4, 12, 12)


def test_exactly_equivariant_to_rotations_that_permute_every_grid():
    torch.manual_seed(0)
    model = S2Segmenter(1, 5, bandwidth=10, bandwidths=(6, 4), channels=(4, 6))
    images = torch.rand(2, 1, 20, 20)
    model(images)
    model.eval()
    action = SphereRotation(EquiangularGrid(10), method="grid")
    report = check_equivariance(
        model, images, grid_symmetry_rotations([10, 6, 4], dtype=torch.float32), action, action
    )
    assert report.relative_error < 1e-5, str(report)


def test_random_rotations_move_the_logits_with_the_input():
    # Band-limited input rotated exactly; the output, which the pointwise head makes not
    # band-limited, is rotated back by bilinear resampling. Measured: about 2 % relative.
    torch.manual_seed(1)
    model = S2Segmenter(1, 5, bandwidth=16, bandwidths=(8, 4), channels=(4, 8)).double()
    model(torch.rand(2, 1, 32, 32, dtype=torch.float64))
    model.eval()
    grid = EquiangularGrid(16)
    smooth = torch.rand(2, 1, 32, 32, dtype=torch.float64)
    smooth = InverseSphericalHarmonicTransform(grid, 6)(SphericalHarmonicTransform(grid, 6)(smooth))
    report = check_equivariance(
        model,
        smooth,
        random_rotation_matrices(3, seed=2, dtype=torch.float64),
        SphereRotation(grid),
        SphereRotation(grid, method="interpolate"),
    )
    assert report.relative_error < 0.05, str(report)


def test_bad_arguments_and_input():
    with pytest.raises(ValueError, match="falling SO\\(3\\) bandwidths"):
        S2Segmenter(bandwidths=(6, 8), channels=(4, 4))
    with pytest.raises(ValueError, match="as many SO\\(3\\) channel counts as bandwidths"):
        S2Segmenter(bandwidths=(6, 4), channels=(4,))
    model = S2Segmenter(1, 3, bandwidth=8, bandwidths=(4,), channels=(2,))
    with pytest.raises(ValueError, match=r"expected input on EquiangularGrid\(bandwidth=8\)"):
        model(torch.zeros(1, 1, 20, 20))
