"""The Lightning module: loss, optimisation, augmentation, checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tiny_spheres import (
    TINY_EQUIVARIANT,
    synthetic_classification,
    synthetic_segmentation,
    synthetic_shapes,
)

from equisphere.sphere import EquiangularGrid
from equisphere.training.module import SphericalTask


@pytest.mark.parametrize("task", ["classification", "segmentation"])
@pytest.mark.parametrize("kind", ["planar", "equivariant"])
def test_training_steps_reduce_the_loss_on_a_fixed_batch(
    tiny_config, tiny_s2cnn, tmp_path, task, kind
):
    torch.manual_seed(0)
    make = synthetic_classification if task == "classification" else synthetic_segmentation
    if kind == "equivariant" and task == "classification":
        make = synthetic_shapes  # an invariant classifier cannot tell caps apart by position
    signal, target = make(16, 4, 4, seed=0)
    model = {} if kind == "planar" else {"model": TINY_EQUIVARIANT[task]}
    module = SphericalTask(tiny_config(tmp_path, task, **model), n_classes=4)
    module.log = lambda *args, **kwargs: None  # no trainer attached
    optimizer = module.configure_optimizers()
    losses = []
    for step in range(30):
        optimizer.zero_grad()
        loss = module.training_step((signal, target), step)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_segmentation_loss_weights_grid_points_by_area(tiny_config, tmp_path):
    module = SphericalTask(tiny_config(tmp_path, "segmentation"), n_classes=3)
    logits = torch.randn(2, 3, 8, 8)
    target = torch.randint(0, 3, (2, 8, 8))
    weights = EquiangularGrid(4).weights.float()
    per_point = F.cross_entropy(logits, target, reduction="none")
    expected = (per_point * weights).sum() / (2 * weights.sum())
    torch.testing.assert_close(module.loss(logits, target), expected)


def test_rotation_augmentation_changes_only_training_inputs(tiny_config, tmp_path):
    signal, target = synthetic_classification(8, 4, 4, seed=0)
    seen = []
    for augment in ("none", "rotation"):
        module = SphericalTask(tiny_config(tmp_path, data={"augment": augment}), n_classes=4)
        module.log = lambda *args, **kwargs: None  # no trainer attached
        hook = module.model.register_forward_pre_hook(lambda m, inputs: seen.append(inputs[0]))
        module.training_step((signal, target), 0)
        module.validation_step((signal, target), 0)
        hook.remove()
    plain_train, plain_val, rotated_train, rotated_val = seen
    assert torch.equal(plain_train, signal) and torch.equal(plain_val, signal)
    assert torch.equal(rotated_val, signal)
    assert (rotated_train - signal).abs().mean() > 0.05
    # A rotation moves values around but keeps their distribution roughly.
    assert abs(float(rotated_train.mean() - signal.mean())) < 0.05


def test_wrong_grid_is_rejected_with_the_expected_shape(tiny_config, tmp_path):
    module = SphericalTask(tiny_config(tmp_path), n_classes=4)
    with pytest.raises(ValueError, match=r"expected signals of shape \(N, 1, 8, 8\) .*bandwidth 4"):
        module(torch.zeros(2, 1, 60, 60))


def test_optimizer_and_schedule_follow_the_config(tiny_config, tmp_path):
    config = tiny_config(tmp_path, optim={"optimizer": "sgd", "lr": 0.5, "momentum": 0.7})
    optimizer = SphericalTask(config, n_classes=4).configure_optimizers()
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.defaults["lr"] == 0.5 and optimizer.defaults["momentum"] == 0.7
    assert SphericalTask(tiny_config(tmp_path), n_classes=4).n_classes == 4
    assert SphericalTask(tiny_config(tmp_path, "segmentation")).n_classes == 11
