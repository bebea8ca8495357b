"""Train, load and evaluate fisheye segmenters (:mod:`equisphere.training.fisheye`).

Training writes a run folder exactly as ``equisphere train`` does
(:mod:`equisphere.training.trainer`: ``config.yaml``, ``checkpoints/`` with
``last.ckpt`` and the best by ``val/miou_image``, ``logs/metrics.csv``,
``tensorboard/``). Evaluation is a plain loop in eval mode that writes nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader

from equisphere.cameras import Camera
from equisphere.models import count_parameters
from equisphere.training.config import Config, save_config
from equisphere.training.fisheye import FisheyeDataModule, FisheyeSegmentationTask
from equisphere.training.fisheye_metrics import WeightedIoU
from equisphere.training.trainer import (
    RUN_DIR_VARIABLE,
    TrainResult,
    create_run_dir,
    resolve_precision,
)

__all__ = ["evaluate_fisheye", "fisheye_test_loaders", "load_fisheye_task", "train_fisheye"]

logger = logging.getLogger(__name__)


def train_fisheye(
    config: Config,
    resume: str | Path | None = None,
    datamodule: FisheyeDataModule | None = None,
    callbacks: list[L.Callback] | None = None,
) -> TrainResult:
    """Train the fisheye segmenter of ``config`` in a new run folder.

    Raises
    ------
    FileNotFoundError
        If ``resume`` does not exist.
    FileExistsError
        If the run folder exists already.
    """
    if resume is not None and not Path(resume).is_file():
        raise FileNotFoundError(f"checkpoint {str(resume)!r} to resume from not found")
    L.seed_everything(config.trainer.seed, workers=True, verbose=False)
    datamodule = datamodule if datamodule is not None else FisheyeDataModule(config)
    datamodule.prepare_data()
    task = FisheyeSegmentationTask(config, datamodule.n_classes, list(datamodule.class_names))

    run_dir = create_run_dir(config.trainer.runs_dir, config.trainer.name)
    if rank_zero_only.rank == 0:
        save_config(config, run_dir / "config.yaml")
    data, trainer_config = config.data, config.trainer
    validates = data.val_size != 0 and (data.val_size is not None or data.val_fraction > 0)
    # The latest state gets a checkpoint of its own, rewritten every epoch: Lightning 2.6
    # refreshes save_last only when a new best is saved, which would leave it behind.
    latest = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="last",
        monitor=None,
        save_top_k=1,
        enable_version_counter=False,
    )
    checkpoints = [latest]
    if validates:
        checkpoints.append(
            ModelCheckpoint(
                dirpath=run_dir / "checkpoints",
                filename="best-epoch{epoch:03d}",
                auto_insert_metric_name=False,
                monitor="val/miou_image",
                mode="max",
                save_top_k=trainer_config.save_top_k,
            )
        )
    trainer = L.Trainer(
        default_root_dir=run_dir,
        max_epochs=trainer_config.max_epochs,
        accelerator=trainer_config.accelerator,
        devices=trainer_config.devices,
        num_nodes=trainer_config.num_nodes,
        strategy=trainer_config.strategy,
        precision=resolve_precision(trainer_config.precision, trainer_config.accelerator),
        logger=[
            CSVLogger(save_dir=run_dir, name="logs", version=""),
            TensorBoardLogger(save_dir=run_dir, name="tensorboard", version=""),
        ],
        callbacks=[*checkpoints, *(callbacks or [])],
        enable_progress_bar=trainer_config.progress_bar,
        enable_model_summary=trainer_config.progress_bar,
        log_every_n_steps=trainer_config.log_every_n_steps,
        limit_train_batches=trainer_config.limit_train_batches,
        limit_val_batches=trainer_config.limit_val_batches if validates else 0,
        gradient_clip_val=trainer_config.gradient_clip_val,
        deterministic=trainer_config.deterministic,
    )
    os.environ[RUN_DIR_VARIABLE] = str(run_dir)
    start = time.perf_counter()
    try:
        trainer.fit(task, datamodule=datamodule, ckpt_path=resume)
    finally:
        os.environ.pop(RUN_DIR_VARIABLE, None)
    logger.debug("fisheye run %s trained in %.1f s", run_dir, time.perf_counter() - start)
    last = latest.best_model_path  # the only (so "best") checkpoint of the latest callback
    best = checkpoints[-1].best_model_path or last
    return TrainResult(
        run_dir=run_dir,
        best_checkpoint=Path(best) if best else None,
        last_checkpoint=Path(last) if last else None,
        metrics_csv=run_dir / "logs" / "metrics.csv",
        task=task,
        trainer=trainer,
    )


def load_fisheye_task(
    checkpoint: str | Path, map_location: str | torch.device = "cpu"
) -> FisheyeSegmentationTask:
    """A :class:`FisheyeSegmentationTask` from a checkpoint of :func:`train_fisheye`.

    Raises
    ------
    FileNotFoundError
        If ``checkpoint`` does not exist.
    ValueError
        If it is not a checkpoint of a fisheye segmenter.
    """
    from equisphere.training.evaluate import read_checkpoint

    path = Path(checkpoint)
    payload = read_checkpoint(path, "equisphere fisheye train")
    hparams = payload.get("hyper_parameters") if isinstance(payload, dict) else None
    if not isinstance(hparams, dict) or hparams.get("kind") != "fisheye-segmentation":
        raise ValueError(
            f"{str(path)!r} is not a fisheye segmentation checkpoint (written by "
            "'equisphere fisheye train'); for spherical checkpoints use 'equisphere evaluate'"
        )
    arguments = {key: hparams[key] for key in ("config", "n_classes", "class_names", "domain")}
    task = FisheyeSegmentationTask(**arguments)
    task.load_state_dict(payload["state_dict"])
    return task.to(map_location).eval()


def fisheye_test_loaders(
    task: FisheyeSegmentationTask,
    rotations: Iterable[str] = ("NR", "R"),
    test_size: int | None = None,
    batch_size: int | None = None,
) -> tuple[dict[str, DataLoader], list[Camera]]:
    """Test loaders of the data ``task`` was trained on, for each camera ``rotation``.

    With given folders (``data.options.test_root``) there is one set, named ``"test"``.

    Returns
    -------
    loaders : dict of name -> DataLoader
    cameras : list of Camera
        The table the loaders' camera indices point into.
    """
    config = task.config
    data = replace(
        config.data,
        test_size=test_size or config.data.test_size,
        batch_size=batch_size or config.data.batch_size,
    )
    datamodule = FisheyeDataModule(replace(config, data=data))
    if datamodule.options.train_root is not None:
        sets = {"test": datamodule.dataset("test")}
    else:
        sets = {rotation: datamodule.dataset("test", rotation) for rotation in rotations}
    loaders = {
        name: DataLoader(dataset, batch_size=data.batch_size, shuffle=False)
        for name, dataset in sets.items()
    }
    return loaders, datamodule.cameras


def evaluate_fisheye(
    task: FisheyeSegmentationTask, loaders: Mapping[str, Iterable], cameras: list[Camera]
) -> dict[str, Any]:
    """mIoU in the image and on the sphere, and per-class IoU, of ``task`` on each loader.

    Returns
    -------
    dict
        ``model``, ``domain``, ``parameters``, ``class_names`` and per loader name:
        ``count``, ``miou_image``, ``miou_sphere`` (fractions in [0, 1]),
        ``per_class_image`` and ``per_class_sphere`` (None for absent classes),
        ``seconds`` (wall time of the loop).
    """
    device = next(task.parameters()).device
    result: dict[str, Any] = {
        "model": task.config.model.name,
        "domain": task.domain,
        "parameters": count_parameters(task.model),
        "class_names": task.class_names,
    }
    for name, loader in loaders.items():
        image_metric = WeightedIoU(task.n_classes).to(device)
        sphere_metric = WeightedIoU(task.n_classes).to(device)
        count, start = 0, time.perf_counter()
        for images, labels, camera_indices in loader:
            for index in camera_indices.unique().tolist():
                chosen = camera_indices == index
                camera = cameras[index]
                group_labels = labels[chosen].to(device)
                prediction = task.predict(images[chosen].to(device), camera)
                image_metric.update(prediction.image_labels, group_labels, prediction.image_valid)
                sphere_targets = task.sphere_targets(group_labels, camera)
                sphere_metric.update(prediction.sphere_labels, sphere_targets, task.area)
                count += int(chosen.sum())
        if count == 0:
            raise ValueError(f"expected a non-empty test set {name!r}, got no samples")
        result[name] = {
            "count": count,
            "miou_image": float(image_metric.compute()),
            "miou_sphere": float(sphere_metric.compute()),
            "per_class_image": _listed(image_metric.per_class()),
            "per_class_sphere": _listed(sphere_metric.per_class()),
            "seconds": time.perf_counter() - start,
        }
    return result


def _listed(values: torch.Tensor) -> list[float | None]:
    return [None if v != v else float(v) for v in values.tolist()]
