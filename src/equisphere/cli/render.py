"""Render the view of a 360-degree panorama through a calibrated camera: a real scene, a real lens.

Examples:
  equisphere render courtyard.png --camera front.json
  equisphere render courtyard.png --camera front.json --orientation forward --output view.png
  equisphere render courtyard.png --camera fisheye.yaml --orientation 0,90,-90

PANORAMA is an equirectangular image (width = 2 x height; centre column looking
along +x, row 0 at the zenith, unmirrored; docs/conventions.md). --orientation is
world_from_camera: 'calibration' (default when the file has extrinsics: world =
vehicle frame), 'forward' (a level camera looking along +x; the default otherwise),
'camera' (camera frame = panorama frame: looking at the zenith) or ZYZ Euler
angles 'A,B,G' in degrees. Pixels the lens does not see are black. An existing
output is never overwritten unless --overwrite is given.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from equisphere.cli.main import CommandError
from equisphere.cli.project import (
    add_camera_arguments,
    load_mounted_camera,
    outputs_for,
    parse_orientation,
    parse_supersampling,
    read_image,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("panorama", type=Path, help="equirectangular image, width = 2 x height")
    add_camera_arguments(parser)
    parser.add_argument(
        "--orientation",
        help="calibration, forward, camera, or ZYZ Euler angles 'A,B,G' in degrees",
    )
    parser.add_argument(
        "--supersampling",
        default="auto",
        help="sub-samples per pixel and direction: auto (when the panorama is finer) or a number",
    )
    parser.add_argument(
        "--output", type=Path, help="image to write (default: PANORAMA name + '_' + camera + .png)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")


def run(args: argparse.Namespace) -> int:
    import torch
    from PIL import Image

    from equisphere.resample import check_equirect, equirect_to_image

    mounted = load_mounted_camera(args)
    camera = mounted.camera
    panorama = read_image(args.panorama, labels=False)
    try:
        check_equirect(panorama)
    except ValueError as error:
        raise CommandError(f"{args.panorama}: {error}") from None
    orientation = args.orientation
    if orientation is None:
        orientation = "calibration" if mounted.world_from_camera is not None else "forward"
    world_from_camera = parse_orientation(orientation, mounted)
    if args.output is not None:
        output = args.output
        if output.exists() and not args.overwrite:
            raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    else:
        label = mounted.name or camera.model
        (output,) = outputs_for(Path(f"{args.panorama.stem}_{label}"), (".png",), args.overwrite)

    start = time.perf_counter()
    image, valid = equirect_to_image(
        panorama.double(),
        camera,
        world_from_camera,
        supersampling=parse_supersampling(args.supersampling),
    )
    elapsed = time.perf_counter() - start
    pixels = (255 * image.clamp(0, 1)).round().to(torch.uint8)
    array = pixels.permute(1, 2, 0).numpy()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(output)

    rows = [
        ("panorama", f"{args.panorama} ({panorama.shape[-1]} x {panorama.shape[-2]})"),
        ("camera", f"{camera.model} {mounted.name} ({camera.width} x {camera.height})".strip()),
        ("orientation", orientation),
        (
            "field of view",
            f"{2 * math.degrees(camera.largest_incidence_in_image()):.1f} degrees on the sensor",
        ),
        ("pixels seen", f"{100 * float(valid.double().mean()):.1f} %"),
        ("time", f"{elapsed:.2f} s (map built once, then cached)"),
        ("image", str(output)),
    ]
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0
