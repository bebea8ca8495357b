"""Evaluate a trained checkpoint: accuracy or mIoU on upright and rotated test spheres,
and how far its outputs are from invariant (classifiers) or equivariant (segmenters).

Evaluation runs a plain loop in eval mode under ``no_grad``: it writes no files
and needs no Trainer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from equisphere.models import count_parameters
from equisphere.training.module import SphericalTask, metric_name
from equisphere.training.trainer import build_datamodule

__all__ = [
    "evaluate_checkpoint",
    "evaluate_model",
    "load_task",
    "measure_equivariance",
    "test_loader",
]

logger = logging.getLogger(__name__)


def short_reason(error: BaseException) -> str:
    """The first sentence of an error's message, with its type where the text alone is cryptic."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reason = lines[0].split(". ")[0].rstrip(".") if lines else ""
    if " " not in reason:  # e.g. a bare key or number from the unpickler
        reason = f"not a PyTorch file ({type(error).__name__} {reason})".replace(" )", ")")
    return reason


def read_checkpoint(checkpoint: str | Path, command: str) -> dict:
    """The payload of a checkpoint that ``command`` wrote, read without running pickled code.

    Raises
    ------
    FileNotFoundError
        If ``checkpoint`` does not exist.
    ValueError
        If torch cannot read it as a checkpoint.
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {str(path)!r} not found; give the path of a .ckpt file written by "
            f"'{command}' (in <run folder>/checkpoints/)"
        )
    try:
        # weights_only: plain tensors and containers, never arbitrary pickled code.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds on a corrupt or foreign file
        raise ValueError(
            f"{str(path)!r}: not a checkpoint written by equisphere (expected a .ckpt file from "
            f"`{command}`): {short_reason(error)}"
        ) from None


def load_task(checkpoint: str | Path, map_location: str | torch.device = "cpu") -> SphericalTask:
    """Load a :class:`SphericalTask` from a checkpoint written by ``equisphere train``.

    Raises
    ------
    FileNotFoundError
        If ``checkpoint`` does not exist.
    ValueError
        If the file is not a Lightning checkpoint of a SphericalTask.
    """
    path = Path(checkpoint)
    payload = read_checkpoint(path, "equisphere train")
    hparams = payload.get("hyper_parameters") if isinstance(payload, dict) else None
    if not isinstance(hparams, dict) or "config" not in hparams or "state_dict" not in payload:
        raise ValueError(
            f"{str(path)!r} is not an equisphere training checkpoint "
            "(no 'config' among its hyper-parameters)"
        )
    task = SphericalTask(**hparams)
    task.load_state_dict(payload["state_dict"])
    return task.to(map_location).eval()


def evaluate_model(
    task: SphericalTask, loader: Iterable[tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, Any]:
    """Loss and headline metric of ``task`` over ``loader``.

    Returns
    -------
    dict
        ``count`` (samples), ``loss`` (mean cross-entropy, area-weighted for
        segmentation), the metric (``accuracy`` or ``miou``, a fraction in
        [0, 1]), and ``confusion`` (classification: ``[true][predicted]``
        counts) or ``per_class_iou`` (segmentation; None for absent classes).
    """
    device = task.area_weights.device
    metric = task.make_metric().to(device)
    confusion = torch.zeros(task.n_classes, task.n_classes, dtype=torch.long)
    total_loss, count = 0.0, 0
    was_training = task.training
    task.eval()
    with torch.no_grad():
        for signal, target in loader:
            signal, target = signal.to(device), target.to(device)
            logits = task(signal)
            total_loss += float(task.loss(logits, target)) * signal.shape[0]
            count += signal.shape[0]
            prediction = logits.argmax(dim=1)
            metric.update(prediction, target)
            if task.task == "classification":
                pairs = target.cpu() * task.n_classes + prediction.cpu()
                confusion += torch.bincount(pairs, minlength=task.n_classes**2).view_as(confusion)
    task.train(was_training)
    if count == 0:
        raise ValueError("expected a non-empty test set, got no samples")
    result: dict[str, Any] = {
        "count": count,
        "loss": total_loss / count,
        metric_name(task.task): float(metric.compute()),
    }
    if task.task == "classification":
        result["confusion"] = confusion.tolist()
    else:
        result["per_class_iou"] = [None if v != v else float(v) for v in metric.per_class()]
    return result


def test_loader(
    task: SphericalTask,
    rotation: str,
    test_size: int | None = None,
    source: str | None = None,
    batch_size: int | None = None,
) -> DataLoader:
    """The test loader of the data ``task`` was trained on, with test spheres ``rotation``."""
    config = task.config
    data = replace(
        config.data,
        test_rotation=rotation,
        test_size=test_size if test_size is not None else config.data.test_size,
        source=source if source is not None else config.data.source,
        batch_size=batch_size or config.data.batch_size,
    )
    datamodule = build_datamodule(replace(config, data=data))
    datamodule.setup("test")
    return datamodule.test_dataloader()


def evaluate_checkpoint(
    checkpoint: str | Path,
    loaders: Mapping[str, Iterable] | None = None,
    rotations: Iterable[str] = ("NR", "R"),
    test_size: int | None = None,
    source: str | None = None,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Evaluate a checkpoint on upright (NR) and rotated (R) test spheres.

    Parameters
    ----------
    checkpoint : path
    loaders : mapping of name to loader, optional
        Test sets to use; default the NR and R test sets of the data in the
        checkpoint's config (``rotations``), ``test_size`` and ``source``
        overriding the config's.
    device : str or torch.device

    Returns
    -------
    dict
        ``checkpoint``, ``model``, ``parameters``, ``task``, ``metric`` and,
        for each test set, the dict of :func:`evaluate_model`.
    """
    task = load_task(checkpoint, map_location=device)
    if loaders is None:
        loaders = {
            rotation: test_loader(task, rotation, test_size, source, batch_size)
            for rotation in rotations
        }
    result: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "model": task.config.model.name,
        "parameters": count_parameters(task.model),
        "task": task.task,
        "metric": metric_name(task.task),
    }
    for name, loader in loaders.items():
        result[name] = evaluate_model(task, loader)
        logger.debug("%s on %s: %s", checkpoint, name, result[name][result["metric"]])
    return result


def measure_equivariance(
    task: SphericalTask, signals: torch.Tensor, n_rotations: int = 8, seed: int = 0
) -> dict[str, Any]:
    """Invariance (classifiers) or equivariance (segmenters) error over random rotations.

    The signals are first projected onto the band ``l < B`` of the model's
    grid, so that rotating them through their harmonic coefficients is exact
    and the error measured is the model's alone. For a classifier, each
    rotated input's logits are compared with the upright ones; for a
    segmenter, the logit maps are rotated back (bilinear resampling, which
    adds its own interpolation error) and compared.

    Parameters
    ----------
    task : SphericalTask
    signals : torch.Tensor, shape (N, C, 2B, 2B)
    n_rotations : int
        Number of uniform random rotations.
    seed : int
        Seed of the rotations.

    Returns
    -------
    dict
        ``relative_error`` (max over rotations of ``||error|| / ||output||``),
        ``mean_relative_error``, ``max_error``, ``mean_error``,
        ``n_rotations``, ``n_samples`` and ``agreement``: the fraction of
        (sample, rotation) pairs whose predicted class (classifier) or grid
        point labels (segmenter, area-weighted) equal the upright ones.
    """
    from equisphere.so3 import random_rotation_matrices
    from equisphere.sphere import EquiangularGrid
    from equisphere.testing import SphereRotation, check_equivariance, invariant

    task.check_signal(signals)
    device = task.area_weights.device
    grid = EquiangularGrid(task.bandwidth)
    exact = SphereRotation(grid, method="harmonic")
    signals = exact(signals.double().cpu(), torch.eye(3, dtype=torch.float64))  # band-limit
    rotations = random_rotation_matrices(n_rotations, seed=seed, dtype=torch.float64)

    outputs: list[torch.Tensor] = []

    def run(batch: torch.Tensor) -> torch.Tensor:
        logits = task(batch.to(device=device, dtype=torch.float32)).double().cpu()
        outputs.append(logits)
        return logits

    was_training = task.training
    task.eval()
    if task.task == "classification":
        output_action = invariant
    else:
        output_action = SphereRotation(grid, method="interpolate")
    report = check_equivariance(run, signals, rotations, exact, output_action)
    task.train(was_training)

    upright = outputs[0].argmax(dim=1)
    if task.task == "classification":
        agreement = torch.stack([o.argmax(dim=1) == upright for o in outputs[1:]]).double().mean()
    else:
        agree = [
            (output_action(o, r.T).argmax(dim=1) == upright).double()
            for o, r in zip(outputs[1:], rotations, strict=True)
        ]
        area = grid.weights / grid.weights.sum()
        agreement = (torch.stack(agree) * area).sum(dim=(-2, -1)).mean()
    return {
        "relative_error": report.relative_error,
        "mean_relative_error": report.mean_relative_error,
        "max_error": report.max_error,
        "mean_error": report.mean_error,
        "agreement": float(agreement),
        "n_rotations": n_rotations,
        "n_samples": int(signals.shape[0]),
    }
