"""Planar baselines and the model registry."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from equisphere.models import (
    PlanarCNN,
    PlanarUNet,
    available_models,
    build_model,
    count_parameters,
    fill_data_options,
    register_model,
    width_for_parameters,
)
from equisphere.models.registry import unregister_model


def planar_cnn_parameters(width: int, in_channels: int, n_classes: int) -> int:
    """Closed form: bias-free 5x5 and two 3x3 convs, batch norm (2 per channel), linear head."""
    w = width
    convs = 25 * in_channels * w + 9 * w * 2 * w + 9 * 2 * w * 4 * w
    norms = 2 * (w + 2 * w + 4 * w)
    return convs + norms + 9 * 4 * w * n_classes + n_classes


@pytest.mark.parametrize("width, in_channels, n_classes", [(1, 1, 2), (8, 3, 10), (23, 1, 10)])
def test_planar_cnn_parameter_count_matches_closed_form(width, in_channels, n_classes):
    model = PlanarCNN(in_channels, n_classes, width)
    assert count_parameters(model) == planar_cnn_parameters(width, in_channels, n_classes)


def test_width_for_parameters_picks_the_closest_count():
    width = width_for_parameters(PlanarCNN, 58_000, n_classes=10)
    gap = abs(planar_cnn_parameters(width, 1, 10) - 58_000)
    assert gap <= abs(planar_cnn_parameters(width - 1, 1, 10) - 58_000)
    assert gap <= abs(planar_cnn_parameters(width + 1, 1, 10) - 58_000)
    assert width == 23  # 52,348 at 22; 56,797 at 23; 61,426 at 24


def test_registered_planar_cnn_defaults_to_the_cohen2018_size():
    model = build_model("planar-cnn")  # the s2cnn-cohen2018 preset has 58,550
    assert abs(count_parameters(model) - 58_550) / 58_550 < 0.05


def test_planar_unet_is_matched_to_a_target_count():
    for target in (20_000, 150_000):
        model = build_model("planar-unet", target_parameters=target, depth=2)
        smaller = PlanarUNet(width=model.width - 1, depth=2)
        larger = PlanarUNet(width=model.width + 1, depth=2)
        gap = abs(count_parameters(model) - target)
        assert gap <= abs(count_parameters(smaller) - target)
        assert gap <= abs(count_parameters(larger) - target)


def test_planar_cnn_forward_matches_a_functional_reference():
    torch.manual_seed(0)
    model = PlanarCNN(in_channels=2, n_classes=3, width=2).eval()
    for module in model.modules():  # non-trivial batch-norm statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    image = torch.randn(2, 2, 20, 18)

    def block(x, stage, stride=1):
        conv, norm = stage[0], stage[1]
        x = F.conv2d(x, conv.weight, stride=stride, padding=conv.padding)
        x = (x - norm.running_mean[:, None, None]) / torch.sqrt(
            norm.running_var[:, None, None] + norm.eps
        )
        return F.relu(x * norm.weight[:, None, None] + norm.bias[:, None, None])

    features = model.features
    x = block(image, features, stride=2)
    x = F.max_pool2d(block(x, features[3]), 2)
    x = F.max_pool2d(block(x, features[5]), 2)
    x = F.adaptive_avg_pool2d(x, 3).flatten(1)
    expected = x @ model.head.weight.T + model.head.bias
    torch.testing.assert_close(model(image), expected)


@pytest.mark.parametrize("shape", [(16, 16), (9, 14)])
def test_planar_unet_learns_a_threshold_map_at_any_size(shape):
    torch.manual_seed(0)
    image = torch.rand(4, 1, *shape)
    target = (image[:, 0] > 0.5).long()
    model = PlanarUNet(in_channels=1, n_classes=2, width=4, depth=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(30):
        optimizer.zero_grad()
        F.cross_entropy(model(image), target).backward()
        optimizer.step()
    accuracy = (model(image).argmax(dim=1) == target).double().mean()
    assert model(image).shape == (4, 2, *shape)
    assert accuracy > 0.95


def test_planar_models_reject_wrong_inputs():
    with pytest.raises(
        ValueError, match=r"expected input of shape \(N, 1, H, W\), got \(2, 3, 8, 8\)"
    ):
        PlanarCNN()(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="at least 8"):
        PlanarUNet(depth=3)(torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="width to be a positive int"):
        PlanarCNN(width=0)


def test_registry_builds_by_name_and_rejects_unknown_names_and_options():
    assert {"planar-cnn", "planar-unet"} <= set(available_models())
    with pytest.raises(ValueError, match="unknown model 'nope'; expected one of .*planar-cnn"):
        build_model("nope")
    with pytest.raises(ValueError, match="unknown option 'depth' for model 'planar-cnn'"):
        build_model("planar-cnn", depth=3)
    assert build_model("planar-cnn", width=3, n_classes=7).head.out_features == 7


def test_register_model_refuses_to_reuse_a_name_and_fills_data_options():
    @register_model("test-linear")
    def linear(bandwidth: int = 2, n_classes: int = 3) -> torch.nn.Module:
        return torch.nn.Linear(4 * bandwidth**2, n_classes)

    try:
        with pytest.raises(ValueError, match="already registered"):

            @register_model("test-linear")
            def other() -> torch.nn.Module:
                return torch.nn.Identity()

        options = fill_data_options(
            "test-linear", {"n_classes": 5}, bandwidth=4, n_classes=9, in_channels=2
        )
        assert options == {"n_classes": 5, "bandwidth": 4}  # set options win; in_channels not taken
        assert build_model("test-linear", **options).weight.shape == (5, 64)
    finally:
        unregister_model("test-linear")
    assert "test-linear" not in available_models()
