"""The fisheye segmentation experiment: sphere vs raw image, upright vs rotated cameras.

Trains three models on the same generated fisheye set (configs/fisheye-*.yaml:
Fashion-MNIST garments over real panoramas, seen through the WoodScape front
camera at 128 x 96, cameras upright for training), then reports for each:

- mIoU in the image (pixels the lens sees) and on the sphere (area-weighted,
  grid points the camera covers), for upright (NR) and uniformly rotated (R)
  test cameras, with per-class IoU in the JSON;
- disagreement of the predicted labels when the camera is turned (rolled about
  its optical axis, tilted) and the scene rendered again, next to the floor the
  nearest-pixel transfer alone causes;
- parameters and training time.

Usage (from the repository root; the sets are cached, a rerun only trains):
  python benchmarks/fisheye_experiment.py --output fisheye-results.json
  python benchmarks/fisheye_experiment.py --epochs 1 --train-size 64 --test-size 32  # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
MODELS = {
    "sphere (s2-segmenter)": "configs/fisheye-sphere.yaml",
    "planar U-Net": "configs/fisheye-planar.yaml",
    "planar U-Net + rotation augm.": "configs/fisheye-planar-augmented.yaml",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panoramas", type=Path, default=ROOT.parent / "shared/data/panoramas")
    parser.add_argument("--epochs", type=int, help="override trainer.max_epochs")
    parser.add_argument("--train-size", type=int, help="override data.train_size")
    parser.add_argument("--test-size", type=int, help="override data.test_size")
    parser.add_argument("--val-size", type=int, help="override data.val_size")
    parser.add_argument("--scenes", type=int, default=20, help="scenes for the camera turns")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/fisheye-experiment"))
    parser.add_argument("--cache-dir", type=Path, help="where generated sets go")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--output", type=Path, help="write all figures as JSON")
    args = parser.parse_args()
    if args.output is not None and args.output.exists():
        parser.error(f"{args.output} exists; choose another --output")
    torch.set_num_threads(args.threads)

    from equisphere.data.fisheye_scenes import load_scenes
    from equisphere.training.config import load_config
    from equisphere.training.fisheye import FisheyeDataModule
    from equisphere.training.fisheye_equivariance import camera_turn_disagreement
    from equisphere.training.fisheye_run import (
        evaluate_fisheye,
        fisheye_test_loaders,
        load_fisheye_task,
        train_fisheye,
    )

    overrides = [
        f"data.options.panoramas={args.panoramas}",
        f"trainer.runs_dir={args.runs_dir}",
        "trainer.progress_bar=false",
        "trainer.accelerator=cpu",
    ]
    for flag, key in (
        ("epochs", "trainer.max_epochs"),
        ("train_size", "data.train_size"),
        ("test_size", "data.test_size"),
        ("val_size", "data.val_size"),
        ("cache_dir", "data.cache_dir"),
    ):
        if getattr(args, flag) is not None:
            overrides.append(f"{key}={getattr(args, flag)}")

    report: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{args.threads} torch threads, load average at start {os.getloadavg()[0]:.1f}",
        "overrides": overrides,
        "models": {},
    }
    start_all = time.perf_counter()
    # Generate (or find) the sets first, so that no model's training time includes it.
    first = FisheyeDataModule(load_config(ROOT / next(iter(MODELS.values())), overrides))
    for split, rotation in (("train", "NR"), ("test", "NR"), ("test", "R")):
        first.root(split, rotation)
    report["data_seconds"] = time.perf_counter() - start_all
    print(f"sets ready in {report['data_seconds']:.0f} s", flush=True)
    for name, config_path in MODELS.items():
        config = load_config(ROOT / config_path, overrides)
        start = time.perf_counter()
        result = train_fisheye(config)
        seconds = time.perf_counter() - start
        task = load_fisheye_task(result.best_checkpoint)
        loaders, cameras = fisheye_test_loaders(task, ("NR", "R"))
        figures = evaluate_fisheye(task, loaders, cameras)
        figures.update(
            config=config_path, train_seconds=seconds, checkpoint=str(result.best_checkpoint)
        )
        root = loaders["R"].dataset.dataset.root
        scenes, backgrounds, orientations, options = load_scenes(root, args.panoramas)
        count = min(args.scenes, len(scenes))
        figures["camera_turns"] = camera_turn_disagreement(
            task,
            cameras[0],
            scenes[:count],
            backgrounds[:count],
            orientations[:count],
            threshold=options["threshold"],
            opacity=options["opacity"],
        )
        figures["epochs"] = config.trainer.max_epochs
        report["models"][name] = figures
        print(f"{name}: trained in {seconds:.0f} s, {json.dumps(_short(figures))}", flush=True)
    report["total_seconds"] = time.perf_counter() - start_all

    print()
    print(_table(report))
    if args.output is not None:
        args.output.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.output}")


def _short(figures: dict) -> dict:
    return {
        rotation: {k: round(figures[rotation][k], 4) for k in ("miou_image", "miou_sphere")}
        for rotation in ("NR", "R")
    }


def _table(report: dict) -> str:
    lines = [
        "| model | parameters | train (s) | mIoU image, upright | mIoU image, rotated "
        "| mIoU sphere, upright | mIoU sphere, rotated |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in report["models"].items():
        lines.append(
            f"| {name} | {f['parameters']:,} | {f['train_seconds']:.0f} "
            f"| {100 * f['NR']['miou_image']:.1f} | {100 * f['R']['miou_image']:.1f} "
            f"| {100 * f['NR']['miou_sphere']:.1f} | {100 * f['R']['miou_sphere']:.1f} |"
        )
    turns = next(iter(report["models"].values()))["camera_turns"]
    lines += ["", "| model | " + " | ".join(turns) + " |", "|---|" + "---:|" * len(turns)]
    floors = [f"{100 * row['floor']:.1f}" for row in turns.values()]
    lines.append("| (floor: true labels) | " + " | ".join(floors) + " |")
    for name, f in report["models"].items():
        cells = [f"{100 * row['disagreement']:.1f}" for row in f["camera_turns"].values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
