"""Run a training config: a new run folder, Lightning's Trainer, checkpoints and logs.

Each run writes into its own folder ``<runs_dir>/<name>-<YYYYmmdd-HHMMSS>``:
``config.yaml`` (the config as run, overrides included), ``checkpoints/``
(``last.ckpt`` and the best by validation metric), ``logs/metrics.csv`` and
``tensorboard/``. An existing folder is never reused.

Data parallel training (several GPUs, several nodes, or several CPU processes
with the gloo backend) goes through Lightning's standard strategies: set
``trainer.strategy``, ``trainer.devices`` and ``trainer.num_nodes``. Only the
process of global rank 0 creates the run folder and writes into it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.model_helpers import is_overridden

from equisphere.training.config import Config, save_config
from equisphere.training.module import SphericalTask, metric_name

__all__ = [
    "TrainResult",
    "build_datamodule",
    "create_run_dir",
    "resolve_precision",
    "train",
]

logger = logging.getLogger(__name__)

# Set by rank 0 before Lightning launches the other local processes, which inherit it.
RUN_DIR_VARIABLE = "EQUISPHERE_RUN_DIR"


@dataclass
class TrainResult:
    """What a training run left behind."""

    run_dir: Path
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    metrics_csv: Path
    task: SphericalTask = field(repr=False)
    trainer: L.Trainer = field(repr=False)


def create_run_dir(runs_dir: str | Path, name: str, now: float | None = None) -> Path:
    """Create ``runs_dir/<name>-<YYYYmmdd-HHMMSS>`` and return it.

    On processes of global rank above 0 nothing is created: the path is the one
    rank 0 chose (inherited through the environment) or, under an external
    launcher, a path that is never written to.

    Raises
    ------
    FileExistsError
        If the folder exists already (two runs of one name in the same second).
    """
    if not name or "/" in name or "\\" in name:
        raise ValueError(f"expected a run name without path separators, got {name!r}")
    inherited = os.environ.get(RUN_DIR_VARIABLE)
    if rank_zero_only.rank != 0:
        return Path(inherited) if inherited else Path(runs_dir) / name
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    run_dir = Path(runs_dir) / f"{name}-{stamp}"
    if run_dir.exists():
        raise FileExistsError(
            f"run folder {str(run_dir)!r} exists already; wait a second or choose another "
            "trainer.name (runs are never overwritten)"
        )
    run_dir.mkdir(parents=True)
    return run_dir


def resolve_precision(precision: str, accelerator: str) -> str:
    """``precision``, except mixed precision falls back to ``"32-true"`` without CUDA.

    Mixed precision ("16-mixed", "bf16-mixed") is used only where the run goes
    to a CUDA device: accelerator "auto", "gpu" or "cuda" and CUDA available.
    """
    if not precision.endswith("-mixed"):
        return precision
    on_cuda = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return precision if on_cuda else "32-true"


def build_datamodule(config: Config) -> L.LightningDataModule:
    """The data module of ``config.data`` (spherical classification or segmentation)."""
    from equisphere.training import datamodules

    data = config.data
    cls = (
        datamodules.SphericalClassificationDataModule
        if data.task == "classification"
        else datamodules.SphericalSegmentationDataModule
    )
    return cls(
        bandwidth=data.bandwidth,
        train_rotation=data.train_rotation,
        test_rotation=data.test_rotation,
        train_size=data.train_size,
        test_size=data.test_size,
        val_size=data.val_size,
        val_fraction=data.val_fraction,
        seed=data.seed,
        source=data.source,
        cache_dir=data.cache_dir,
        batch_size=data.batch_size,
        num_workers=data.num_workers,
        **data.options,
    )


def train(
    config: Config,
    resume: str | Path | None = None,
    datamodule: L.LightningDataModule | None = None,
    callbacks: list[L.Callback] | None = None,
) -> TrainResult:
    """Train the model of ``config`` in a new run folder.

    Parameters
    ----------
    config : Config
    resume : path, optional
        Checkpoint to continue from (weights, optimizer, epoch); the run still
        gets a new folder.
    datamodule : LightningDataModule, optional
        Data to use instead of the one ``config.data`` describes.
    callbacks : list of Callback, optional
        Extra Lightning callbacks.

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
    datamodule = datamodule if datamodule is not None else build_datamodule(config)
    task = SphericalTask(
        config,
        n_classes=getattr(datamodule, "n_classes", None),
        in_channels=getattr(datamodule, "in_channels", 1),
    )

    run_dir = create_run_dir(config.trainer.runs_dir, config.trainer.name)
    if rank_zero_only.rank == 0:
        save_config(config, run_dir / "config.yaml")
    data = config.data
    holds_out = data.val_size != 0 and (data.val_size is not None or data.val_fraction > 0)
    validates = is_overridden("val_dataloader", datamodule) and holds_out
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
        best = ModelCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="best-epoch{epoch:03d}",
            auto_insert_metric_name=False,
            monitor=f"val/{metric_name(config.data.task)}",
            mode="max",
            save_top_k=config.trainer.save_top_k,
        )
        checkpoints.append(best)
    trainer_config = config.trainer
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
        log_every_n_steps=trainer_config.log_every_n_steps,
        # None (Lightning's default, all batches) instead of 1.0 keeps Lightning from saying so.
        limit_train_batches=_limit(trainer_config.limit_train_batches),
        limit_val_batches=_limit(trainer_config.limit_val_batches) if validates else 0,
        gradient_clip_val=trainer_config.gradient_clip_val,
        deterministic=trainer_config.deterministic,
    )

    os.environ[RUN_DIR_VARIABLE] = str(run_dir)
    try:
        trainer.fit(task, datamodule=datamodule, ckpt_path=resume)
    finally:
        os.environ.pop(RUN_DIR_VARIABLE, None)
    last = latest.best_model_path  # the only (so "best") checkpoint of the latest callback
    best = checkpoints[-1].best_model_path or last
    logger.debug("run %s finished; best checkpoint %s", run_dir, best)
    return TrainResult(
        run_dir=run_dir,
        best_checkpoint=Path(best) if best else None,
        last_checkpoint=Path(last) if last else None,
        metrics_csv=run_dir / "logs" / "metrics.csv",
        task=task,
        trainer=trainer,
    )


def _limit(value: int | float) -> int | float | None:
    return None if value == 1.0 and isinstance(value, float) else value
