"""Train the models of the demo config; compare them on upright and rotated spheres.

Examples:
  equisphere demo
  equisphere demo --output outputs/my-demo --config my_demo.yaml trainer.max_epochs=1

Every model is trained on upright (NR) spheres, then tested on upright (NR)
and randomly rotated (R) ones. The table shows the accuracy on both: a
rotation-equivariant model keeps it, a planar CNN loses it. The output folder
gets results.json, training_curves.png, one confusion matrix per model and
test set, and sample_predictions.png (test spheres with each model's guess).

The demo config has the sections data, trainer and optim shared by all runs,
and a list runs: of entries {name: ..., model: {...}} whose own sections
override the shared ones.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from equisphere.cli.main import CommandError

SAMPLES = 4  # test spheres per test set in sample_predictions.png
KEEPS_POINTS = 5.0  # a model "keeps" its accuracy if it drops by at most this on R spheres
# Shipped inside the package, so the demo runs from any install, editable or not.
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "assets" / "configs" / "demo.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="demo config (default: the built-in one, equisphere/assets/configs/demo.yaml)",
    )
    parser.add_argument(
        "--output", type=Path, help="new folder for results and plots (default outputs/demo-TIME)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="SECTION.KEY=VALUE",
        help="overrides applied to every run",
    )


def demo_configs(raw: dict[str, Any], overrides: list[str], runs_dir: Path) -> dict[str, Any]:
    """One checked training config per entry of ``raw["runs"]``, by run name."""
    from equisphere.training.config import ConfigError, apply_overrides, config_from_dict

    if not isinstance(raw, dict) or not isinstance(raw.get("runs"), list) or not raw["runs"]:
        raise ConfigError("expected a demo config with a non-empty list 'runs:'")
    shared = {key: value for key, value in raw.items() if key != "runs"}
    configs = {}
    for index, entry in enumerate(raw["runs"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ConfigError(
                f"expected runs[{index}] to be a mapping with a 'name', got {entry!r}"
            )
        merged = apply_overrides(shared, [])  # a deep copy
        for section, values in entry.items():
            if section == "name":
                continue
            if not isinstance(values, dict):
                raise ConfigError(f"expected runs[{index}].{section} to be a mapping")
            merged.setdefault(section, {}).update(values)
        merged.setdefault("trainer", {}).update(name=entry["name"], runs_dir=str(runs_dir))
        try:
            configs[entry["name"]] = config_from_dict(merged, overrides)
        except ConfigError as error:
            raise ConfigError(f"run {entry['name']!r}: {error}") from None
    return configs


def run(args: argparse.Namespace) -> int:
    import yaml

    from equisphere.cli.train import quiet_lightning

    quiet_lightning(getattr(args, "verbose", False))
    if not args.config.is_file():
        raise CommandError(f"demo config {str(args.config)!r} not found")
    output = args.output or Path("outputs") / time.strftime("demo-%Y%m%d-%H%M%S")
    if output.exists():
        raise CommandError(f"output folder {str(output)!r} exists already; choose a new one")
    overrides = list(args.overrides) + (["trainer.progress_bar=false"] if args.no_progress else [])
    configs = demo_configs(yaml.safe_load(args.config.read_text()), overrides, output / "runs")

    output.mkdir(parents=True)
    try:
        return _train_and_plot(configs, output)
    except BaseException:
        _remove_if_nothing_written(output)
        raise


def _remove_if_nothing_written(output: Path) -> None:
    """Delete the run's new output folder again while it holds no result, so a rerun may use it.

    No result means: empty folders, and at most the copy of its config that training writes
    into each run folder (``runs/<name>-<time>/config.yaml``) before its first step.
    """
    entries = sorted(output.rglob("*"), key=lambda p: len(p.parts), reverse=True)
    configs = [p for p in entries if p.is_file() and not p.is_symlink()]
    if any(p.is_symlink() or not (p.is_dir() or p in configs) for p in entries):
        return
    if any(p.name != "config.yaml" or p.parent.parent != output / "runs" for p in configs):
        return
    try:
        for config in configs:
            config.unlink()
        for folder in [p for p in entries if p not in configs] + [output]:  # deepest first
            folder.rmdir()  # only an empty folder: anything that appeared meanwhile stays
    except OSError:
        return


def _train_and_plot(configs: dict[str, Any], output: Path) -> int:
    import torch

    from equisphere.models import count_parameters
    from equisphere.training.evaluate import evaluate_model, test_loader
    from equisphere.training.trainer import train
    from equisphere.viz.training_plots import (
        plot_confusion_matrix,
        plot_sample_predictions,
        plot_training_curves,
    )

    results: dict[str, Any] = {}
    loaders: dict[tuple, Any] = {}
    samples: dict[str, Any] = {}  # test set -> first signals and labels
    predictions: dict[str, dict[str, list[int]]] = {}  # run -> test set -> predicted classes
    for name, config in configs.items():
        print(f"== training {name} ({config.model.name}) on {config.data.train_rotation} spheres")
        start = time.perf_counter()
        trained = train(config)
        seconds = time.perf_counter() - start
        task = trained.task.cpu().eval()
        row: dict[str, Any] = {
            "model": config.model.name,
            "parameters": count_parameters(task.model),
            "train_seconds": seconds,
            "run_dir": str(trained.run_dir),
            "metrics_csv": str(trained.metrics_csv),
            "class_names": task.class_names,
        }
        for rotation in ("NR", "R"):
            # Runs with the same data share their test sets.
            key = (repr(config.data), rotation)
            if key not in loaders:
                loaders[key] = list(test_loader(task, rotation))
            row[rotation] = evaluate_model(task, loaders[key])
            if config.data.task == "classification":
                signals, labels = loaders[key][0]
                samples[rotation] = (signals[:SAMPLES, 0], labels[:SAMPLES].tolist())
                with torch.no_grad():
                    guesses = task(signals[:SAMPLES]).argmax(dim=1).tolist()
                predictions.setdefault(name, {})[rotation] = guesses
        results[name] = row

    _print_table(results)
    (output / "results.json").write_text(json.dumps(results, indent=2))
    metric = "accuracy" if next(iter(configs.values())).data.task == "classification" else "miou"
    plots = [
        plot_training_curves(
            {name: row["metrics_csv"] for name, row in results.items()},
            output / "training_curves.png",
            metric=metric,
        )
    ]
    for name, row in results.items():
        for rotation in ("NR", "R"):
            if "confusion" in row[rotation]:
                plots.append(
                    plot_confusion_matrix(
                        row[rotation]["confusion"],
                        output / f"confusion_{name}_{rotation}.png",
                        class_names=row["class_names"],
                        title=f"{name}, {rotation} test spheres",
                    )
                )
    if predictions:
        class_names = next(iter(results.values()))["class_names"]
        plots.append(
            plot_sample_predictions(
                samples, predictions, output / "sample_predictions.png", class_names
            )
        )
    print(f"results and plots in {output}/:")
    for plot in plots:
        print(f"  {plot.name}")
    return 0


def _print_table(results: dict[str, Any]) -> None:
    metric = "accuracy" if "accuracy" in next(iter(results.values()))["NR"] else "miou"
    header = f"{'model':<14} {'parameters':>10} {'train s':>8} {'NR ' + metric:>12} "
    header += f"{'R ' + metric:>12} {'drop':>7}"
    print()
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        upright, rotated = 100 * row["NR"][metric], 100 * row["R"][metric]
        print(
            f"{name:<14} {row['parameters']:>10,} {row['train_seconds']:>8.0f} "
            f"{upright:>11.1f}% {rotated:>11.1f}% {upright - rotated:>6.1f}"
        )
    print()
    for name, row in results.items():
        upright, rotated = 100 * row["NR"][metric], 100 * row["R"][metric]
        chance = 100 / len(row["class_names"])
        if upright - chance < KEEPS_POINTS:
            verdict = f"is near chance ({chance:.0f}%) even upright: too little training to judge"
        elif upright - rotated <= KEEPS_POINTS:
            verdict = f"keeps its {metric} on rotated spheres (within {KEEPS_POINTS:.0f} points)"
        elif rotated - chance < 0.5 * (upright - chance):
            verdict = f"loses more than half of its margin over chance ({chance:.0f}%) when rotated"
        else:
            verdict = f"loses {upright - rotated:.1f} points when rotated"
        print(f"{name}: {verdict}")
    print()
