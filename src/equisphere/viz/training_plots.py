"""Plots of training runs: learning curves from Lightning's CSV log, confusion matrices.

Figures are built on ``matplotlib.figure.Figure`` (no pyplot state, no
display needed) and written to new files only: an existing file is never
overwritten.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "plot_confusion_matrix",
    "plot_sample_predictions",
    "plot_training_curves",
    "read_metrics_csv",
]


def read_metrics_csv(path: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Columns of a Lightning ``metrics.csv`` as ``name -> [(epoch, value), ...]``.

    Rows where a column is empty are skipped, so each series holds only the
    epochs (or steps, for ``*_step`` columns) where it was logged.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"metrics file {str(path)!r} not found")
    series: dict[str, list[tuple[int, float]]] = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            for name, text in row.items():
                if name in ("epoch", "step") or text in ("", None):
                    continue
                position = int(row["step"] if name.endswith("_step") else row["epoch"])
                series.setdefault(name, []).append((position, float(text)))
    return series


def plot_training_curves(
    runs: Mapping[str, str | Path], path: str | Path, metric: str = "accuracy"
) -> Path:
    """Loss and ``metric`` per epoch, train and validation, of one or several runs.

    Parameters
    ----------
    runs : mapping of label to path
        ``metrics.csv`` of each run (``<run folder>/logs/metrics.csv``).
    path : path
        PNG file to write; must not exist.
    metric : str
        Metric column suffix, ``"accuracy"`` or ``"miou"``.

    Returns
    -------
    Path
        ``path``.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(10, 4), layout="constrained")
    loss_axes, metric_axes = figure.subplots(1, 2)
    for index, (label, csv_path) in enumerate(runs.items()):
        series = read_metrics_csv(csv_path)
        colour = f"C{index}"
        for stage, style in (("train", "-"), ("val", "--")):
            loss_name = "train/loss_epoch" if stage == "train" else "val/loss"
            for axes, name in ((loss_axes, loss_name), (metric_axes, f"{stage}/{metric}")):
                if name in series:
                    epochs, values = zip(*series[name], strict=True)
                    scale = 100 if axes is metric_axes else 1
                    axes.plot(
                        [e + 1 for e in epochs],
                        [scale * v for v in values],
                        style,
                        color=colour,
                        marker="o",
                        markersize=3,
                        label=f"{label} ({stage})",
                    )
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    metric_axes.set(xlabel="epoch", ylabel=f"{metric} (%)", title=metric)
    for axes in (loss_axes, metric_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    return _save(figure, path)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]],
    path: str | Path,
    class_names: Sequence[str] | None = None,
    title: str = "confusion matrix",
) -> Path:
    """Row-normalised confusion matrix (rows: true class, columns: predicted), with counts.

    Parameters
    ----------
    matrix : (n_classes, n_classes) counts, ``matrix[true][predicted]``
    path : path
        PNG file to write; must not exist.
    class_names : sequence of str, optional
    title : str
    """
    import numpy as np
    from matplotlib.figure import Figure

    counts = np.asarray(matrix, dtype=np.int64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"expected a square confusion matrix, got shape {counts.shape}")
    n_classes = counts.shape[0]
    names = list(class_names) if class_names is not None else [str(k) for k in range(n_classes)]
    if len(names) != n_classes:
        raise ValueError(f"expected {n_classes} class names, got {len(names)}")
    totals = counts.sum(axis=1, keepdims=True)
    fractions = counts / np.maximum(totals, 1)

    size = max(4.0, 0.55 * n_classes + 2)
    figure = Figure(figsize=(size, size * 0.9), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    for (true, predicted), count in np.ndenumerate(counts):
        if count:
            dark = fractions[true, predicted] > 0.5
            axes.text(
                predicted,
                true,
                str(count),
                ha="center",
                va="center",
                fontsize="x-small",
                color="white" if dark else "black",
            )
    axes.set_xticks(range(n_classes), names, rotation=45, ha="right", fontsize="small")
    axes.set_yticks(range(n_classes), names, fontsize="small")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    axes.set(xlabel="predicted", ylabel="true", title=f"{title} (accuracy {100 * accuracy:.1f}%)")
    figure.colorbar(image, ax=axes, shrink=0.8, label="fraction of true class")
    return _save(figure, path)


def plot_sample_predictions(
    rows: Mapping[str, tuple[Sequence, Sequence[int]]],
    predictions: Mapping[str, Mapping[str, Sequence[int]]],
    path: str | Path,
    class_names: Sequence[str],
) -> Path:
    """Spheres (Mollweide maps) with their true class and each model's prediction.

    Parameters
    ----------
    rows : mapping of row title to (signals, labels)
        E.g. ``{"NR": (signals, labels), "R": (...)}``; signals ``(2B, 2B)`` each.
    predictions : mapping of model name to {row title: predicted classes}
    path : path
        PNG file to write; must not exist.
    class_names : sequence of str
    """
    from equisphere.viz.sphere import new_figure, plot_mollweide

    columns = max(len(labels) for _, labels in rows.values())
    figure = new_figure(2.9 * columns, 2.2 * len(rows) + 0.3)
    for row, (row_name, (signals, labels)) in enumerate(rows.items()):
        for column, (signal, label) in enumerate(zip(signals, labels, strict=True)):
            axes = figure.add_subplot(
                len(rows), columns, row * columns + column + 1, projection="mollweide"
            )
            lines = [f"{row_name}: {class_names[int(label)]}"]
            for model, predicted in predictions.items():
                guess = int(predicted[row_name][column])
                mark = "right" if guess == int(label) else "wrong"
                lines.append(f"{model}: {class_names[guess]} ({mark})")
            plot_mollweide(signal, axes, vmin=0, vmax=1, title="\n".join(lines))
    return _save(figure, path)


def _save(figure, path: str | Path) -> Path:
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{str(path)!r} exists already; plots never overwrite files")
    with path.open("xb") as file:
        figure.savefig(file, format="png", dpi=120, bbox_inches="tight")
    return path
