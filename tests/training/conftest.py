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
