"""Lightning DataModules over the spherical classification and segmentation sets.

``setup()`` builds the sets on first use and afterwards loads them from the
cache (:mod:`equisphere.data.cache`); the validation split is a seeded random
part of the training set (same rotation mode as training), so test images are
never seen before testing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, Literal

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from equisphere.data.classification import make_spherical_classification
from equisphere.data.segmentation import make_spherical_segmentation
from equisphere.data.settings import (
    RotationMode,
    check_rotation_mode,
    derive_seed,
    parse_rotation_setting,
)

__all__ = ["SphericalClassificationDataModule", "SphericalSegmentationDataModule"]

logger = logging.getLogger(__name__)


def _rotation_modes(train: str, test: str | None) -> tuple[RotationMode, RotationMode]:
    """Accept ``("NR", "R")`` or a combined setting ``"NR/R"`` in ``train`` (``test`` None)."""
    if "/" in str(train):
        if test is not None:
            raise ValueError(
                f"expected either a setting like 'NR/R' or separate train and test rotations, "
                f"got train_rotation={train!r} and test_rotation={test!r}"
            )
        return parse_rotation_setting(train)
    return check_rotation_mode(train, "train_rotation"), check_rotation_mode(
        test if test is not None else train, "test_rotation"
    )


def _split_validation(
    dataset: Dataset, val_size: int | None, val_fraction: float, seed: int
) -> tuple[Subset, Subset | None]:
    """A seeded random hold-out of ``val_size`` (else ``val_fraction`` of) the samples."""
    count = len(dataset)
    val_count = round(count * val_fraction) if val_size is None else val_size
    if val_count == 0:
        return Subset(dataset, list(range(count))), None
    if not 0 < val_count < count:
        raise ValueError(
            f"holding out {val_count} of {count} training samples for validation leaves no "
            "training samples; choose a smaller val_size or val_fraction, or more training samples"
        )
    generator = torch.Generator().manual_seed(derive_seed(seed, "validation"))
    order = torch.randperm(count, generator=generator).tolist()
    return Subset(dataset, sorted(order[val_count:])), Subset(dataset, sorted(order[:val_count]))


class _SphericalDataModule(L.LightningDataModule):
    """Shared loaders and validation split; subclasses build the sets in ``_make``."""

    def __init__(
        self,
        *,
        val_size: int | None,
        val_fraction: float,
        seed: int,
        batch_size: int,
        num_workers: int,
        pin_memory: bool,
    ) -> None:
        super().__init__()
        if not 0 <= val_fraction < 1:
            raise ValueError(f"expected val_fraction in [0, 1), got {val_fraction!r}")
        if val_size is not None and (isinstance(val_size, bool) or val_size < 0):
            raise ValueError(f"expected val_size >= 0 or None, got {val_size!r}")
        if batch_size < 1 or num_workers < 0:
            raise ValueError(
                f"expected batch_size >= 1 and num_workers >= 0, got {batch_size} and {num_workers}"
            )
        self.val_size, self.val_fraction, self.seed = val_size, val_fraction, seed
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.full_train_set: Any = None

    # Subclasses define _make(split) -> dataset, which builds or loads one split.
    _make: Callable[[Literal["train", "test"]], Any]

    def prepare_data(self) -> None:
        """Build and cache both splits once (runs on one process per node)."""
        self._make("train")
        self._make("test")

    def setup(self, stage: str | None = None) -> None:
        """Load (or build) the sets; hold out the validation part of the training set."""
        if stage in (None, "fit", "validate") and self.train_set is None:
            self.full_train_set = self._make("train")
            self.train_set, self.val_set = _split_validation(
                self.full_train_set, self.val_size, self.val_fraction, self.seed
            )
        if stage in (None, "test", "predict") and self.test_set is None:
            self.test_set = self._make("test")

    def _loader(self, dataset: Dataset | None, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise ValueError("the data sets are not built yet: call setup() first")
        generator = torch.Generator().manual_seed(derive_seed(self.seed, "shuffle"))
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            generator=generator if shuffle else None,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        """The validation loader; an empty list (no validation) when ``val_size=0``."""
        if self.val_set is None and self.train_set is not None:
            return []
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)


class SphericalClassificationDataModule(_SphericalDataModule):
    """Spherical MNIST-style classification (train / validation / test) for Lightning.

    Builds :func:`~equisphere.data.make_spherical_classification` sets for the
    train and test splits with their own rotation modes (the protocol's
    settings ``NR/NR``, ``R/R``, ``NR/R``; pass ``train_rotation="NR/R"`` alone
    for a combined setting), caches them, and holds out ``val_fraction`` of the
    training images for validation. Batches are ``(signals, labels)`` with
    signals ``(batch, 1, 2B, 2B)`` float32 in [0, 1] and labels int64.

    Parameters
    ----------
    bandwidth : int
        Grid bandwidth ``B`` (30 in the protocol).
    train_rotation, test_rotation : {"NR", "R"} or a setting "NR/R"
    train_size, test_size : int, optional
        Number of source images per split; default all.
    val_size : int, optional
        Training images held out for validation (0: no validation); default
        ``val_fraction`` of them.
    val_fraction : float
        Part of the training images held out when ``val_size`` is None.
    seed : int
        Seeds the rotations, the validation split and the shuffling.
    source : str or path-like, optional
        Folder with MNIST-layout IDX files; None for the built-in subset.
    cache_dir : str or path-like, optional
        Default ``$EQUISPHERE_CACHE`` or ``~/.cache/equisphere``.
    batch_size, num_workers, pin_memory
        DataLoader settings.
    """

    def __init__(
        self,
        bandwidth: int = 30,
        train_rotation: str = "NR",
        test_rotation: str | None = None,
        train_size: int | None = None,
        test_size: int | None = None,
        val_size: int | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        source: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(
            val_size=val_size,
            val_fraction=val_fraction,
            seed=seed,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=pin_memory,
        )
        self.train_rotation, self.test_rotation = _rotation_modes(train_rotation, test_rotation)
        self.bandwidth = bandwidth
        self.sizes = {"train": train_size, "test": test_size}
        self.source, self.cache_dir = source, cache_dir
        self.n_classes, self.in_channels = 10, 1
        self.save_hyperparameters()

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the 10 classes."""
        return (
            self._make("test").class_names if self.test_set is None else self.test_set.class_names
        )

    def _make(self, split: Literal["train", "test"]) -> Any:
        return make_spherical_classification(
            split,
            bandwidth=self.bandwidth,
            rotation=self.train_rotation if split == "train" else self.test_rotation,
            seed=self.seed,
            size=self.sizes[split],
            source=self.source,
            cache_dir=self.cache_dir,
        )


class SphericalSegmentationDataModule(_SphericalDataModule):
    """Spherical segmentation (several objects per sphere, 11 classes) for Lightning.

    Builds :func:`~equisphere.data.make_spherical_segmentation` sets for the
    train and test splits (objects from the respective source split), caches
    them, and holds out ``val_fraction`` of the training spheres for
    validation. Batches are ``(signals, targets)``: signals
    ``(batch, 1, 2B, 2B)`` float32 in [0, 1], targets ``(batch, 2B, 2B)`` int64
    with 0 = background and class ``c`` -> ``c + 1``.

    Parameters
    ----------
    bandwidth : int
    train_rotation, test_rotation : {"NR", "R"} or a setting "NR/R"
        ``"R"``: objects at random rotations; ``"NR"``: at random positions but
        upright (see :func:`~equisphere.data.make_spherical_segmentation`).
    train_size, test_size : int, optional
        Number of spheres; default the number of source images of the split.
    objects, object_size, overlap, min_separation, threshold
        See :func:`~equisphere.data.make_spherical_segmentation`.
    val_size, val_fraction, seed, source, cache_dir, batch_size, num_workers, pin_memory
        As in :class:`SphericalClassificationDataModule`.
    """

    def __init__(
        self,
        bandwidth: int = 30,
        train_rotation: str = "R",
        test_rotation: str | None = None,
        train_size: int | None = None,
        test_size: int | None = None,
        objects: int | tuple[int, int] = (2, 4),
        object_size: float | tuple[float, float] = (30.0, 45.0),
        overlap: Literal["reject", "allow"] = "reject",
        min_separation: float | None = None,
        threshold: float = 0.25,
        val_size: int | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        source: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(
            val_size=val_size,
            val_fraction=val_fraction,
            seed=seed,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=pin_memory,
        )
        self.train_rotation, self.test_rotation = _rotation_modes(train_rotation, test_rotation)
        self.bandwidth = bandwidth
        self.sizes = {"train": train_size, "test": test_size}
        self.n_classes, self.in_channels = 11, 1
        self.object_options = {
            "objects": objects,
            "object_size": object_size,
            "overlap": overlap,
            "min_separation": min_separation,
            "threshold": threshold,
        }
        self.source, self.cache_dir = source, cache_dir
        self.save_hyperparameters()

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the 11 classes, "background" first."""
        return (
            self._make("test").class_names if self.test_set is None else self.test_set.class_names
        )

    def _make(self, split: Literal["train", "test"]) -> Any:
        return make_spherical_segmentation(
            split,
            bandwidth=self.bandwidth,
            rotation=self.train_rotation if split == "train" else self.test_rotation,
            size=self.sizes[split],
            seed=self.seed,
            source=self.source,
            cache_dir=self.cache_dir,
            **self.object_options,
        )
