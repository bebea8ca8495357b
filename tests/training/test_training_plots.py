"""Plots of training runs: reading Lightning's CSV log, writing figures to new files only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from equisphere.viz.training_plots import (
    plot_confusion_matrix,
    plot_sample_predictions,
    plot_training_curves,
    read_metrics_csv,
)

CSV = """epoch,step,train/accuracy,train/loss_epoch,train/loss_step,val/accuracy,val/loss
0,9,,,2.1,,
0,19,,,1.9,,
0,19,,,,0.40,1.7
0,19,0.35,2.0,,,
1,29,,,1.2,,
1,39,,,,0.65,1.1
1,39,0.60,1.3,,,
"""


def write_csv(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(CSV)
    return path


def test_metrics_csv_series_by_epoch_and_by_step(tmp_path):
    series = read_metrics_csv(write_csv(tmp_path))
    assert series["val/accuracy"] == [(0, 0.40), (1, 0.65)]
    assert series["train/loss_epoch"] == [(0, 2.0), (1, 1.3)]
    assert series["train/loss_step"] == [(9, 2.1), (19, 1.9), (29, 1.2)]  # steps, not epochs
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_metrics_csv(tmp_path / "missing.csv")


def test_figures_are_written_once_and_never_overwritten(tmp_path):
    csv_path = write_csv(tmp_path)
    curves = plot_training_curves({"a": csv_path, "b": csv_path}, tmp_path / "curves.png")
    matrix = plot_confusion_matrix([[5, 1], [2, 7]], tmp_path / "cm.png", class_names=["x", "y"])
    grid = torch.linspace(0, 1, 64).reshape(8, 8)
    samples = plot_sample_predictions(
        {"NR": ([grid, grid], [0, 1]), "R": ([grid.T, grid.T], [1, 1])},
        {"model": {"NR": [0, 0], "R": [1, 0]}},
        tmp_path / "samples.png",
        class_names=["x", "y"],
    )
    for path in (curves, matrix, samples):
        pixels = np.asarray(Image.open(path).convert("L"), dtype=float)
        assert pixels.shape[0] > 100 and pixels.std() > 10  # a drawing, not a blank page
        before = path.read_bytes()
        with pytest.raises(FileExistsError, match="never overwrite"):
            plot_confusion_matrix([[1]], path)
        assert path.read_bytes() == before


def test_confusion_matrix_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="square confusion matrix, got shape \\(2, 3\\)"):
        plot_confusion_matrix([[1, 2, 3], [4, 5, 6]], tmp_path / "a.png")
    with pytest.raises(ValueError, match="expected 2 class names, got 1"):
        plot_confusion_matrix([[1, 0], [0, 1]], tmp_path / "b.png", class_names=["x"])
    assert not list(tmp_path.iterdir())
