"""Fixtures of the training tests: a config for the tiny synthetic spheres of tiny_spheres.py."""

from __future__ import annotations

import pytest


@pytest.fixture
def tiny_config():
    """A config for a small planar CNN on the bandwidth-4 synthetic data."""
    from equisphere.training.config import config_from_dict

    def make(tmp_path, task="classification", **sections):
        raw = {
            "model": {
                "name": "planar-cnn" if task == "classification" else "planar-unet",
                "options": {"width": 4} if task == "classification" else {"width": 4, "depth": 2},
            },
            "data": {"task": task, "bandwidth": 4, "batch_size": 16},
            "trainer": {
                "name": "tiny",
                "runs_dir": str(tmp_path / "runs"),
                "max_epochs": 2,
                "progress_bar": False,
                "log_every_n_steps": 1,
                "accelerator": "cpu",
            },
            "optim": {"lr": 0.01},
        }
        for section, values in sections.items():
            raw.setdefault(section, {}).update(values)
        return config_from_dict(raw)

    return make


@pytest.fixture
def tiny_s2cnn():
    """Registers "test-s2cnn-tiny": an S2CNN classifier at bandwidth 4 -> 3 -> 2 (a second)."""
    from equisphere.models import register_model
    from equisphere.models.registry import unregister_model
    from equisphere.models.s2cnn import S2CNNClassifier

    def factory(in_channels: int = 1, n_classes: int = 4) -> S2CNNClassifier:
        return S2CNNClassifier(in_channels, n_classes, bandwidths=(4, 3, 2), channels=(4, 8))

    register_model("test-s2cnn-tiny")(factory)
    yield "test-s2cnn-tiny"
    unregister_model("test-s2cnn-tiny")
