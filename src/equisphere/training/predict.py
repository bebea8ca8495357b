"""Inputs for prediction: a spherical sample on the model's grid, or an equirectangular image.

A spherical sample is a ``.npy`` or ``.pt`` array on the model's equiangular
grid, shape ``(2B, 2B)`` or ``(C, 2B, 2B)``, values in [0, 1] like the
training data. An equirectangular image (``.png``, ``.jpg``, ...; width twice
the height) is read with Pillow, scaled to [0, 1] and resampled onto the grid.

Conventions: equirectangular images and sphere grids as in docs/conventions.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from equisphere.sphere import EquiangularGrid

__all__ = ["IMAGE_SUFFIXES", "SAMPLE_SUFFIXES", "SphericalInput", "read_input"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
SAMPLE_SUFFIXES = (".npy", ".pt")


@dataclass
class SphericalInput:
    """An input ready for a model.

    Attributes
    ----------
    signal : torch.Tensor, shape (C, 2B, 2B), float32
        The signal on the equiangular grid.
    panorama : torch.Tensor, shape (C, H, 2H), float32, or None
        The equirectangular image it came from (values in [0, 1]), if any.
    """

    signal: torch.Tensor
    panorama: torch.Tensor | None


def read_input(path: str | Path, bandwidth: int, in_channels: int = 1) -> SphericalInput:
    """Read a spherical sample or an equirectangular image for a model of ``bandwidth``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file type is unknown, or a sample is not on the ``2B x 2B`` grid or
        holds values far outside [0, 1], or an image is not twice as wide as it is high.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input {str(path)!r} not found")
    suffix = path.suffix.lower()
    if suffix in SAMPLE_SUFFIXES:
        return SphericalInput(_read_sample(path, bandwidth, in_channels), None)
    if suffix in IMAGE_SUFFIXES:
        return _read_panorama(path, bandwidth, in_channels)
    raise ValueError(
        f"expected a spherical sample ({', '.join(SAMPLE_SUFFIXES)}) or an equirectangular "
        f"image ({', '.join(IMAGE_SUFFIXES)}), got {path.name!r}"
    )


def _read_sample(path: Path, bandwidth: int, in_channels: int) -> torch.Tensor:
    if path.suffix.lower() == ".npy":
        array = torch.from_numpy(np.load(path, allow_pickle=False))
    else:
        array = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(array, torch.Tensor):
            raise ValueError(
                f"expected {path.name!r} to hold one tensor, got {type(array).__name__}"
            )
    size, shape = 2 * bandwidth, tuple(array.shape)
    if array.ndim == 2 and in_channels == 1:
        array = array[None]
    if tuple(array.shape) != (in_channels, size, size):
        expected = f"({size}, {size}) or " if in_channels == 1 else ""
        raise ValueError(
            f"expected a spherical sample of shape {expected}({in_channels}, {size}, {size}) on "
            f"the equiangular grid of bandwidth {bandwidth} the model was trained on, got shape "
            f"{shape} in {path.name!r}; resample it to that grid, or give an "
            "equirectangular image instead"
        )
    if not array.is_floating_point() or not torch.isfinite(array).all():
        raise ValueError(f"expected finite floating-point values in {path.name!r}")
    low, high = float(array.min()), float(array.max())
    if low < -0.5 or high > 1.5:  # slack for the overshoot of band-limited resampling
        raise ValueError(
            f"expected values in [0, 1], as the training spheres have, got values from {low:g} to "
            f"{high:g} in {path.name!r}; divide 8-bit values by 255"
        )
    return array.to(torch.float32)


def _read_panorama(path: Path, bandwidth: int, in_channels: int) -> SphericalInput:
    from PIL import Image

    from equisphere.resample import equirect_to_sphere

    if in_channels not in (1, 3):
        raise ValueError(f"images can feed models with 1 or 3 input channels, not {in_channels}")
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L" if in_channels == 1 else "RGB"), dtype=np.float32)
    panorama = torch.from_numpy(pixels / 255.0)
    panorama = panorama[None] if panorama.ndim == 2 else panorama.permute(2, 0, 1)  # (C, H, W)
    height, width = panorama.shape[-2:]
    if width != 2 * height:
        raise ValueError(
            f"expected an equirectangular image twice as wide as high, got {width} x {height} "
            f"pixels in {path.name!r}"
        )
    signal = equirect_to_sphere(panorama.double(), EquiangularGrid(bandwidth))
    return SphericalInput(signal.to(torch.float32), panorama)
