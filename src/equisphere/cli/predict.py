"""Run a trained checkpoint on one input: class scores, or a label map drawn on the image.

Examples:
  equisphere predict runs/s2cnn-20250101-120000/checkpoints/last.ckpt sample.npy
  equisphere predict CHECKPOINT panorama.png --output panorama-labels.png
  equisphere predict FISHEYE_CHECKPOINT frame.png --camera frame.json

INPUT is a spherical sample (.npy or .pt, shape (2B, 2B) on the checkpoint's
equiangular grid, values in [0, 1]) or an equirectangular image (width = 2 x
height), which is resampled onto the grid. A classifier prints its class
probabilities; a segmenter writes the predicted labels drawn over the image
(default INPUT-labels.png; an existing file is never overwritten) and prints
the share of the sphere's area each class covers.

With --camera CALIB, INPUT is a camera image and CHECKPOINT a model of
'equisphere fisheye train': the labels are predicted through the calibration
(on the sphere or on the raw image, as the model was trained) and written as
INPUT-labels.png (class ids, 255 where the lens sees nothing) and
INPUT-overlay.png (class colours over the image), beside INPUT or in the
folder --output; existing files are never replaced.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from equisphere.cli.main import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a .ckpt file written by 'equisphere train'")
    parser.add_argument("input", type=Path, help="spherical sample (.npy, .pt) or panorama image")
    parser.add_argument(
        "--output",
        type=Path,
        help="label image to write (segmenters); with --camera, the folder to write into",
    )
    parser.add_argument(
        "--camera",
        type=Path,
        metavar="CALIB",
        help="calibration of a fisheye INPUT image (WoodScape JSON, OpenCV, equisphere)",
    )
    parser.add_argument("--top", type=int, default=3, help="classes to list (3)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    import torch

    from equisphere.training.evaluate import load_task
    from equisphere.training.predict import read_input

    if not args.input.is_file():
        raise CommandError(f"input {str(args.input)!r} not found")
    if args.camera is not None:
        return _run_fisheye(args)
    _refuse_fisheye_checkpoint(args.checkpoint)
    output = args.output or args.input.with_name(f"{args.input.stem}-labels.png")
    task = load_task(args.checkpoint, map_location=args.device)
    if task.task == "segmentation" and output.exists():
        raise CommandError(f"output {str(output)!r} exists already; choose another --output")
    sample = read_input(args.input, task.bandwidth, task.in_channels)

    with torch.no_grad():
        logits = task(sample.signal[None].to(args.device))[0].cpu()
    names = task.class_names
    if task.task == "classification":
        probabilities = torch.softmax(logits, dim=0)
        ranked = probabilities.argsort(descending=True)[: max(1, args.top)].tolist()
        result = {
            "input": str(args.input),
            "prediction": names[ranked[0]],
            "top": [
                {"class": k, "name": names[k], "probability": float(probabilities[k])}
                for k in ranked
            ],
            "probabilities": probabilities.tolist(),
        }
    else:
        labels = logits.argmax(dim=0)  # (2B, 2B)
        _draw_labels(labels, sample, task.bandwidth, output)
        result = {
            "input": str(args.input),
            "output": str(output),
            "area": _areas(labels, names, task.bandwidth),
        }

    if args.json:
        print(json.dumps(result, indent=2))
    elif task.task == "classification":
        print(f"{args.input}: {result['prediction']}")
        for row in result["top"]:
            print(f"  {row['name']:<16} {100 * row['probability']:6.2f}%")
    else:
        print(f"labels drawn on {output}")
        for name, share in result["area"].items():
            print(f"  {name:<16} {100 * share:6.2f}% of the sphere")
    return 0


def _run_fisheye(args: argparse.Namespace) -> int:
    """``--camera``: segment a camera image through its calibration."""
    from equisphere.cli.predict_fisheye import predict_fisheye
    from equisphere.training.predict import IMAGE_SUFFIXES

    if not args.camera.is_file():
        raise CommandError(
            f"calibration {str(args.camera)!r} not found; give the JSON or YAML file of the "
            "camera that took the image"
        )
    if args.output is not None and args.output.suffix.lower() in IMAGE_SUFFIXES:
        raise CommandError(
            f"with --camera, --output is the folder for INPUT-labels.png and "
            f"INPUT-overlay.png; got the file name {str(args.output)!r}"
        )
    result = predict_fisheye(args.checkpoint, args.input, args.camera, args.output, args.device)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"labels:  {result['labels']}")
    print(f"overlay: {result['overlay']}")
    print(
        f"{result['model']} on the {result['domain']}; {100 * result['seen']:.1f}% of pixels seen"
    )
    for name, share in list(result["classes"].items())[: max(1, args.top)]:
        print(f"  {name:<16} {100 * share:6.2f}% of the seen pixels")
    return 0


def _refuse_fisheye_checkpoint(path: Path) -> None:
    """A fisheye segmenter needs the camera of its image: say so rather than fail later."""
    import torch

    if not path.is_file():
        return  # load_task names the missing file
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # load_task reports an unreadable file
        return
    hparams = payload.get("hyper_parameters") if isinstance(payload, dict) else None
    if isinstance(hparams, dict) and hparams.get("kind") == "fisheye-segmentation":
        raise CommandError(
            f"{str(path)!r} is a fisheye segmenter: give the image's calibration with "
            "--camera CALIB (WoodScape JSON, OpenCV or equisphere calibration file)"
        )


def _areas(labels, names: list[str], bandwidth: int) -> dict[str, float]:
    """Share of the sphere's area of each predicted class, largest first."""
    import torch

    from equisphere.sphere import EquiangularGrid

    weights = EquiangularGrid(bandwidth).weights
    area = (
        torch.zeros(len(names), dtype=torch.float64).index_add_(
            0, labels.flatten(), weights.flatten()
        )
        / weights.sum()
    )
    order = area.argsort(descending=True).tolist()
    return {names[k]: float(area[k]) for k in order if area[k] > 0}


def _draw_labels(labels, sample, bandwidth: int, output: Path) -> None:
    """Colour the non-background labels over the panorama (or the signal drawn as one)."""
    import numpy as np
    from PIL import Image

    from equisphere.resample import sphere_to_equirect
    from equisphere.sphere import EquiangularGrid
    from equisphere.viz.sphere import LABEL_COLOURS

    grid = EquiangularGrid(bandwidth)
    if sample.panorama is not None:
        background = sample.panorama
    else:
        background = sphere_to_equirect(sample.signal.double(), grid, 4 * bandwidth).clamp(0, 1)
    height = background.shape[-2]
    label_map = sphere_to_equirect(labels.double(), grid, height, mode="nearest").round().long()
    image = background.float().mean(dim=0) if background.shape[0] != 3 else background.float()
    rgb = image.expand(3, -1, -1).permute(1, 2, 0).numpy()  # (H, 2H, 3)
    colours = LABEL_COLOURS[label_map.clamp(0, len(LABEL_COLOURS) - 1).numpy()]
    foreground = (label_map > 0).numpy()[..., None]
    blended = np.where(foreground, 0.4 * rgb + 0.6 * colours, rgb)
    pixels = (255 * np.clip(blended, 0, 1)).round().astype(np.uint8)
    with output.open("xb") as file:
        Image.fromarray(pixels).save(file, format="PNG")
