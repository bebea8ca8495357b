"""Put a camera image on the sphere: writes the spherical signal (.npz) and a picture of it (.png).

Examples:
  equisphere project front.png --camera front.json
  equisphere project front.png --camera front.json --grid healpix --nside 128
  equisphere project front.png --camera front.json --orientation calibration --output fv
  equisphere project labels.png --camera front.json --labels

CALIB is an OpenCV (K, D, xi), WoodScape or equisphere calibration file (docs/cameras.md).
The sphere is the camera frame (north pole = optical axis) unless --orientation says
otherwise: 'calibration' uses the file's extrinsics (world = vehicle frame), 'forward'
a level camera looking along +x, and 'A,B,G' ZYZ Euler angles in degrees of
world_from_camera. The .npz holds 'signal' (C, *grid shape), 'coverage' (the
fraction of each cell the camera sees), 'colatitude', 'longitude', 'world_from_camera'
and the grid's name. The .png is a Mollweide view seen from inside the sphere
(longitude -phi to the right, as in panoramas); unseen cells are grey.
Existing files are never overwritten unless --overwrite is given.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from equisphere.cli.main import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, help="camera image (PNG, JPEG, ...)")
    add_camera_arguments(parser)
    parser.add_argument(
        "--orientation",
        default="camera",
        help="camera (default), calibration, forward, or ZYZ Euler angles 'A,B,G' in degrees",
    )
    grid = parser.add_argument_group("grid")
    grid.add_argument("--grid", choices=("equiangular", "healpix"), default="equiangular")
    grid.add_argument("--bandwidth", type=int, default=128, help="equiangular 2B x 2B (128)")
    grid.add_argument("--nside", type=int, default=64, help="HEALPix nside, a power of 2 (64)")
    grid.add_argument(
        "--supersampling",
        default="auto",
        help="sub-samples per cell and direction: auto (from the lens) or a number",
    )
    parser.add_argument(
        "--labels", action="store_true", help="the image holds integer labels: nearest, no blending"
    )
    parser.add_argument(
        "--resize-calibration",
        action="store_true",
        help="scale the calibration to the image when the image was resized uniformly",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="prefix of the outputs, to which .npz and .png are added; a trailing .npz or .png "
        "is dropped first (default: IMAGE name + '_sphere')",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def add_camera_arguments(parser: argparse.ArgumentParser) -> None:
    """``--camera``, ``--camera-name`` and ``--woodscape-legacy`` (shared with ``render``)."""
    parser.add_argument("--camera", type=Path, required=True, metavar="CALIB", help="calibration")
    parser.add_argument("--camera-name", help="which camera of a multi-camera equisphere file")
    parser.add_argument(
        "--woodscape-legacy",
        choices=("reject", "intrinsics"),
        default="reject",
        help="older WoodScape layout: refuse (default) or convert its intrinsics only",
    )


def load_mounted_camera(args: argparse.Namespace):
    from equisphere.cameras import load_calibration

    return load_calibration(
        args.camera, name=args.camera_name, woodscape_legacy=args.woodscape_legacy
    )


def parse_orientation(text: str, mounted):
    """``world_from_camera`` (float64 3x3) from an --orientation value, or None for 'camera'."""
    import torch

    from equisphere.cameras import forward_looking
    from equisphere.so3 import matrix_from_euler_zyz

    if text == "camera":
        return None
    if text == "forward":
        return forward_looking()
    if text == "calibration":
        if mounted.world_from_camera is None:
            raise CommandError(
                f"{mounted.name or 'the camera'} has no extrinsics in its calibration file; "
                "use --orientation forward, camera or 'A,B,G'"
            )
        return mounted.rotation()
    try:
        angles = [math.radians(float(x)) for x in text.split(",")]
    except ValueError:
        angles = []
    if len(angles) != 3 or not all(math.isfinite(a) for a in angles):
        raise CommandError(
            f"expected --orientation camera, calibration, forward or three ZYZ angles in degrees "
            f"'A,B,G', got {text!r}"
        )
    return matrix_from_euler_zyz(*(torch.tensor(a, dtype=torch.float64) for a in angles))


def parse_supersampling(text: str) -> int | str:
    if text == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise CommandError(
            f"expected --supersampling auto or a whole number, got {text!r}"
        ) from None


def read_image(path: Path, labels: bool):
    """``(C, H, W)`` float32 in [0, 1], or ``(H, W)`` int64 labels."""
    import numpy as np
    import torch
    from PIL import Image

    if not path.is_file():
        raise CommandError(f"image {str(path)!r} not found")
    with Image.open(path) as image:
        if labels:
            if image.mode not in ("L", "P", "I", "I;16"):
                raise CommandError(
                    f"expected a single-channel label image (mode L, P or I), got mode {image.mode}"
                )
            return torch.from_numpy(np.asarray(image).astype(np.int64))
        array = np.asarray(image.convert("L" if image.mode in ("L", "I", "I;16") else "RGB"))
    tensor = torch.from_numpy(array.astype(np.float32) / 255.0)
    return tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1)


def outputs_for(prefix: Path, suffixes: tuple[str, ...], overwrite: bool) -> list[Path]:
    """``prefix`` + each suffix; a prefix that already ends in one of them loses it first."""
    if prefix.suffix.lower() in suffixes:  # --output out.png means out.npz and out.png
        prefix = prefix.with_suffix("")
    paths = [prefix.with_name(prefix.name + suffix) for suffix in suffixes]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} exists; pass --overwrite to replace")
    return paths


def mollweide_picture(signal, coverage, grid, title: str, path: Path, labels: bool) -> None:
    """A Mollweide view of a grid signal seen from inside the sphere, saved as PNG."""
    try:
        import matplotlib
    except ImportError:
        raise CommandError(
            "drawing the sphere needs matplotlib: pip install 'equisphere[plot]'"
        ) from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    from equisphere.resample.lookups import grid_lookup
    from equisphere.sphere import unit_vectors

    # Inverse Mollweide on a 2:1 raster: x in [-2 sqrt 2, 2 sqrt 2], y in [-sqrt 2, sqrt 2].
    height = 400
    y, x = torch.meshgrid(
        torch.linspace(math.sqrt(2), -math.sqrt(2), height, dtype=torch.float64),
        torch.linspace(-2 * math.sqrt(2), 2 * math.sqrt(2), 2 * height, dtype=torch.float64),
        indexing="ij",
    )
    inside = x**2 / 8 + y**2 / 2 <= 1
    aux = torch.asin((y / math.sqrt(2)).clamp(-1, 1))
    latitude = torch.asin(((2 * aux + torch.sin(2 * aux)) / math.pi).clamp(-1, 1))
    longitude = math.pi * x / (2 * math.sqrt(2) * torch.cos(aux).clamp_min(1e-12))
    directions = unit_vectors(math.pi / 2 - latitude, -longitude).reshape(-1, 3)
    index, weight, _ = grid_lookup(grid)(directions)
    flat = signal.reshape(signal.shape[0], -1).double()
    if labels:
        values = flat[:, index.gather(1, weight.argmax(1, keepdim=True)).squeeze(1)]
    else:
        values = (flat[:, index] * weight).sum(-1)
    seen = (coverage.reshape(-1).double()[index] * weight).sum(-1) > 0.5
    picture = values.T.reshape(height, 2 * height, -1).numpy()
    mask = (inside.reshape(-1) & seen).reshape(height, 2 * height).numpy()

    figure, axes = plt.subplots(figsize=(10, 5.6))
    if labels:
        shown = np.ma.masked_where(~mask, picture[..., 0])
        axes.imshow(shown, cmap="tab20", interpolation="nearest")
    else:
        rgb = picture if picture.shape[-1] == 3 else np.repeat(picture[..., :1], 3, axis=-1)
        rgb = np.clip(rgb, 0, 1)
        rgb[~mask] = 0.5  # unseen: grey
        rgb[~inside.numpy()] = 1.0  # outside the map: white
        axes.imshow(rgb, interpolation="bilinear")
    axes.set_title(title)
    axes.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from equisphere.resample import camera_to_sphere_map
    from equisphere.sphere import EquiangularGrid, HealpixGrid

    mounted = load_mounted_camera(args)
    camera = mounted.camera
    image = read_image(args.image, args.labels)
    height, width = image.shape[-2:]
    if (height, width) != (camera.height, camera.width) and args.resize_calibration:
        if abs(width / camera.width - height / camera.height) > 0.01 * width / camera.width:
            raise CommandError(
                f"the image ({width} x {height}) is not a uniform resize of the calibration "
                f"({camera.width} x {camera.height}); crop or pad it to that aspect first"
            )
        camera = camera.resized(width, height)
    if (height, width) != (camera.height, camera.width):
        raise CommandError(
            f"{args.image} is {width} x {height} pixels (width x height) but the calibration "
            f"expects {camera.width} x {camera.height}; pass --resize-calibration if the image "
            "was resized uniformly"
        )
    world_from_camera = parse_orientation(args.orientation, mounted)
    grid = (
        EquiangularGrid(args.bandwidth) if args.grid == "equiangular" else HealpixGrid(args.nside)
    )
    supersampling = parse_supersampling(args.supersampling)
    prefix = args.output if args.output is not None else Path(args.image.stem + "_sphere")
    npz_path, png_path = outputs_for(prefix, (".npz", ".png"), args.overwrite)

    start = time.perf_counter()
    mode = "nearest" if args.labels else "bilinear"
    resample_map = camera_to_sphere_map(
        camera, grid, world_from_camera, mode=mode, supersampling=supersampling
    )
    built = time.perf_counter()
    signal = resample_map.apply(image, fill=-1 if args.labels else 0)
    signal = signal[None] if args.labels else signal
    coverage = resample_map.coverage
    applied = time.perf_counter()

    rotation = (world_from_camera if world_from_camera is not None else torch.eye(3)).numpy()
    np.savez_compressed(
        npz_path,
        signal=signal.numpy().astype(np.int64 if args.labels else np.float32),
        coverage=coverage.numpy().astype(np.float32),
        colatitude=grid.colatitude.numpy(),
        longitude=grid.longitude.numpy(),
        world_from_camera=rotation,
        grid=np.array(repr(grid)),
        camera=np.array(json.dumps(camera.parameters())),
    )
    frame = "camera frame" if world_from_camera is None else f"orientation {args.orientation}"
    mollweide_picture(
        signal, coverage, grid, f"{args.image.name} on {grid!r}, {frame}", png_path, args.labels
    )

    seen = float(grid.integrate(coverage)) / (4 * math.pi)
    rows = [
        (
            "image",
            f"{args.image} ({width} x {height}, {image.shape[0] if image.ndim == 3 else 1} ch)",
        ),
        ("camera", f"{camera.model} {mounted.name}".strip()),
        (
            "field of view",
            f"{2 * math.degrees(camera.largest_incidence_in_image()):.1f} degrees on the sensor",
        ),
        ("grid", f"{grid!r}, {math.prod(grid.shape)} points"),
        ("sphere seen", f"{100 * seen:.1f} % of the area"),
        (
            "map",
            f"{1000 * (built - start):.0f} ms to build (cached), "
            f"{1000 * (applied - built):.1f} ms to apply",
        ),
        ("signal", str(npz_path)),
        ("picture", str(png_path)),
    ]
    width_of_keys = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width_of_keys}}  {value}")
    return 0
