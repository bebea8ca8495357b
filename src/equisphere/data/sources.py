"""Fashion-MNIST (or MNIST) images from a folder of IDX files, or from the built-in subset.

A source folder holds the four files of the MNIST layout, gzipped or plain:
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (the dotted spelling
``train-images.idx3-ubyte`` is accepted too). Debian's ``dataset-fashion-mnist``
package installs them in ``/usr/share/datasets/fashion-mnist/``.

The built-in subset (the first 6,000 training and 1,000 test images of
Fashion-MNIST, MIT licence, Zalando SE) ships inside the package under
``equisphere/assets/fashion_mnist_subset`` and is used when no folder is given.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import os
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from equisphere.data.idx import IdxFormatError, read_idx

__all__ = [
    "FASHION_MNIST_CLASSES",
    "SourceFiles",
    "builtin_folder",
    "find_source_files",
    "load_fashion_mnist",
    "source_checksums",
]

logger = logging.getLogger(__name__)

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_PREFIX = {"train": "train", "test": "t10k"}
_CHECKSUMS: dict[tuple[str, int, int], str] = {}


def builtin_folder() -> Path:
    """Folder of the built-in Fashion-MNIST subset (6,000 train, 1,000 test images)."""
    return Path(str(importlib.resources.files("equisphere") / "assets" / "fashion_mnist_subset"))


def _check_split(split: str) -> Literal["train", "test"]:
    if split not in _PREFIX:
        raise ValueError(f"expected split 'train' or 'test', got {split!r}")
    return split  # type: ignore[return-value]


class SourceFiles(NamedTuple):
    """The image and label IDX files of one split in a source folder."""

    images: Path
    labels: Path


def find_source_files(
    folder: str | os.PathLike[str] | None, split: Literal["train", "test"]
) -> SourceFiles:
    """The image and label IDX files of ``split`` in ``folder`` (None: the built-in subset).

    Raises
    ------
    FileNotFoundError
        If the folder does not exist or lacks one of the files; the message
        lists the names that were looked for.
    """
    split = _check_split(split)
    folder = builtin_folder() if folder is None else Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"source folder {str(folder)!r} does not exist or is not a folder; expected a folder "
            "with the MNIST-layout IDX files (for Fashion-MNIST: `apt-get install "
            "dataset-fashion-mnist` puts them in /usr/share/datasets/fashion-mnist)"
        )
    found = []
    for kind, rank in (("images", 3), ("labels", 1)):
        stems = [
            f"{_PREFIX[split]}-{kind}-idx{rank}-ubyte",
            f"{_PREFIX[split]}-{kind}.idx{rank}-ubyte",
        ]
        names = [stem + suffix for stem in stems for suffix in (".gz", "")]
        path = next((folder / name for name in names if (folder / name).is_file()), None)
        if path is None:
            raise FileNotFoundError(
                f"no {split} {kind} file in {str(folder)!r}: looked for {', '.join(names)}"
            )
        found.append(path)
    return SourceFiles(*found)


def load_fashion_mnist(
    folder: str | os.PathLike[str] | None, split: Literal["train", "test"]
) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one split of Fashion-MNIST (or any MNIST-layout folder).

    With ``folder=None`` this reads the subset shipped inside the package (the
    first 6,000 training or 1,000 test images), so demos need no download; with
    a folder it reads the full files found there by :func:`find_source_files`.
    The image and label files are checked against each other: the counts must
    match, images must be ``uint8`` of shape ``(N, H, W)`` and labels in 0..9.

    Parameters
    ----------
    folder : str, path-like or None
        Folder with the IDX files; None for the built-in subset.
    split : {"train", "test"}

    Returns
    -------
    images : numpy.ndarray, shape (N, 28, 28), uint8
    labels : numpy.ndarray, shape (N,), int64, values 0..9 (see ``FASHION_MNIST_CLASSES``)

    Raises
    ------
    FileNotFoundError
        Missing folder or file.
    IdxFormatError
        A damaged file, or image and label files that do not fit together.

    Examples
    --------
    >>> images, labels = load_fashion_mnist(None, "test")
    >>> images.shape, labels.shape, FASHION_MNIST_CLASSES[int(labels[0])]
    ((1000, 28, 28), (1000,), 'Ankle boot')
    """
    files = find_source_files(folder, split)

    images, labels = read_idx(files.images), read_idx(files.labels)

    if images.ndim != 3 or images.dtype != np.uint8:
        raise IdxFormatError(
            f"expected {str(files.images)!r} to hold uint8 images of shape (N, H, W), got "
            f"{images.dtype} of shape {images.shape}"
        )
    if labels.ndim != 1:
        raise IdxFormatError(
            f"expected {str(files.labels)!r} to hold labels of shape (N,), got shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise IdxFormatError(
            f"image count does not match label count: {str(files.images)!r} holds {len(images)} "
            f"images but {str(files.labels)!r} holds {len(labels)} labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise IdxFormatError(
            f"expected labels 0..9 in {str(files.labels)!r}, got values from {labels.min()} to "
            f"{labels.max()}"
        )
    return images, labels.astype(np.int64)


def source_checksums(
    folder: str | os.PathLike[str] | None, split: Literal["train", "test"]
) -> dict[str, str]:
    """SHA-256 of the image and label files of ``split``, keyed by file name.

    Used in cache keys, so a cache made from other files is never reused.
    Checksums are remembered per (path, size, modification time).
    """
    result = {}
    for path in find_source_files(folder, split):
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _CHECKSUMS:
            _CHECKSUMS[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            logger.debug("checksum of %s: %s", path, _CHECKSUMS[key])
        result[path.name] = _CHECKSUMS[key]
    return result
