"""Sheets of samples from spherical data sets, written as PNG files.

A classification sheet shows each sample as a Mollweide map and an
orthographic view centred on where the image was placed (``R (0, 0, -1)``, with
the image's upward direction ``R (0, -1, 0)`` drawn up, so the object appears
upright and unmirrored), titled with its class in that class's label colour.
A segmentation sheet shows each sphere's signal and label map as Mollweide maps
and an orthographic view of the signal with the labels over it, centred on the
first object, with a legend of the 11 classes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from equisphere.viz.sphere import (
    LABEL_COLOURS,
    add_label_legend,
    new_figure,
    plot_mollweide,
    plot_orthographic,
)

__all__ = ["classification_sheet", "save_figure", "segmentation_sheet"]


def _indices(length: int, count: int, indices: Sequence[int] | None) -> list[int]:
    if indices is None:
        indices = range(min(count, length))
    indices = [int(i) for i in indices]
    if not indices or any(not 0 <= i < length for i in indices):
        raise ValueError(
            f"expected at least one sample index in [0, {length}), got {indices if indices else []}"
        )
    return indices


def save_figure(
    figure, path: str | os.PathLike[str], overwrite: bool = False, dpi: int = 110
) -> Path:
    """Save a Figure as PNG; refuse to replace an existing file unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"refusing to overwrite existing file {str(path)!r}; choose another name or ask to "
            "overwrite (command line: --overwrite)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, format="png")
    return path


def classification_sheet(
    dataset, count: int = 8, indices: Sequence[int] | None = None, columns: int = 2
):
    """A Figure with ``count`` samples of a :class:`SphericalClassificationDataset`.

    Parameters
    ----------
    dataset : SphericalClassificationDataset
    count : int
        Number of samples (the first ones), unless ``indices`` are given.
    indices : sequence of int, optional
    columns : int
        Samples per row.

    Returns
    -------
    matplotlib.figure.Figure
    """
    chosen = _indices(len(dataset), count, indices)
    rows = -(-len(chosen) // columns)
    figure = new_figure(5.6 * columns, 2.3 * rows + 0.4)
    cells = np.atleast_1d(figure.subfigures(rows, columns)).ravel()

    for cell, index in zip(cells, chosen, strict=False):
        signal, label = dataset[index]
        rotation = dataset.rotations[index].to(torch.float64)
        mollweide_ax = cell.add_subplot(1, 2, 1, projection="mollweide")
        ortho_ax = cell.add_subplot(1, 2, 2)
        plot_mollweide(signal[0], mollweide_ax, vmin=0, vmax=1)
        plot_orthographic(signal[0], -rotation[:, 2], -rotation[:, 1], ortho_ax, vmin=0, vmax=1)
        name = dataset.class_names[int(label)]
        cell.suptitle(f"#{index}: {name}", color=LABEL_COLOURS[int(label) + 1], fontsize=10)
    figure.suptitle(
        f"Spherical classification, bandwidth {dataset.bandwidth} "
        f"({dataset.options.get('rotation', '?')}, {dataset.options.get('split', '?')})",
        fontsize=11,
    )
    return figure


def segmentation_sheet(dataset, count: int = 4, indices: Sequence[int] | None = None):
    """A Figure with ``count`` spheres of a :class:`SphericalSegmentationDataset`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    chosen = _indices(len(dataset), count, indices)
    figure = new_figure(12, 2.4 * len(chosen) + 0.8)
    cells = np.atleast_1d(figure.subfigures(len(chosen), 1)).ravel()
    num_labels = len(dataset.class_names)

    for cell, index in zip(cells, chosen, strict=False):
        signal, target = dataset[index]
        rotation = dataset.object_rotations[index, 0].to(torch.float64)
        axes = [
            cell.add_subplot(1, 3, 1, projection="mollweide"),
            cell.add_subplot(1, 3, 2, projection="mollweide"),
            cell.add_subplot(1, 3, 3),
        ]
        plot_mollweide(signal[0], axes[0], vmin=0, vmax=1, title="signal")
        plot_mollweide(target, axes[1], labels=True, num_labels=num_labels, title="labels")
        plot_orthographic(
            signal[0],
            -rotation[:, 2],
            -rotation[:, 1],
            axes[2],
            vmin=0,
            vmax=1,
            overlay=target,
            num_labels=num_labels,
            title="first object",
        )
        present = [dataset.class_names[int(c) + 1] for c in dataset.object_classes[index] if c >= 0]
        cell.suptitle(f"#{index}: {', '.join(present)}", fontsize=10)
    add_label_legend(figure, dataset.class_names)
    return figure
