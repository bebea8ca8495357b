"""WoodScape-style segmentation folders: fisheye images, label images and a calibration each.

The layout is that of the WoodScape fisheye data set (valeoai/WoodScape)::

    root/
      rgb_images/<name>.png                      colour images
      semantic_annotations/gtLabels/<name>.png   one class id per pixel (grey or palette)
      calibration/<name>.json                    the image's calibration
      classes.json                               the class map

Files are matched by name (``<name>`` without the suffix). A calibration is any
file :func:`equisphere.cameras.load_calibration` reads: WoodScape JSON as shipped
with the data set, OpenCV files or the project's own. WoodScape's download puts
the calibrations in ``calibration_data/calibration/``; that folder is used when
``calibration/`` is absent.

The class map ``classes.json`` is ``{"classes": [name_0, name_1, ...],
"ignore_index": 255}``: a label pixel holding ``k`` belongs to class
``classes[k]``, and pixels holding ``ignore_index`` (outside the lens's image
circle, or unlabelled) are left out of every loss and metric. WoodScape's own
labels are the ten classes void, road, lanemarks, curb, person, rider,
vehicles, bicycle, motorcycle, traffic_sign (ids 0 to 9, as in its OmniDet
code); write them as its ``classes.json``, or pass ``class_names``.

A label image holds one class id per pixel: 8-bit or 16-bit grey, or a palette
image (its indices are the ids, its colours are ignored). Colour images (such as
WoodScape's ``rgbLabels/``) are refused rather than turned into grey values.

Conventions: images ``(3, H, W)`` floats in [0, 1]; pixel centres and resizing
(``u -> (u + 0.5) s - 0.5``) as in docs/conventions.md.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from equisphere.cameras import Camera, MountedCamera, RadialPolyCamera, load_calibration
from equisphere.so3 import quaternion_from_matrix

__all__ = [
    "IGNORE_INDEX",
    "WoodScapeDataset",
    "WoodScapeLayoutError",
    "find_samples",
    "read_class_map",
    "woodscape_calibration",
    "write_class_map",
]

logger = logging.getLogger(__name__)

IGNORE_INDEX = 255
"""Label of pixels that count nowhere: outside the lens's image circle, or unlabelled."""

IMAGES_DIR = Path("rgb_images")
LABELS_DIR = Path("semantic_annotations") / "gtLabels"
CALIBRATION_DIRS = (Path("calibration"), Path("calibration_data") / "calibration")
CLASS_MAP = "classes.json"


class WoodScapeLayoutError(ValueError):
    """A folder, file or label that does not fit the WoodScape layout."""


@dataclass(frozen=True)
class SampleFiles:
    """The three files of one sample."""

    name: str
    image: Path
    labels: Path
    calibration: Path


def read_class_map(path: str | os.PathLike[str]) -> tuple[tuple[str, ...], int]:
    """Class names and the ignore index from a ``classes.json``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    WoodScapeLayoutError
        If it is not ``{"classes": [str, ...], "ignore_index": int}`` with at most
        255 classes and an ignore index outside them.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"class map {str(path)!r} not found; write it as "
            '{"classes": ["background", ...], "ignore_index": 255} or pass class_names'
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise WoodScapeLayoutError(f"{path}: not valid JSON ({error})") from None
    names = data.get("classes") if isinstance(data, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise WoodScapeLayoutError(
            f"{path}: expected a mapping with 'classes', a non-empty list of class names, "
            f"got {data!r:.200}"
        )
    ignore = data.get("ignore_index", IGNORE_INDEX)
    _check_class_map(names, ignore, str(path))
    return tuple(names), int(ignore)


def write_class_map(
    path: str | os.PathLike[str], class_names: Sequence[str], ignore_index: int = IGNORE_INDEX
) -> Path:
    """Write a ``classes.json``; raises ``FileExistsError`` rather than replace one."""
    _check_class_map(list(class_names), ignore_index, "class_names")
    path = Path(path)
    document = {"classes": list(class_names), "ignore_index": ignore_index}
    with path.open("x", encoding="utf-8") as file:
        file.write(json.dumps(document, indent=2) + "\n")
    return path


def _check_class_map(names: list, ignore: object, where: str) -> None:
    if isinstance(ignore, bool) or not isinstance(ignore, int) or not 0 <= ignore <= 255:
        raise WoodScapeLayoutError(f"{where}: expected ignore_index in 0..255, got {ignore!r}")
    if not 1 <= len(names) <= 255 or ignore < len(names):
        raise WoodScapeLayoutError(
            f"{where}: expected 1..255 classes with ids below ignore_index {ignore}, "
            f"got {len(names)} classes"
        )


def _calibration_dir(root: Path) -> Path:
    for folder in CALIBRATION_DIRS:
        if (root / folder).is_dir():
            return root / folder
    return root / CALIBRATION_DIRS[0]


def find_samples(root: str | os.PathLike[str]) -> list[SampleFiles]:
    """The image, label and calibration files of every sample under ``root``, by name.

    Raises
    ------
    FileNotFoundError
        If ``root`` or its ``rgb_images`` folder does not exist.
    WoodScapeLayoutError
        If there are no images, or an image has no label image or no calibration.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {str(root)!r} not found")
    if not (root / IMAGES_DIR).is_dir():
        raise FileNotFoundError(
            f"{root} has no {IMAGES_DIR}/ folder: expected the WoodScape layout "
            f"({IMAGES_DIR}/, {LABELS_DIR}/, calibration/)"
        )
    images = sorted(p for p in (root / IMAGES_DIR).iterdir() if p.suffix.lower() == ".png")
    if not images:
        raise WoodScapeLayoutError(f"{root / IMAGES_DIR} holds no .png images")
    calibration_dir = _calibration_dir(root)
    samples = []
    for image in images:
        labels = root / LABELS_DIR / image.name
        calibration = calibration_dir / f"{image.stem}.json"
        if not calibration.is_file():
            raise WoodScapeLayoutError(
                f"image {image.name!r} has no calibration: expected {calibration}; every image "
                "needs its own calibration file of the same name"
            )
        if not labels.is_file():
            raise WoodScapeLayoutError(
                f"image {image.name!r} has no label image: expected {labels}"
            )
        samples.append(SampleFiles(image.stem, image, labels, calibration))
    return samples


def woodscape_calibration(
    camera: RadialPolyCamera, world_from_camera: torch.Tensor | None = None, name: str = "FV"
) -> dict:
    """The WoodScape JSON mapping of a ``radial_poly`` camera (what ``load_calibration`` reads).

    ``rho`` is stored in horizontal pixels (``fx`` folded into ``k1..kn``) and
    ``aspect_ratio = fy / fx``; the principal point becomes
    ``cx_offset = cx - width / 2 + 0.5``. The extrinsic quaternion (scalar last)
    is ``world_from_camera``; the translation is zero.

    Raises
    ------
    TypeError
        If ``camera`` is not a :class:`~equisphere.cameras.RadialPolyCamera`.
    ValueError
        If it has skew or a ``max_incidence`` (WoodScape files hold neither).
    """
    if not isinstance(camera, RadialPolyCamera):
        raise TypeError(f"expected a RadialPolyCamera, got {type(camera).__name__}")
    if camera.skew != 0 or camera.max_incidence is not None:
        raise ValueError(
            "a WoodScape calibration holds no skew and no max_incidence; got "
            f"skew={camera.skew}, max_incidence={camera.max_incidence}"
        )
    intrinsic = {
        "model": "radial_poly",
        "poly_order": len(camera.coefficients),
        **{f"k{i}": c * camera.fx for i, c in enumerate(camera.coefficients, start=1)},
        "cx_offset": camera.cx - camera.width / 2 + 0.5,
        "cy_offset": camera.cy - camera.height / 2 + 0.5,
        "aspect_ratio": camera.fy / camera.fx,
        "width": float(camera.width),
        "height": float(camera.height),
    }
    rotation = torch.eye(3, dtype=torch.float64) if world_from_camera is None else world_from_camera
    w, x, y, z = quaternion_from_matrix(torch.as_tensor(rotation, dtype=torch.float64)).tolist()
    extrinsic = {"quaternion": [x, y, z, w], "translation": [0.0, 0.0, 0.0]}
    return {"name": name, "intrinsic": intrinsic, "extrinsic": extrinsic}


def _read_image(path: Path, size: tuple[int, int] | None) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        if size is not None and image.size != size:
            # Pillow maps pixel centres (u + 0.5) s - 0.5, as the cameras do.
            image = image.resize(size, Image.Resampling.BILINEAR)
        return np.asarray(image)


LABEL_MODES = ("L", "P", "I", "I;16")
"""Pillow modes of label images: one class id per pixel (8-bit grey, palette indices, integers)."""


def _read_labels(path: Path, size: tuple[int, int] | None) -> np.ndarray:
    """Class ids of a label image, as stored (a palette image gives its indices, not colours)."""
    from PIL import Image

    with Image.open(path) as image:
        _check_label_mode(path, image.mode)
        if size is not None and image.size != size:
            image = image.resize(size, Image.Resampling.NEAREST)
        return np.asarray(image)


def _check_label_mode(path: Path, mode: str) -> None:
    if mode not in LABEL_MODES:
        raise WoodScapeLayoutError(
            f"label image {path.name!r} has {mode} pixels: expected one class id per pixel "
            f"(Pillow mode {', '.join(LABEL_MODES)}); WoodScape's gtLabels/ holds these, "
            "its rgbLabels/ holds colours"
        )


def _png_header(path: Path) -> tuple[tuple[int, int], str]:
    """``(width, height)`` and the Pillow mode of an image, without reading its pixels."""
    from PIL import Image

    with Image.open(path) as image:
        return image.size, image.mode


class WoodScapeDataset(Dataset):
    """Fisheye images, their label images and cameras from a WoodScape-style folder.

    Item ``i`` is ``(image, labels, camera_index)``: ``image`` float32 ``(3, H, W)``
    in [0, 1], ``labels`` int64 ``(H, W)`` holding class ids or ``ignore_index``,
    and the index of the sample's camera in :attr:`cameras` (samples whose
    intrinsics are equal share one entry, so resampling maps are built once).

    Parameters
    ----------
    root : str or path-like
    class_names : sequence of str, optional
        Names of classes ``0, 1, ...``; default from ``root/classes.json``.
    image_size : (int, int), optional
        ``(width, height)`` to resize every image and label image to (bilinear and
        nearest), the calibration scaled to match; default the files' own size.
    max_incidence_deg : float, optional
        Image circle of the lens in degrees from the optical axis: pixels beyond
        it are invalid for the camera. Default ``root/dataset.json``'s value if
        the generator wrote one, else the lens's own limit.
    preload : bool
        Read every file at construction (and check every label) instead of on access.

    Attributes
    ----------
    samples : list of SampleFiles
    cameras : tuple of Camera
        The distinct cameras (intrinsics at the dataset's image size).
    camera_indices : list of int
        Camera of each sample.
    world_from_camera : torch.Tensor, (N, 3, 3), float64
        Each sample's orientation (identity where its calibration has none).
    class_names : tuple of str
    ignore_index : int

    Raises
    ------
    WoodScapeLayoutError
        Missing files, image and label images of different sizes, colour label
        images, images whose size differs from their calibration, unknown class ids.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        class_names: Sequence[str] | None = None,
        image_size: tuple[int, int] | None = None,
        max_incidence_deg: float | None = None,
        preload: bool = False,
    ) -> None:
        self.root = Path(root)
        self.samples = find_samples(self.root)
        if class_names is None:
            self.class_names, self.ignore_index = read_class_map(self.root / CLASS_MAP)
        else:
            _check_class_map(list(class_names), IGNORE_INDEX, "class_names")
            self.class_names, self.ignore_index = tuple(class_names), IGNORE_INDEX
        if image_size is not None:
            image_size = _check_size(image_size)
        self.image_size = image_size
        if max_incidence_deg is None:
            max_incidence_deg = _generator_options(self.root).get("max_incidence_deg")

        cameras: dict[Camera, int] = {}
        self.camera_indices, rotations = [], []
        for sample in self.samples:
            mounted = _read_camera(sample, image_size, max_incidence_deg)
            self.camera_indices.append(cameras.setdefault(mounted.camera, len(cameras)))
            rotations.append(mounted.rotation())
        self.cameras = tuple(cameras)
        self.world_from_camera = torch.stack(rotations)
        self._items = [self._read(i) for i in range(len(self.samples))] if preload else None
        logger.debug("%s: %d samples, %d cameras", self.root, len(self), len(self.cameras))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def camera(self, index: int) -> Camera:
        """The camera of sample ``index``."""
        return self.cameras[self.camera_indices[index]]

    def _read(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        sample, camera = self.samples[index], self.camera(index)
        size = (camera.width, camera.height)
        image = _read_image(sample.image, self.image_size)
        labels = _read_labels(sample.labels, self.image_size)
        classes = np.unique(labels)
        unknown = classes[
            ((classes < 0) | (classes >= self.n_classes)) & (classes != self.ignore_index)
        ]
        if unknown.size:
            raise WoodScapeLayoutError(
                f"{sample.labels}: unknown class id {int(unknown[0])}; the class map has "
                f"{self.n_classes} classes (ids 0..{self.n_classes - 1}) and ignore index "
                f"{self.ignore_index}"
            )
        if image.shape[:2] != (size[1], size[0]):
            raise WoodScapeLayoutError(f"{sample.image}: expected {size}, got {image.shape}")
        image_tensor = torch.from_numpy(image.copy()).permute(2, 0, 1).to(torch.float32) / 255
        return image_tensor, torch.from_numpy(labels.astype(np.int64))

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        image, labels = self._items[index] if self._items is not None else self._read(index)
        return image, labels, self.camera_indices[index]

    def __repr__(self) -> str:
        return (
            f"WoodScapeDataset({str(self.root)!r}, {len(self)} samples, "
            f"{len(self.cameras)} cameras, {self.n_classes} classes)"
        )


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    size = tuple(size)
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in size):
        raise ValueError(f"expected image_size (width, height) as two integers, got {size!r}")
    if min(size) < 8:
        raise ValueError(f"expected image_size of at least 8 x 8 pixels, got {size!r}")
    return size  # type: ignore[return-value]


def _generator_options(root: Path) -> dict:
    path = root / "dataset.json"
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")).get("options", {}))


def _read_camera(
    sample: SampleFiles, image_size: tuple[int, int] | None, max_incidence_deg: float | None
) -> MountedCamera:
    """The sample's camera, checked against its image and label files, at the wanted size."""
    import dataclasses
    import math

    mounted = load_calibration(sample.calibration)
    camera = mounted.camera
    image_size_on_disk, _ = _png_header(sample.image)
    label_size, label_mode = _png_header(sample.labels)
    _check_label_mode(sample.labels, label_mode)
    if label_size != image_size_on_disk:
        raise WoodScapeLayoutError(
            f"label image {sample.labels.name!r} is {label_size[0]} x {label_size[1]} pixels but "
            f"its image is {image_size_on_disk[0]} x {image_size_on_disk[1]}: a label image must "
            "have the size of its image"
        )
    if image_size_on_disk != (camera.width, camera.height):
        raise WoodScapeLayoutError(
            f"image {sample.image.name!r} is {image_size_on_disk[0]} x {image_size_on_disk[1]} "
            f"pixels but its calibration {sample.calibration.name!r} is for {camera.width} x "
            f"{camera.height}; give images at the calibrated size (image_size= resizes both)"
        )
    if image_size is not None and image_size != image_size_on_disk:
        camera = camera.resized(*image_size)
    if max_incidence_deg is not None:
        camera = dataclasses.replace(camera, max_incidence=math.radians(max_incidence_deg))
    return dataclasses.replace(mounted, camera=camera)
