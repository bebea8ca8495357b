"""Fisheye segmentation: generate WoodScape-style sets, train, evaluate, measure equivariance.

Examples:
  equisphere fisheye generate data/fisheye-train --panoramas ../shared/data/panoramas --size 800
  equisphere fisheye train --config configs/fisheye-sphere.yaml trainer.max_epochs=5
  equisphere fisheye train --resume RUN/checkpoints/last.ckpt trainer.max_epochs=20
  equisphere fisheye evaluate runs/fisheye-sphere-20250101-120000/checkpoints/last.ckpt
  equisphere fisheye equivariance CHECKPOINT --data data/fisheye-test --panoramas DIR

'generate' writes rgb_images/, semantic_annotations/gtLabels/ (0 background,
class + 1, 255 where the lens sees nothing), calibration/ (one WoodScape JSON
per image), classes.json, dataset.json and scenes.npz. 'train' reads a config
whose data.options name WoodScape-style folders (train_root, test_root) or a
panorama folder to generate sets from (configs/fisheye-*.yaml). 'evaluate'
reports mIoU in the image and on the sphere for upright (NR) and rotated (R)
cameras. 'equivariance' turns the camera of generated scenes and reports how
often the two predictions disagree once carried into one view.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from equisphere.cli.main import CommandError

_GENERATE_HELP = """Write a WoodScape-style data set of fisheye views of spherical scenes.

Fashion-MNIST garments on the sphere over real equirectangular panoramas, seen
through a real lens (default: the WoodScape front camera, scaled to --image-size)
at random upright or fully rotated orientations; labels through the same lens.

Examples:
  equisphere fisheye generate data/fisheye-train --panoramas my-panoramas/ --size 800
  equisphere fisheye generate data/fisheye-test --panoramas my-panoramas/ --size 200 \\
      --split test --orientation rotated --camera my_lens.json
"""

_TRAIN_HELP = """Train a fisheye segmenter from a config; every run gets a new folder.

Examples:
  equisphere fisheye train --config configs/fisheye-sphere.yaml data.options.panoramas=DIR
  equisphere fisheye train --config configs/fisheye-planar.yaml trainer.max_epochs=5
  equisphere fisheye train --resume RUN/checkpoints/last.ckpt trainer.max_epochs=20
"""

_EVALUATE_HELP = """mIoU in the image and on the sphere, per class, for upright and rotated cameras.

Examples:
  equisphere fisheye evaluate RUN/checkpoints/last.ckpt
  equisphere fisheye evaluate RUN/checkpoints/last.ckpt --rotations R --json
"""

_EQUIVARIANCE_HELP = """Turn the camera (roll, tilt), segment both views, count disagreeing pixels.

Reported beside its floor: the same figure for the true labels, which is what
carrying labels between the views by the nearest pixel costs.

Example:
  equisphere fisheye equivariance RUN/checkpoints/last.ckpt --data data/fisheye-test \\
      --panoramas my-panoramas/ --scenes 20
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="fisheye_command", metavar="ACTION", required=True)

    generate = commands.add_parser(
        "generate",
        help="write a WoodScape-style set of views",
        description=_GENERATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    generate.add_argument("output", type=Path, help="folder to create")
    generate.add_argument("--panoramas", type=Path, required=True, help="equirectangular images")
    generate.add_argument("--size", type=int, default=800, help="number of images (800)")
    generate.add_argument("--split", choices=("train", "test"), default="train")
    generate.add_argument("--orientation", choices=("upright", "rotated"), default="upright")
    generate.add_argument("--camera", type=Path, help="calibration (default WoodScape front)")
    generate.add_argument("--image-size", type=int, nargs=2, default=(160, 120), metavar=("W", "H"))
    generate.add_argument("--max-incidence", type=float, metavar="DEG", help="image circle")
    generate.add_argument("--objects", type=int, nargs=2, default=(3, 5), metavar=("MIN", "MAX"))
    generate.add_argument(
        "--object-size", type=float, nargs=2, default=(30.0, 40.0), metavar=("MIN", "MAX")
    )
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--source", type=Path, help="Fashion-MNIST folder (default built-in)")
    generate.add_argument("--overwrite", action="store_true", help="replace another set there")

    train = commands.add_parser(
        "train",
        help="train from a config (configs/fisheye-*.yaml)",
        description=_TRAIN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--config", type=Path, help="a YAML config (or give --resume)")
    train.add_argument(
        "--resume", type=Path, metavar="CHECKPOINT", help="continue a run (its config by default)"
    )
    train.add_argument("--name", help="run name (trainer.name)")
    train.add_argument("--runs-dir", type=Path, help="folder of run folders")
    train.add_argument("--seed", type=int, help="trainer.seed")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("overrides", nargs="*", metavar="SECTION.KEY=VALUE")

    evaluate = commands.add_parser(
        "evaluate",
        help="mIoU on upright and rotated cameras",
        description=_EVALUATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("checkpoint", type=Path)
    evaluate.add_argument("--rotations", nargs="+", default=["NR", "R"], choices=("NR", "R"))
    evaluate.add_argument("--test-size", type=int, help="images per generated test set")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--json", action="store_true", help="print the result as JSON")

    equivariance = commands.add_parser(
        "equivariance",
        help="turn the camera, compare",
        description=_EQUIVARIANCE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    equivariance.add_argument("checkpoint", type=Path)
    equivariance.add_argument("--data", type=Path, required=True, help="a generated set")
    equivariance.add_argument("--panoramas", type=Path, required=True)
    equivariance.add_argument("--source", type=Path, help="Fashion-MNIST folder it was made from")
    equivariance.add_argument("--scenes", type=int, default=20, help="scenes to render (20)")
    equivariance.add_argument("--device", default="cpu")
    equivariance.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    return {
        "generate": _generate,
        "train": _train,
        "evaluate": _evaluate,
        "equivariance": _equivariance,
    }[args.fisheye_command](args)


def _generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from equisphere.data.fisheye_scenes import generate_fisheye_scenes
    from equisphere.data.woodscape import WoodScapeDataset

    with tqdm(total=args.size, desc="rendering", unit="image", leave=False) as bar:
        root = generate_fisheye_scenes(
            args.output,
            args.panoramas,
            size=args.size,
            split=args.split,
            orientation=args.orientation,
            camera=args.camera,
            image_size=tuple(args.image_size),
            max_incidence_deg=args.max_incidence,
            objects=tuple(args.objects),
            object_size=tuple(args.object_size),
            seed=args.seed,
            source=args.source,
            overwrite=args.overwrite,
            progress=bar.update,
        )
    dataset = WoodScapeDataset(root)
    print(f"set:     {root} ({len(dataset)} images, {dataset.n_classes} classes)")
    print(f"camera:  {dataset.cameras[0]}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from equisphere.training.config import config_from_dict, load_config
    from equisphere.training.fisheye_run import load_fisheye_task, train_fisheye

    overrides = list(args.overrides)
    for flag, key in (("name", "name"), ("runs_dir", "runs_dir"), ("seed", "seed")):
        if getattr(args, flag) is not None:
            overrides.append(f"trainer.{key}={getattr(args, flag)}")
    if args.no_progress:
        overrides.append("trainer.progress_bar=false")
    if args.config is not None:
        config = load_config(args.config, overrides)
    elif args.resume is not None:
        # The run's own config (load_fisheye_task names a missing or foreign checkpoint).
        config = config_from_dict(load_fisheye_task(args.resume).hparams["config"], overrides)
    else:
        raise CommandError("expected --config FILE (configs/fisheye-*.yaml) or --resume CHECKPOINT")
    result = train_fisheye(config, resume=args.resume)
    if result.trainer.global_rank != 0:
        return 0
    print(f"run folder:      {result.run_dir}")
    print(f"best checkpoint: {result.best_checkpoint}")
    for key, value in sorted(result.trainer.callback_metrics.items()):
        if "step" not in key:
            print(f"  {key:<20} {float(value):.4f}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from equisphere.training.fisheye_run import (
        evaluate_fisheye,
        fisheye_test_loaders,
        load_fisheye_task,
    )

    task = load_fisheye_task(args.checkpoint, map_location=args.device)
    loaders, cameras = fisheye_test_loaders(task, args.rotations, args.test_size)
    result = evaluate_fisheye(task, loaders, cameras)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['model']} on the {result['domain']}, {result['parameters']:,} parameters")
    print(f"  {'cameras':<10} {'images':>7} {'mIoU image':>11} {'mIoU sphere':>12}")
    for name in loaders:
        row = result[name]
        label = {"NR": "upright", "R": "rotated"}.get(name, name)
        print(
            f"  {label:<10} {row['count']:>7} {100 * row['miou_image']:>10.1f}% "
            f"{100 * row['miou_sphere']:>11.1f}%"
        )
    return 0


def _equivariance(args: argparse.Namespace) -> int:
    from equisphere.data.fisheye_scenes import load_scenes
    from equisphere.data.woodscape import WoodScapeDataset
    from equisphere.training.fisheye_equivariance import camera_turn_disagreement
    from equisphere.training.fisheye_run import load_fisheye_task

    if args.scenes < 1:
        raise CommandError(f"expected --scenes of at least 1, got {args.scenes}")
    task = load_fisheye_task(args.checkpoint, map_location=args.device)
    scenes, backgrounds, orientations, options = load_scenes(args.data, args.panoramas, args.source)
    count = min(args.scenes, len(scenes))
    camera = WoodScapeDataset(args.data).cameras[0]
    result = camera_turn_disagreement(
        task,
        camera,
        scenes[:count],
        backgrounds[:count],
        orientations[:count],
        threshold=options["threshold"],
        opacity=options["opacity"],
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{task.config.model.name} on the {task.domain}, {count} scenes")
    print(f"  {'turn':<18} {'disagree':>9} {'floor':>7} {'pixels':>9}")
    for name, row in result.items():
        print(
            f"  {name:<18} {100 * row['disagreement']:>8.2f}% {100 * row['floor']:>6.2f}% "
            f"{row['pixels']:>9,}"
        )
    return 0
