"""Train a model from a YAML config file, with section.key=value overrides.

Examples:
  equisphere train --config configs/s2cnn_cohen2018.yaml
  equisphere train --config configs/planar_cnn.yaml trainer.max_epochs=5 data.augment=rotation
  equisphere train --resume runs/planar-20250101-120000/checkpoints/last.ckpt trainer.max_epochs=20

Every run gets a new folder <trainer.runs_dir>/<trainer.name>-<timestamp> holding
config.yaml, checkpoints/ (last.ckpt and the best), logs/metrics.csv and tensorboard/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from equisphere.cli.main import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML config file (see configs/)")
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="CHECKPOINT",
        help="continue from this checkpoint (in a new run folder); without --config, "
        "the checkpoint's own config is used",
    )
    parser.add_argument("--name", help="run name (trainer.name)")
    parser.add_argument("--runs-dir", type=Path, help="folder of run folders (trainer.runs_dir)")
    parser.add_argument("--seed", type=int, help="random seed (trainer.seed)")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (trainer.progress_bar=false)"
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="SECTION.KEY=VALUE", help="config overrides"
    )


def resolve_config(args: argparse.Namespace):
    """The config of the command line: file or checkpoint, then overrides and flags."""
    from equisphere.training.config import config_from_dict, load_config

    overrides = list(args.overrides)
    for flag, key in (("name", "name"), ("runs_dir", "runs_dir"), ("seed", "seed")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides.append(f"trainer.{key}={value}")
    if getattr(args, "no_progress", False):
        overrides.append("trainer.progress_bar=false")

    if args.config is not None:
        return load_config(args.config, overrides)
    if args.resume is not None:
        from equisphere.training.evaluate import load_task

        return config_from_dict(load_task(args.resume).hparams["config"], overrides)
    raise CommandError("expected --config FILE (examples in configs/) or --resume CHECKPOINT")


def quiet_lightning(verbose: bool) -> None:
    """Lightning's start-up notes (GPU available, tips) only with ``equisphere -v``."""
    import logging

    import lightning.pytorch  # noqa: F401  (its import sets its loggers to INFO: import first)

    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)


def run(args: argparse.Namespace) -> int:
    from lightning.pytorch.utilities import rank_zero_only

    from equisphere.models import count_parameters
    from equisphere.training.trainer import resolve_precision, train

    quiet_lightning(getattr(args, "verbose", False))
    if args.resume is not None and not args.resume.is_file():
        raise CommandError(f"checkpoint {str(args.resume)!r} to resume from not found")
    config = resolve_config(args)
    trainer = config.trainer
    if Path(trainer.runs_dir).exists() and not Path(trainer.runs_dir).is_dir():
        raise CommandError(
            f"expected trainer.runs_dir (--runs-dir) to be a folder, got the file "
            f"{str(trainer.runs_dir)!r}; choose another --runs-dir"
        )
    precision = resolve_precision(trainer.precision, trainer.accelerator)
    if precision != trainer.precision and rank_zero_only.rank == 0:
        print(f"note: {trainer.precision} precision needs CUDA; training in {precision}")

    result = train(config, resume=args.resume)
    if result.trainer.global_rank != 0:
        return 0
    metrics = {
        key: float(value)
        for key, value in result.trainer.callback_metrics.items()
        if key.endswith(("accuracy", "miou", "loss")) and "step" not in key
    }
    parameters = count_parameters(result.task.model)
    print(f"model:           {config.model.name} ({parameters:,} parameters)")
    print(f"run folder:      {result.run_dir}")
    print(f"best checkpoint: {result.best_checkpoint}")
    for key in sorted(metrics):
        print(f"  {key:<18} {metrics[key]:.4f}")
    return 0
