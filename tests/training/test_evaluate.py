"""Evaluation of checkpoints: numbers checked by hand on tiny fixed sets."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from equisphere.models import register_model
from equisphere.models.registry import unregister_model
from equisphere.sphere import EquiangularGrid
from equisphere.training.config import config_from_dict
from equisphere.training.evaluate import evaluate_checkpoint, evaluate_model, load_task
from equisphere.training.module import SphericalTask

N_CLASSES = 3


class Lookup(nn.Module):
    """Class scores -10 (v - c / 2)^2 of the mean value v (classifier) or each value (segmenter)."""

    def __init__(self, dense: bool = False) -> None:
        super().__init__()
        self.dense = dense
        self.scale = nn.Parameter(torch.tensor(10.0))

    def forward(self, signal):
        value = signal[:, :1] if self.dense else signal.mean(dim=(1, 2, 3))[:, None]
        centres = torch.arange(N_CLASSES, dtype=signal.dtype) / (N_CLASSES - 1)
        shape = (1, N_CLASSES, 1, 1) if self.dense else (1, N_CLASSES)
        return -self.scale * (value - centres.view(shape)) ** 2


@pytest.fixture
def lookup_task():
    register_model("test-lookup")(Lookup)

    def make(task):
        config = config_from_dict(
            {
                "model": {"name": "test-lookup", "options": {"dense": task == "segmentation"}},
                "data": {"task": task, "bandwidth": 2},
            }
        )
        return SphericalTask(config, n_classes=N_CLASSES)

    yield make
    unregister_model("test-lookup")


def hand_cross_entropy(scores, label):
    return math.log(sum(math.exp(s) for s in scores)) - scores[label]


def test_classification_accuracy_loss_and_confusion_by_hand(lookup_task):
    task = lookup_task("classification")
    values = [0.0, 0.1, 0.45, 0.6, 0.95, 1.0, 0.3]  # predicted classes 0 0 1 1 2 2 1
    labels = [0, 1, 1, 2, 2, 2, 0]
    signal = torch.tensor(values)[:, None, None, None].expand(-1, 1, 4, 4).contiguous()
    loader = [(signal[:4], torch.tensor(labels[:4])), (signal[4:], torch.tensor(labels[4:]))]

    result = evaluate_model(task, loader)

    predicted = [0, 0, 1, 1, 2, 2, 1]
    assert result["count"] == 7
    assert result["accuracy"] == pytest.approx(4 / 7)
    scores = [[-10 * (v - c / 2) ** 2 for c in range(3)] for v in values]
    loss = sum(hand_cross_entropy(s, y) for s, y in zip(scores, labels, strict=True)) / 7
    assert result["loss"] == pytest.approx(loss, rel=1e-6)
    confusion = np.zeros((3, 3), dtype=int)
    for y, p in zip(labels, predicted, strict=True):
        confusion[y, p] += 1
    assert result["confusion"] == confusion.tolist()


def test_segmentation_miou_by_hand(lookup_task):
    task = lookup_task("segmentation")
    generator = torch.Generator().manual_seed(0)
    signal = torch.rand(3, 1, 4, 4, generator=generator)
    target = torch.randint(0, 3, (3, 4, 4), generator=generator)

    result = evaluate_model(task, [(signal, target)])

    predicted = (signal[:, 0] * 2).round().long().numpy()
    weights = EquiangularGrid(2).weights.numpy()
    ious = []
    for c in range(3):
        p, t = predicted == c, target.numpy() == c
        ious.append((weights * (p & t)).sum() / (weights * (p | t)).sum())
    assert result["miou"] == pytest.approx(np.mean(ious), abs=1e-12)
    assert result["per_class_iou"] == pytest.approx(ious, abs=1e-12)


def test_evaluate_checkpoint_reports_every_test_set(lookup_task, tmp_path):
    task = lookup_task("classification")
    path = tmp_path / "lookup.ckpt"
    torch.save({"state_dict": task.state_dict(), "hyper_parameters": dict(task.hparams)}, path)
    upright = torch.full((4, 1, 4, 4), 1.0)
    result = evaluate_checkpoint(
        path,
        loaders={
            "NR": [(upright, torch.tensor([2, 2, 2, 2]))],
            "R": [(upright, torch.tensor([2, 0, 0, 0]))],
        },
    )
    assert result["model"] == "test-lookup" and result["parameters"] == 1
    assert (result["NR"]["accuracy"], result["R"]["accuracy"]) == (1.0, 0.25)


def test_load_task_rejects_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="'nope.ckpt' not found; give the path of a .ckpt"):
        load_task("nope.ckpt")
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    expected = (
        "not a checkpoint written by equisphere (expected a .ckpt file from `equisphere train`)"
    )
    with pytest.raises(ValueError, match=re.escape(f"notes.ckpt': {expected}: ")):
        load_task(text)
    # An array file fails torch's weights-only check: its first sentence only, not the essay.
    array = tmp_path / "array.npy"
    np.save(array, np.zeros(3))
    with pytest.raises(ValueError) as raised:
        load_task(array)
    message = str(raised.value)
    assert message.startswith(f"{str(array)!r}: {expected}: ") and "weights" in message.lower()
    assert "\n" not in message and len(message) < len(str(array)) + 160, message
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(ValueError, match="not an equisphere training checkpoint"):
        load_task(other)


class Moments(nn.Module):
    """Quadrature integrals of f and f^2: exactly rotation-invariant for band-limited f."""

    def __init__(self, bandwidth: int = 4) -> None:
        super().__init__()
        self.register_buffer("weights", EquiangularGrid(bandwidth).weights.float())
        self.scale = nn.Parameter(torch.ones(2))

    def forward(self, signal):
        moments = [(signal[:, 0] ** k * self.weights).sum(dim=(-2, -1)) for k in (1, 2)]
        return torch.stack(moments, dim=1) * self.scale


def test_equivariance_of_an_invariant_and_of_a_pointwise_model():
    from equisphere.training.evaluate import measure_equivariance

    register_model("test-moments")(Moments)
    register_model("test-lookup")(Lookup)
    try:
        # Degree of f^2 is below 2B, so the quadrature is exact and the moments invariant.
        config = {"model": {"name": "test-moments"}, "data": {"bandwidth": 4}}
        task = SphericalTask(config_from_dict(config), n_classes=2)
        signals = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
        result = measure_equivariance(task, signals, n_rotations=3)
        assert result["relative_error"] < 1e-5
        assert result["agreement"] == 1.0 and result["n_samples"] == 3

        # A pointwise map commutes with rotations; only the resampling back adds error.
        config = {
            "model": {"name": "test-lookup", "options": {"dense": True}},
            "data": {"task": "segmentation", "bandwidth": 8},
        }
        task = SphericalTask(config_from_dict(config), n_classes=N_CLASSES)
        grid = EquiangularGrid(8)
        smooth = (0.5 + 0.4 * torch.sin(grid.colatitude) * torch.sin(grid.longitude)).float()  # y
        result = measure_equivariance(task, smooth[None, None], n_rotations=2)
        assert result["relative_error"] < 0.03  # measured 0.012: bilinear resampling at B = 8
        assert result["agreement"] > 0.99
    finally:
        unregister_model("test-moments")
        unregister_model("test-lookup")
