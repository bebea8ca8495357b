"""Generate spherical data sets (cached) and draw sheets of samples.

Examples:
  equisphere data generate --setting NR/R
  equisphere data generate --source /usr/share/datasets/fashion-mnist --setting R/R
  equisphere data generate --task segmentation --train-size 10000 --objects 2 4
  equisphere data sheet --split test --rotation R --output sheet.png
  equisphere data sheet --task segmentation --count 4 --output segmentation.png

Without --source the subset built into the package is used (6,000 training and
1,000 test Fashion-MNIST images). Sets are cached in --cache-dir (default
$EQUISPHERE_CACHE or ~/.cache/equisphere) and reused when the options match.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from equisphere.cli.main import CommandError

# Samples on one sheet. Matplotlib's layout of the figure grows faster than its panels: on one
# core 64 classification samples take 19 s, 32 segmentation spheres 15 s, but 64 over 3 minutes.
MAX_SHEET_COUNT = {"classification": 64, "segmentation": 32}


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data set")
    group.add_argument(
        "--task", choices=("classification", "segmentation"), default="classification"
    )
    group.add_argument("--bandwidth", type=int, default=30, help="grid is 2B x 2B (default 30)")
    group.add_argument("--seed", type=int, default=0, help="seed of rotations and placements")
    group.add_argument(
        "--source",
        type=Path,
        help="folder with MNIST-layout IDX files (default: the built-in Fashion-MNIST subset)",
    )
    group.add_argument(
        "--cache-dir", type=Path, help="default $EQUISPHERE_CACHE or ~/.cache/equisphere"
    )
    group.add_argument(
        "--rebuild", action="store_true", help="regenerate and replace existing cache files"
    )
    group.add_argument("--device", help="compute device, e.g. cuda (default cpu)")
    group.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for generation (default 1, the fastest on a busy shared machine; "
        "more can help on an idle many-core one)",
    )

    objects = parser.add_argument_group("segmentation")
    objects.add_argument(
        "--objects",
        type=int,
        nargs=2,
        default=(2, 4),
        metavar=("MIN", "MAX"),
        help="objects per sphere (default 2 4)",
    )
    objects.add_argument(
        "--object-size",
        type=float,
        nargs=2,
        default=(30.0, 45.0),
        metavar=("MIN", "MAX"),
        help="angular half-width of each object in degrees (default 30 45)",
    )
    objects.add_argument("--overlap", choices=("reject", "allow"), default="reject")
    objects.add_argument(
        "--min-separation", type=float, help="least angle between centres in degrees (reject)"
    )
    objects.add_argument(
        "--threshold", type=float, default=0.25, help="least intensity labelled as an object"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION")

    generate = commands.add_parser(
        "generate",
        help="build (or find in the cache) the train and test sets",
        description="Build the train and test sets and store them in the cache.",
    )
    _add_data_options(generate)
    generate.add_argument(
        "--setting",
        help="train/test rotations such as NR/NR, R/R or NR/R (overrides the two below)",
    )
    generate.add_argument("--train-rotation", default="NR", help="NR or R (default NR)")
    generate.add_argument("--test-rotation", default="NR", help="NR or R (default NR)")
    generate.add_argument("--train-size", type=int, help="training images or spheres (default all)")
    generate.add_argument("--test-size", type=int, help="test images or spheres (default all)")

    sheet = commands.add_parser(
        "sheet",
        help="draw a PNG sheet of samples (Mollweide and orthographic views)",
        description="Draw samples of one split as a PNG sheet.",
    )
    _add_data_options(sheet)
    sheet.add_argument("--split", choices=("train", "test"), default="test")
    sheet.add_argument("--rotation", default="R", help="NR or R (default R)")
    sheet.add_argument("--size", type=int, help="images or spheres to generate (default all)")
    sheet.add_argument(
        "--count",
        type=int,
        default=8,
        help="samples on the sheet (default 8; at most {classification}, or {segmentation} with "
        "--task segmentation)".format(**MAX_SHEET_COUNT),
    )
    sheet.add_argument("--output", type=Path, default=Path("sheet.png"), help="PNG file to write")
    sheet.add_argument("--overwrite", action="store_true", help="replace --output if it exists")


def _make(args: argparse.Namespace, split: str, rotation: str, size: int | None, progress):
    from equisphere.data import make_spherical_classification, make_spherical_segmentation

    common = {
        "bandwidth": args.bandwidth,
        "rotation": rotation,
        "seed": args.seed,
        "size": size,
        "source": args.source,
        "cache_dir": args.cache_dir,
        "rebuild": args.rebuild,
        "device": args.device,
        "progress": progress,
        "num_threads": args.threads,
    }
    if args.task == "classification":
        return make_spherical_classification(split, **common)
    return make_spherical_segmentation(
        split,
        objects=tuple(args.objects),
        object_size=tuple(args.object_size),
        overlap=args.overlap,
        min_separation=args.min_separation,
        threshold=args.threshold,
        **common,
    )


def _build(args: argparse.Namespace, split: str, rotation: str, size: int | None):
    """Make one split with a progress bar; return the set, seconds and whether it was built."""
    from tqdm import tqdm

    start = time.perf_counter()
    with tqdm(total=size, desc=f"{args.task} {split} ({rotation})", unit="img", leave=False) as bar:
        dataset = _make(args, split, rotation, size, bar.update)
        built = bar.n > 0
    return dataset, time.perf_counter() - start, built


def _print_frequencies(datasets: dict) -> None:
    names = next(iter(datasets.values())).class_names
    print("\nclass frequencies (fraction of the sphere's area):")
    print(f"  {'class':<14}" + "".join(f"{split:>9}" for split in datasets))
    frequencies = {split: data.class_frequencies() for split, data in datasets.items()}
    for index, name in enumerate(names):
        row = "".join(f"{float(frequencies[split][index]):>9.4f}" for split in datasets)
        print(f"  {name:<14}{row}")


def _print_label_counts(datasets: dict) -> None:
    import torch

    names = next(iter(datasets.values())).class_names
    print("\nimages per class:")
    print(f"  {'class':<14}" + "".join(f"{split:>9}" for split in datasets))
    counts = {
        split: torch.bincount(d.labels, minlength=len(names)) for split, d in datasets.items()
    }
    for index, name in enumerate(names):
        print(f"  {name:<14}" + "".join(f"{int(counts[s][index]):>9}" for s in datasets))


def _generate(args: argparse.Namespace) -> int:
    from equisphere.data import check_rotation_mode, parse_rotation_setting

    if args.setting is not None:
        rotations = dict(zip(("train", "test"), parse_rotation_setting(args.setting), strict=True))
    else:
        rotations = {
            "train": check_rotation_mode(args.train_rotation, "--train-rotation"),
            "test": check_rotation_mode(args.test_rotation, "--test-rotation"),
        }
    sizes = {"train": args.train_size, "test": args.test_size}

    datasets, rows = {}, []
    for split in ("train", "test"):
        dataset, seconds, built = _build(args, split, rotations[split], sizes[split])
        datasets[split] = dataset
        rows.append((split, rotations[split], len(dataset), seconds, built, dataset.options))

    print(f"{args.task}, bandwidth {args.bandwidth}, seed {args.seed}:")
    print(f"  {'split':<6}{'rotation':<10}{'samples':>8}{'seconds':>9}  {'':<7}cache file")
    for split, rotation, count, seconds, built, options in rows:
        status = "built" if built else "cached"
        path = options.get("cache_file", "")
        print(f"  {split:<6}{rotation:<10}{count:>8}{seconds:>9.2f}  {status:<7}{path}")
    if args.task == "segmentation":
        _print_frequencies(datasets)
    else:
        _print_label_counts(datasets)
    return 0


def _sheet(args: argparse.Namespace) -> int:
    from equisphere.data import check_rotation_mode
    from equisphere.viz import classification_sheet, save_figure, segmentation_sheet

    rotation = check_rotation_mode(args.rotation, "--rotation")
    limit = MAX_SHEET_COUNT[args.task]
    if not 1 <= args.count <= limit:
        raise CommandError(
            f"expected 1 <= --count <= {limit} samples on one {args.task} sheet, got {args.count}"
        )
    if args.output.suffix.lower() != ".png":
        raise CommandError(f"expected --output to end in .png, got {str(args.output)!r}")
    if args.output.exists() and not args.overwrite:
        raise CommandError(
            f"{str(args.output)!r} exists; choose another --output or pass --overwrite"
        )

    dataset, seconds, built = _build(args, args.split, rotation, args.size)
    print(
        f"{args.task} {args.split} ({rotation}): {len(dataset)} samples "
        f"({'built' if built else 'cached'} in {seconds:.2f} s)"
    )
    count = min(args.count, len(dataset))
    if args.task == "classification":
        figure = classification_sheet(dataset, count)
    else:
        figure = segmentation_sheet(dataset, count)
        _print_frequencies({args.split: dataset})
    path = save_figure(figure, args.output, overwrite=args.overwrite)
    print(f"wrote {path} ({count} samples)")
    return 0


def run(args: argparse.Namespace) -> int:
    if getattr(args, "threads", None) is not None and args.threads < 1:
        raise CommandError(f"expected --threads >= 1, got {args.threads}")
    if getattr(args, "data_command", None) == "generate":
        return _generate(args)
    if getattr(args, "data_command", None) == "sheet":
        return _sheet(args)
    raise CommandError("expected an action: `equisphere data generate` or `equisphere data sheet`")
