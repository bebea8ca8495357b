"""Evaluate a checkpoint on upright (NR) and rotated (R) test spheres: accuracy or mIoU.

Examples:
  equisphere evaluate runs/s2cnn-20250101-120000/checkpoints/last.ckpt
  equisphere evaluate CHECKPOINT --test-size 1000 --json

The test data is the one the checkpoint was trained on (its config), unless
--source or --test-size say otherwise. Nothing is written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a .ckpt file written by 'equisphere train'")
    parser.add_argument("--test-size", type=int, help="number of test spheres (default: config)")
    parser.add_argument("--source", help="folder with the raw data files (default: config)")
    parser.add_argument("--batch-size", type=int, help="batch size (default: config)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from equisphere.training.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(
        args.checkpoint,
        test_size=args.test_size,
        source=args.source,
        batch_size=args.batch_size,
        device=args.device,
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    metric = result["metric"]
    print(f"{result['model']} ({result['parameters']:,} parameters), {result['task']}")
    print(f"{'test set':<10} {'count':>7} {metric:>10} {'loss':>8}")
    for name in ("NR", "R"):
        row = result[name]
        print(f"{name:<10} {row['count']:>7} {100 * row[metric]:>9.2f}% {row['loss']:>8.4f}")
    return 0
