"""Measure how invariant (classifier) or equivariant (segmenter) a checkpoint is under rotations.

Examples:
  equisphere equivariance runs/s2cnn-20250101-120000/checkpoints/last.ckpt
  equisphere equivariance CHECKPOINT --samples 32 --rotations 16 --json

Upright test spheres are band-limited to the model's bandwidth and rotated
exactly through their harmonic coefficients; the report gives the relative
change of the outputs (0 for a perfectly invariant or equivariant model) and
how often the prediction stays the same.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from equisphere.cli.main import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a .ckpt file written by 'equisphere train'")
    parser.add_argument("--samples", type=int, default=16, help="test spheres to use (16)")
    parser.add_argument("--rotations", type=int, default=8, help="random rotations (8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rotations (0)")
    parser.add_argument("--source", help="folder with the raw data files (default: config)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    import torch

    from equisphere.training.evaluate import load_task, measure_equivariance, test_loader

    if args.samples < 1 or args.rotations < 1:
        raise CommandError(
            f"expected --samples and --rotations >= 1, got {args.samples} and {args.rotations}"
        )
    task = load_task(args.checkpoint, map_location=args.device)
    loader = test_loader(task, "NR", test_size=args.samples, source=args.source)
    signals = torch.cat([signal for signal, _ in loader])[: args.samples]
    result = measure_equivariance(task, signals, n_rotations=args.rotations, seed=args.seed)
    result = {"checkpoint": str(args.checkpoint), "model": task.config.model.name, **result}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    kind = "invariance" if task.task == "classification" else "equivariance"
    print(f"{result['model']}: {kind} over {args.rotations} rotations x {args.samples} spheres")
    print(
        f"  relative error   max {result['relative_error']:.3e}, "
        f"mean {result['mean_relative_error']:.3e}"
    )
    print(f"  same prediction  {100 * result['agreement']:.1f}%")
    return 0
