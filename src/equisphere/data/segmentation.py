"""Spherical segmentation sets: several images per sphere, one label per grid point.

After Gerken et al. (2022): each sphere carries between ``objects[0]`` and
``objects[1]`` images (digits or garments) at uniformly random positions and
orientations. Object ``k`` is an image placed by the stereographic geometry of
:mod:`equisphere.data.stereographic` with a square of angular half-width
``size_k`` degrees (the square's side on the plane ``z = -1`` is
``4 tan(size_k / 2)``; 73.7 degrees is the classification protocol's side 3),
then rotated by a uniform random rotation ``R_k``; its centre is ``R_k (0, 0, -1)``.

At each grid point ``x`` every object has an intensity ``v_k(x)`` in [0, 1] (its
image, rescaled to [0, 1], sampled bilinearly at the plane point of
``R_k^-1 x``). The signal is ``max_k v_k(x)``, stored as 0..255. The label is
``c + 1`` where ``c`` is the class of the object with the largest intensity, if
that intensity exceeds ``threshold``, else 0 (background): 11 classes.

In mode ``"NR"`` the positions are uniformly random but each image is upright:
its top points along the meridian towards the north pole.

Placement (count, size, overlap policy): :mod:`equisphere.data.placement`.
With ``overlap="allow"``, or where square corners meet under ``"reject"``, the
brightest object wins (the rule above); ties go to the earlier object.

Conventions: equiangular grid and rotations as in docs/conventions.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from equisphere.data.cache import load_or_build
from equisphere.data.placement import check_range, place_objects, upright_rotations
from equisphere.data.settings import RotationMode, check_rotation_mode, derive_seed
from equisphere.data.sources import FASHION_MNIST_CLASSES, load_fashion_mnist, source_checksums
from equisphere.data.stereographic import cpu_threads, images_to_unit_range, sample_images
from equisphere.quadrature import check_bandwidth
from equisphere.sphere import EquiangularGrid

__all__ = [
    "SphericalSegmentationDataset",
    "class_frequencies",
    "compose_objects",
    "make_spherical_segmentation",
    "place_objects",
    "upright_rotations",
]

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 1
"""Bumped whenever the generated values change; part of the cache key."""


def compose_objects(
    images: torch.Tensor,
    classes: torch.Tensor,
    placement: dict[str, torch.Tensor],
    bandwidth: int,
    threshold: float,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Signals and labels of spheres carrying the given objects.

    Parameters
    ----------
    images : torch.Tensor, shape (N, K, H, W)
        Object images (any real dtype; each rescaled to [0, 1]).
    classes : torch.Tensor, shape (N, K), int64
        Class 0..9 of each object.
    placement : dict
        From :func:`place_objects`.
    bandwidth : int
    threshold : float
        Least intensity in [0, 1] that counts as an object.

    Returns
    -------
    signals : torch.Tensor, (N, 2B, 2B), uint8
    targets : torch.Tensor, (N, 2B, 2B), uint8, 0 = background, class c -> c + 1
    """
    count, slots = classes.shape
    grid = EquiangularGrid(bandwidth)
    directions = grid.vectors().reshape(-1, 3).to(dtype=dtype, device=images.device)
    present = placement["present"].to(images.device)
    sizes = placement["sizes"].to(images.device)

    layers = []
    for slot in range(slots):
        size = torch.where(present[:, slot], sizes[:, slot], 1.0)
        side = 4 * torch.tan(torch.deg2rad(size) / 2)
        values = sample_images(
            images_to_unit_range(images[:, slot], dtype),
            directions,
            placement["rotations"][:, slot],
            side=side.to(dtype),
        )
        layers.append(values * present[:, slot, None])
    brightest, which = torch.stack(layers, dim=1).max(dim=1)  # (N, P) each

    labels = torch.gather(classes.to(images.device), 1, which) + 1
    targets = torch.where(brightest > threshold, labels, torch.zeros_like(labels))
    signals = (brightest * 255).round_().clamp_(0, 255).to(torch.uint8)
    return signals.view(count, *grid.shape), targets.to(torch.uint8).view(count, *grid.shape)


def class_frequencies(
    targets: torch.Tensor, num_classes: int = 11, area_weighted: bool = True
) -> torch.Tensor:
    """Fraction of the sphere (or of grid points) that each class covers.

    Parameters
    ----------
    targets : torch.Tensor, shape (N, 2B, 2B), integer
        Labels on the equiangular grid.
    num_classes : int
    area_weighted : bool
        Weight grid points by their quadrature weights (true area); else count points.

    Returns
    -------
    torch.Tensor, shape (num_classes,), float64
        Sums to 1.
    """
    if targets.ndim != 3 or targets.shape[1] != targets.shape[2] or targets.shape[1] % 2:
        raise ValueError(f"expected targets of shape (N, 2B, 2B), got {tuple(targets.shape)}")
    targets = targets.to(torch.int64)
    if area_weighted:
        weights = EquiangularGrid(targets.shape[1] // 2).weights.expand(targets.shape)
    else:
        weights = torch.ones(targets.shape, dtype=torch.float64)
    totals = torch.zeros(num_classes, dtype=torch.float64)
    totals.index_add_(0, targets.flatten(), weights.flatten())
    return totals / totals.sum()


class SphericalSegmentationDataset(Dataset):
    """Spheres carrying several objects, with a class label at every grid point.

    Item ``i`` is ``(signal, target)``: ``signal`` float32 of shape ``(1, 2B, 2B)``
    in [0, 1] and ``target`` int64 of shape ``(2B, 2B)`` with 0 = background and
    source class ``c`` -> ``c + 1`` (11 classes, named in ``class_names``). The
    placement of every object is kept (``object_rotations``, ``object_sizes``,
    ``object_classes``, ``object_indices``; absent slots have class -1).

    Parameters
    ----------
    signals : (N, 2B, 2B) uint8
    targets : (N, 2B, 2B) uint8 or int
    objects : dict of arrays
        ``rotations`` (N, K, 3, 3), ``sizes`` (N, K) degrees, ``classes`` (N, K),
        ``indices`` (N, K) into the source split.
    class_names : sequence of 10 str
        Source class names; "background" is put first.
    options : dict, optional
    """

    def __init__(
        self,
        signals: torch.Tensor | np.ndarray,
        targets: torch.Tensor | np.ndarray,
        objects: dict[str, Any],
        class_names: Sequence[str] = FASHION_MNIST_CLASSES,
        options: dict[str, Any] | None = None,
    ) -> None:
        signals, targets = torch.as_tensor(signals), torch.as_tensor(targets)
        if signals.dtype != torch.uint8 or signals.ndim != 3 or signals.shape[1] % 2:
            raise ValueError(
                f"expected uint8 signals of shape (N, 2B, 2B), got {signals.dtype} "
                f"{tuple(signals.shape)}"
            )
        if targets.shape != signals.shape:
            raise ValueError(
                f"expected targets of shape {tuple(signals.shape)}, got {tuple(targets.shape)}"
            )
        self.signals, self.targets = signals, targets
        self.object_rotations = torch.as_tensor(objects["rotations"]).to(torch.float32)
        self.object_sizes = torch.as_tensor(objects["sizes"])
        self.object_classes = torch.as_tensor(objects["classes"]).to(torch.int64)
        self.object_indices = torch.as_tensor(objects["indices"]).to(torch.int64)
        self.bandwidth = signals.shape[1] // 2
        self.class_names = ("background", *class_names)
        self.options = dict(options or {})

    @property
    def grid(self) -> EquiangularGrid:
        """The grid the signals live on."""
        return EquiangularGrid(self.bandwidth)

    def class_frequencies(self, area_weighted: bool = True) -> torch.Tensor:
        """Fraction of the sphere each of the 11 classes covers; see :func:`class_frequencies`."""
        return class_frequencies(self.targets, len(self.class_names), area_weighted)

    def __len__(self) -> int:
        return len(self.signals)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        signal = self.signals[index].to(torch.float32).div_(255).unsqueeze(0)
        return signal, self.targets[index].to(torch.int64)

    def __repr__(self) -> str:
        return (
            f"SphericalSegmentationDataset({len(self)} spheres, bandwidth={self.bandwidth}, "
            f"options={self.options})"
        )


def make_spherical_segmentation(
    split: Literal["train", "test"] = "train",
    *,
    bandwidth: int = 30,
    rotation: RotationMode = "R",
    size: int | None = None,
    objects: int | tuple[int, int] = (2, 4),
    object_size: float | tuple[float, float] = (30.0, 45.0),
    overlap: Literal["reject", "allow"] = "reject",
    min_separation: float | None = None,
    threshold: float = 0.25,
    seed: int = 0,
    source: str | os.PathLike[str] | None = None,
    class_names: Sequence[str] = FASHION_MNIST_CLASSES,
    cache_dir: str | os.PathLike[str] | None = None,
    cache: bool = True,
    rebuild: bool = False,
    chunk_size: int = 256,
    device: torch.device | str | None = None,
    progress: Callable[[int], None] | None = None,
    num_threads: int | None = 1,
) -> SphericalSegmentationDataset:
    """Build (or load from the cache) one split of a spherical segmentation set.

    Each of ``size`` spheres gets a seeded number of objects, each a random
    image of ``split`` (drawn with replacement) at a random position and
    orientation, composed and labelled as in the module docstring. The same
    seed gives the same set; train and test use different streams.

    Parameters
    ----------
    split : {"train", "test"}
    bandwidth : int
        Grid bandwidth ``B`` (grid ``2B x 2B``).
    rotation : {"R", "NR"}
        ``"R"``: objects at uniformly random rotations; ``"NR"``: at uniformly
        random positions but upright (top towards the north pole), the
        segmentation counterpart of the classification protocol's upright sets.
    size : int, optional
        Number of spheres; default the number of images in the split.
    objects, object_size, overlap, min_separation
        See :func:`~equisphere.data.placement.place_objects`.
    threshold : float
        Least object intensity in [0, 1) that is labelled as the object; the
        default 0.25 keeps the dark-grey interiors of garments inside their label.
    seed : int
    source : str or path-like, optional
        Folder with MNIST-layout IDX files; default the built-in subset.
    class_names : sequence of 10 str
    cache_dir, cache, rebuild
        As in :func:`~equisphere.data.classification.make_spherical_classification`.
    chunk_size : int
        Spheres per chunk.
    device, progress
        Where to compute; called with the number of spheres done per chunk.
    num_threads : int or None
        Torch CPU threads while composing (see
        :func:`~equisphere.data.stereographic.cpu_threads`); None keeps torch's.

    Returns
    -------
    SphericalSegmentationDataset

    Examples
    --------
    >>> data = make_spherical_segmentation("test", size=4, cache=False)
    >>> signal, target = data[0]
    >>> tuple(target.shape), data.class_names[0], int(target.max()) <= 10
    ((60, 60), 'background', True)
    """
    bandwidth = check_bandwidth(bandwidth)
    if not 0 <= threshold < 1:
        raise ValueError(f"expected threshold in [0, 1), got {threshold!r}")
    if chunk_size < 1:
        raise ValueError(f"expected chunk_size >= 1, got {chunk_size}")
    derive_seed(seed)
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"expected size (number of spheres) to be a positive int, got {size!r}")
    options = {
        "generator": GENERATOR_VERSION,
        "split": split,
        "bandwidth": bandwidth,
        "rotation": check_rotation_mode(rotation),
        "size": size,
        "objects": list(check_range(objects, "objects", 1, 64)),
        "object_size": list(check_range(object_size, "object_size (degrees)", 1e-3, 89.0)),
        "overlap": overlap,
        "min_separation": min_separation,
        "threshold": threshold,
        "seed": seed,
    }
    sources = source_checksums(source, split)

    def build() -> dict[str, np.ndarray]:
        images, labels = load_fashion_mnist(source, split)
        count = len(images) if size is None else size
        generator = torch.Generator().manual_seed(derive_seed(seed, "segmentation", split))
        placement = place_objects(
            count, objects, object_size, overlap, min_separation, rotation, generator=generator
        )
        slots = placement["present"].shape[1]
        indices = torch.randint(0, len(images), (count, slots), generator=generator)
        indices = torch.where(placement["present"], indices, -1)
        classes = torch.where(indices >= 0, torch.from_numpy(labels)[indices.clamp_min(0)], -1)

        signals = torch.empty((count, 2 * bandwidth, 2 * bandwidth), dtype=torch.uint8)
        targets = torch.empty_like(signals)
        source_images = torch.from_numpy(images)
        on_cpu = torch.device(device or "cpu").type == "cpu"
        with cpu_threads(num_threads if on_cpu else None):
            for start in range(0, count, chunk_size):
                part = slice(start, min(start + chunk_size, count))
                chunk_images = source_images[indices[part].clamp_min(0)].to(device or "cpu")
                chunk_placement = {key: value[part] for key, value in placement.items()}
                chunk_signals, chunk_targets = compose_objects(
                    chunk_images, classes[part].clamp_min(0), chunk_placement, bandwidth, threshold
                )
                signals[part], targets[part] = chunk_signals.cpu(), chunk_targets.cpu()
                if progress is not None:
                    progress(part.stop - part.start)
        return {
            "signals": signals.numpy(),
            "targets": targets.numpy(),
            "rotations": placement["rotations"].numpy(),
            "sizes": placement["sizes"].numpy(),
            "classes": classes.numpy(),
            "indices": indices.numpy(),
        }

    if cache:
        arrays, path = load_or_build(
            "segmentation",
            options,
            sources,
            build,
            cache_dir,
            required=("signals", "targets", "rotations", "sizes", "classes", "indices"),
            rebuild=rebuild,
        )
        options["cache_file"] = str(Path(path))
    else:
        arrays = build()
    objects_arrays = {key: arrays[key] for key in ("rotations", "sizes", "classes", "indices")}
    return SphericalSegmentationDataset(
        arrays["signals"], arrays["targets"], objects_arrays, class_names, options
    )
