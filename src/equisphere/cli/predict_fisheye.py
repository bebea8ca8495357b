"""Segment one fisheye image given its calibration: ``equisphere predict ... --camera``.

``predict_fisheye(checkpoint, image, camera, output_dir)`` runs a checkpoint of
``equisphere fisheye train`` on a colour image and writes two files beside each
other: ``<image>-labels.png`` (8-bit class ids, 255 where the lens sees nothing)
and ``<image>-overlay.png`` (the class colours blended over the photograph,
pixels outside the lens darkened). Existing files are never replaced.

A spherical model takes the image at any size: it is resampled onto the model's
sphere grid through the calibration. A model on the raw image was trained at one
size; the image and its calibration are scaled to that size, and the class
probabilities scaled back (bilinearly) before the argmax.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["predict_fisheye", "read_image"]


def read_image(path: str | os.PathLike[str]) -> torch.Tensor:
    """A colour image as ``(3, H, W)`` float32 in [0, 1] (Pillow reads the file)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {str(path)!r} not found")
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
    except UnidentifiedImageError:
        raise ValueError(
            f"{str(path)!r}: expected an image file (PNG, JPEG, ...), got a file Pillow cannot read"
        ) from None
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


def predict_fisheye(
    checkpoint: str | os.PathLike[str],
    image: str | os.PathLike[str],
    camera: str | os.PathLike[str],
    output_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Segment a fisheye image and write its label image and an overlay.

    Parameters
    ----------
    checkpoint : path
        Written by ``equisphere fisheye train``.
    image : path
        A colour image (PNG, JPEG, ...) taken by the calibrated camera.
    camera : path
        Its calibration (WoodScape JSON, OpenCV or the project's format).
    output_dir : path, optional
        Where to write; default the image's folder (created if missing).
    device : str

    Returns
    -------
    dict
        ``labels`` and ``overlay`` (paths written), ``model``, ``domain``,
        ``size`` ``[width, height]``, ``seen`` (fraction of pixels that see a ray)
        and ``classes``: share of the seen pixels per predicted class, largest first.

    Raises
    ------
    FileNotFoundError
        A missing checkpoint, image or calibration.
    FileExistsError
        If an output file exists.
    ValueError
        An image whose size differs from its calibration, a checkpoint that is
        not a fisheye segmenter, or an ``output_dir`` that is a file.
    """
    from equisphere.cameras import load_calibration
    from equisphere.training.fisheye_run import load_fisheye_task

    image_path = Path(image)
    pixels = read_image(image_path)
    lens = load_calibration(camera).camera
    lens.check_image(pixels, f"image {image_path.name!r}")
    output_dir = Path(output_dir) if output_dir is not None else image_path.parent
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(
            f"expected a folder to write the label image and the overlay into, got the file "
            f"{str(output_dir)!r}"
        )
    labels_path = output_dir / f"{image_path.stem}-labels.png"
    overlay_path = output_dir / f"{image_path.stem}-overlay.png"
    for path in (labels_path, overlay_path):
        if path.exists():
            raise FileExistsError(f"{path} exists already; choose another output folder")
    task = load_fisheye_task(checkpoint, map_location=device)

    if task.domain == "image":
        width, height = task.config.data.options.get("image_size", [160, 120])
        small = lens.resized(width, height)
        resized = F.interpolate(pixels[None], size=(height, width), mode="bilinear", antialias=True)
        prediction = task.predict(resized.to(device), small)
        scores = F.interpolate(prediction.image_scores, size=lens.image_size, mode="bilinear")
        valid = task.image_valid(lens, device)
    else:
        prediction = task.predict(pixels[None].to(device), lens)
        scores, valid = prediction.image_scores, prediction.image_valid
    labels = torch.where(valid, scores[0].argmax(dim=0), 255).cpu()

    output_dir.mkdir(parents=True, exist_ok=True)
    _write_png(labels_path, labels.to(torch.uint8).numpy())
    _write_png(overlay_path, _overlay(pixels, labels, task.n_classes))
    seen = labels != 255
    counts = torch.bincount(labels[seen].flatten(), minlength=task.n_classes).double()
    share = counts / counts.sum().clamp_min(1)
    names = task.class_names
    return {
        "labels": str(labels_path),
        "overlay": str(overlay_path),
        "model": task.config.model.name,
        "domain": task.domain,
        "size": [lens.width, lens.height],
        "seen": float(seen.double().mean()),
        "classes": {names[k]: float(share[k]) for k in share.argsort(descending=True) if share[k]},
    }


def _overlay(image: torch.Tensor, labels: torch.Tensor, n_classes: int) -> np.ndarray:
    """Class colours blended over the image; background left as it is, unseen pixels dimmed."""
    from equisphere.viz.sphere import LABEL_COLOURS

    rgb = image.permute(1, 2, 0).numpy()  # (H, W, 3)
    ids = labels.numpy()
    colours = LABEL_COLOURS[np.where(ids == 255, 0, ids) % len(LABEL_COLOURS)]
    foreground = ((ids > 0) & (ids != 255))[..., None]
    blended = np.where(foreground, 0.45 * rgb + 0.55 * colours, rgb)
    blended = np.where((ids == 255)[..., None], 0.3 * rgb, blended)
    return (255 * np.clip(blended, 0, 1)).round().astype(np.uint8)


def _write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    with path.open("xb") as file:
        Image.fromarray(array).save(file, format="PNG")
