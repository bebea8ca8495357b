"""Fisheye segmentation: a camera image in, a label per pixel out, through the sphere or not.

Two ways through (``domain``):

- ``"sphere"``: the image is resampled onto the equiangular grid of bandwidth
  ``B`` in the camera frame (north pole = optical axis, box-filtered; the
  camera's coverage of each cell is an extra input channel); a spherical model
  (``s2-segmenter``) gives logits on the sphere; they are drawn back into the
  image bilinearly (as class probabilities) and the argmax is the label.
- ``"image"``: a planar model (``planar-unet``) reads the raw fisheye image
  (plus a channel marking the pixels that see a ray) and gives logits per pixel.

Either way the prediction is judged twice: in the image (pixel-counted IoU over
the pixels the lens sees, ignore labels left out) and on the sphere
(area-weighted IoU over the grid points the camera covers, targets being the
label image resampled to the grid by the nearest pixel). Predictions cross
over: sphere probabilities go to the image bilinearly, image probabilities to
the sphere by the box-filtered camera map. The loss is cross-entropy in the
model's own domain, area-weighted on the sphere.

Data come from WoodScape-style folders (:mod:`equisphere.data.woodscape`),
given or generated (:mod:`equisphere.data.fisheye_scenes`) from the config's
``data`` section; see :class:`FisheyeOptions` for the keys of ``data.options``.
``data.train_rotation`` / ``test_rotation`` choose the cameras of generated
sets: ``NR`` upright (mounted, random heading), ``R`` uniformly rotated.
``data.augment: rotation`` turns each training camera by a random rotation
(optical axis tilted at most ``augment_max_tilt`` degrees) by resampling the
image (:mod:`equisphere.training.fisheye_views`).

Conventions: images ``(N, 3, H, W)``; sphere signals ``(N, C, 2B, 2B)``;
camera frame and grid as in docs/conventions.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from equisphere.cameras import Camera
from equisphere.data.cache import default_cache_dir
from equisphere.data.fisheye_scenes import generate_fisheye_scenes
from equisphere.data.woodscape import IGNORE_INDEX, WoodScapeDataset
from equisphere.models import build_model, count_parameters, fill_data_options
from equisphere.models.registry import model_options
from equisphere.resample import MapCache, camera_to_sphere_map, sphere_to_camera_map
from equisphere.sphere import EquiangularGrid
from equisphere.training.config import Config, ConfigError, config_from_dict, config_to_dict
from equisphere.training.datamodules import _SphericalDataModule
from equisphere.training.fisheye_metrics import WeightedIoU
from equisphere.training.fisheye_views import random_camera_turns, rotate_view

__all__ = [
    "FisheyeDataModule",
    "FisheyeOptions",
    "FisheyePrediction",
    "FisheyeSegmentationTask",
    "fisheye_options",
]

logger = logging.getLogger(__name__)

Domain = Literal["sphere", "image"]
_DEFAULT_SIZES = {"train": 800, "test": 200}
# Resampling maps shared by every fisheye task of the process (one camera, grid: a few MB).
_MAPS = MapCache(max_entries=64)


@dataclass
class FisheyeOptions:
    """The keys of ``data.options`` for fisheye segmentation.

    ``train_root`` / ``test_root`` name WoodScape-style folders to read; without
    them sets are generated from ``panoramas`` (required then) with the
    remaining keys (see :func:`~equisphere.data.generate_fisheye_scenes`) into
    ``<data.cache_dir>/fisheye/``.
    """

    domain: Domain | None = None  # default: "sphere" if the model takes a bandwidth
    train_root: str | None = None
    test_root: str | None = None
    class_names: list[str] | None = None
    panoramas: str | None = None
    camera: str | None = None
    image_size: list[int] = field(default_factory=lambda: [160, 120])
    max_incidence_deg: float | None = None
    objects: list[int] = field(default_factory=lambda: [3, 5])
    object_size: list[float] = field(default_factory=lambda: [30.0, 40.0])
    object_rotation: Literal["NR", "R"] = "NR"
    threshold: float = 0.25
    opacity: float = 0.9
    panorama_height: int | None = None
    coverage_channel: bool = True
    augment_max_tilt: float = 90.0


def fisheye_options(config: Config) -> FisheyeOptions:
    """``config.data.options`` checked against :class:`FisheyeOptions` (``ConfigError`` if not)."""
    from equisphere.training.config import _build_section

    try:
        options = _build_section(FisheyeOptions, "data.options", config.data.options)
    except ConfigError as error:
        raise ConfigError(f"fisheye segmentation: {error}") from None
    if options.domain is None:
        takes_bandwidth = "bandwidth" in model_options(config.model.name)
        options.domain = "sphere" if takes_bandwidth else "image"
    if options.train_root is None and options.panoramas is None:
        raise ConfigError(
            "fisheye segmentation needs data.options.train_root and test_root (WoodScape-style "
            "folders) or data.options.panoramas (a folder of equirectangular images to "
            "generate sets from)"
        )
    return options


class _GlobalCameras(Dataset):
    """A WoodScape dataset whose camera indices point into a table shared by all splits."""

    def __init__(self, dataset: WoodScapeDataset, table: list[Camera]) -> None:
        self.dataset = dataset
        for camera in dataset.cameras:
            if camera not in table:
                table.append(camera)
        self.to_global = [table.index(camera) for camera in dataset.cameras]

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        image, labels, camera = self.dataset[index]
        return image, labels, self.to_global[camera]


class FisheyeDataModule(_SphericalDataModule):
    """Fisheye images, label images and cameras for training, validation and testing.

    Batches are ``(images, labels, camera_indices)``: ``(N, 3, H, W)`` float,
    ``(N, H, W)`` int64 (255 = ignore) and ``(N,)`` indices into :attr:`cameras`.
    Validation is a seeded hold-out of the training set.
    """

    def __init__(self, config: Config, options: FisheyeOptions | None = None) -> None:
        data = config.data
        super().__init__(
            val_size=data.val_size,
            val_fraction=data.val_fraction,
            seed=data.seed,
            batch_size=data.batch_size,
            num_workers=data.num_workers,
            pin_memory=False,
        )
        self.config = config
        self.options = options or fisheye_options(config)
        self.orientations = {"train": data.train_rotation, "test": data.test_rotation}
        self.cameras: list[Camera] = []
        self.datasets: dict[str, WoodScapeDataset] = {}

    def root(self, split: Literal["train", "test"], rotation: str | None = None) -> Path:
        """The folder of ``split``: given, or generated (first use) for camera ``rotation``."""
        options, data = self.options, self.config.data
        if options.train_root is not None:
            given = options.train_root if split == "train" else options.test_root
            if given is None:
                raise ConfigError(f"expected data.options.{split}_root, got none")
            return Path(given)
        rotation = rotation or self.orientations[split]
        generation = {
            "split": split,
            "size": (data.train_size if split == "train" else data.test_size)
            or _DEFAULT_SIZES[split],
            "orientation": "upright" if rotation == "NR" else "rotated",
            "camera": options.camera,
            "image_size": tuple(options.image_size),
            "max_incidence_deg": options.max_incidence_deg,
            "objects": tuple(options.objects),
            "object_size": tuple(options.object_size),
            "object_rotation": options.object_rotation,
            "threshold": options.threshold,
            "opacity": options.opacity,
            "panorama_height": options.panorama_height,
            "seed": data.seed,
            "source": data.source,
        }
        key = json.dumps({**generation, "panoramas": str(Path(options.panoramas).resolve())})
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        base = Path(data.cache_dir) if data.cache_dir else default_cache_dir()
        folder = base / "fisheye" / f"{split}-{generation['orientation']}-{digest}"
        return generate_fisheye_scenes(folder, options.panoramas, **generation)

    def dataset(self, split: Literal["train", "test"], rotation: str | None = None) -> Dataset:
        """The set of ``split`` (cameras of generated sets ``rotation``, default the config's)."""
        root = self.root(split, rotation)
        key = str(root)
        if key not in self.datasets:
            given = self.options.train_root is not None
            self.datasets[key] = WoodScapeDataset(
                root,
                class_names=self.options.class_names,
                image_size=tuple(self.options.image_size) if given else None,
                preload=True,
            )
        return _GlobalCameras(self.datasets[key], self.cameras)

    def _make(self, split: Literal["train", "test"]) -> Dataset:
        return self.dataset(split)

    def prepare_data(self) -> None:
        """Generate (or find) both sets."""
        self.root("train")
        self.root("test")

    @property
    def class_names(self) -> tuple[str, ...]:
        """The class names of the training set."""
        self.dataset("train")
        return next(iter(self.datasets.values())).class_names

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def in_channels(self) -> int:
        return 3


@dataclass
class FisheyePrediction:
    """What a fisheye segmenter says about a batch of images from one camera.

    Attributes
    ----------
    image_scores : (N, K, H, W) class probabilities per pixel
    image_valid : (H, W) bool, pixels that see a ray
    sphere_scores : (N, K, 2B, 2B) class probabilities per grid point
    sphere_covered : (2B, 2B) bool, grid points the camera sees
    """

    image_scores: torch.Tensor
    image_valid: torch.Tensor
    sphere_scores: torch.Tensor
    sphere_covered: torch.Tensor

    @property
    def image_labels(self) -> torch.Tensor:
        """``(N, H, W)`` argmax labels; 255 where the lens sees nothing."""
        labels = self.image_scores.argmax(dim=1)
        return torch.where(self.image_valid, labels, IGNORE_INDEX)

    @property
    def sphere_labels(self) -> torch.Tensor:
        """``(N, 2B, 2B)`` argmax labels; 255 where the camera sees nothing."""
        labels = self.sphere_scores.argmax(dim=1)
        return torch.where(self.sphere_covered, labels, IGNORE_INDEX)


class FisheyeSegmentationTask(L.LightningModule):
    """Train and run a segmenter on fisheye images, on the sphere or on the raw image.

    Parameters
    ----------
    config : Config or dict
    n_classes : int
    class_names : list of str, optional
    domain : {"sphere", "image"}, optional
        Default from ``config.data.options`` (:func:`fisheye_options`).
    """

    def __init__(
        self,
        config: Config | dict[str, Any],
        n_classes: int,
        class_names: list[str] | None = None,
        domain: Domain | None = None,
    ) -> None:
        super().__init__()
        config_dict = config_to_dict(config) if dataclasses.is_dataclass(config) else dict(config)
        self.config = config_from_dict(config_dict)
        options = fisheye_options(self.config)
        self.domain = domain or options.domain
        if self.domain not in ("sphere", "image"):
            raise ValueError(f"expected domain 'sphere' or 'image', got {self.domain!r}")
        self.save_hyperparameters(
            {
                "kind": "fisheye-segmentation",
                "config": config_dict,
                "n_classes": n_classes,
                "class_names": None if class_names is None else list(class_names),
                "domain": self.domain,
            }
        )
        self.n_classes, self.coverage_channel = n_classes, options.coverage_channel
        self.augment, self.max_tilt = self.config.data.augment, options.augment_max_tilt
        self.grid = EquiangularGrid(self.config.data.bandwidth)
        self.in_channels = 3 + int(self.coverage_channel)
        model_kwargs = fill_data_options(
            self.config.model.name,
            self.config.model.options,
            bandwidth=self.config.data.bandwidth,
            in_channels=self.in_channels,
            n_classes=n_classes,
        )
        self.model = build_model(self.config.model.name, **model_kwargs)
        weights = self.grid.weights.to(torch.float32)
        self.register_buffer("area", weights / weights.mean(), persistent=False)
        self.metrics = torch.nn.ModuleDict(
            {
                f"{stage}_{where}": WeightedIoU(n_classes)
                for stage in ("train", "val", "test")
                for where in ("image", "sphere")
            }
        )
        self.maps = _MAPS
        self.cameras: list[Camera] = []
        logger.debug("fisheye task (%s): %d parameters", self.domain, count_parameters(self.model))

    @property
    def class_names(self) -> list[str]:
        names = self.hparams.get("class_names")
        return list(names) if names else [f"class {k}" for k in range(self.n_classes)]

    def setup(self, stage: str) -> None:
        """Share the data module's camera table (and class names, for the checkpoint)."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if datamodule is not None:
            self.cameras = datamodule.cameras
            if self.hparams.get("class_names") is None:
                self.hparams["class_names"] = list(datamodule.class_names)

    # ----- geometry ------------------------------------------------------------------

    def image_valid(self, camera: Camera, device: torch.device | str = "cpu") -> torch.Tensor:
        """``(H, W)`` bool: pixels that see a ray (through the cached sphere -> image map)."""
        to_image = sphere_to_camera_map(self.grid, camera, cache=self.maps)
        return to_image.coverage.to(device) > 0

    def network_input(self, images: torch.Tensor, camera: Camera) -> torch.Tensor:
        """What the model reads: ``(N, 3 [+1], 2B, 2B)`` on the sphere or ``(N, 3 [+1], H, W)``."""
        camera.check_image(images, "images")
        if self.domain == "sphere":
            to_sphere = camera_to_sphere_map(camera, self.grid, cache=self.maps)
            inputs, mask = to_sphere.apply(images), to_sphere.coverage_like(images)
        else:
            inputs, mask = images, self.image_valid(camera, images.device).to(images.dtype)
        if self.coverage_channel:
            inputs = torch.cat([inputs, mask.expand(images.shape[0], 1, *mask.shape)], dim=1)
        return inputs

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits of the model in its own domain."""
        return self.model(inputs)

    def crossover(self, logits: torch.Tensor, camera: Camera) -> FisheyePrediction:
        """Probabilities in both domains from logits in the model's domain."""
        scores = torch.softmax(logits, dim=1)
        image_valid = self.image_valid(camera, logits.device)
        to_sphere = camera_to_sphere_map(camera, self.grid, cache=self.maps)
        covered = to_sphere.coverage.to(logits.device) > 0
        if self.domain == "sphere":
            to_image = sphere_to_camera_map(self.grid, camera, cache=self.maps)
            return FisheyePrediction(to_image.apply(scores), image_valid, scores, covered)
        return FisheyePrediction(scores, image_valid, to_sphere.apply(scores), covered)

    def predict(self, images: torch.Tensor, camera: Camera) -> FisheyePrediction:
        """Run the model on images ``(N, 3, H, W)`` from ``camera`` (no gradients, eval mode)."""
        was_training = self.training
        self.eval()
        with torch.no_grad():
            prediction = self.crossover(self(self.network_input(images, camera)), camera)
        self.train(was_training)
        return prediction

    def sphere_targets(self, labels: torch.Tensor, camera: Camera) -> torch.Tensor:
        """Label images ``(N, H, W)`` on the grid by the nearest pixel; 255 where unseen."""
        nearest = camera_to_sphere_map(camera, self.grid, mode="nearest", cache=self.maps)
        return nearest.apply(labels, fill=IGNORE_INDEX)

    # ----- training ------------------------------------------------------------------

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, sphere_labels: torch.Tensor):
        """Cross-entropy in the model's domain (area-weighted mean over seen grid points)."""
        if self.domain == "image":
            return F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)
        per_point = F.cross_entropy(
            logits, sphere_labels, ignore_index=IGNORE_INDEX, reduction="none"
        )
        weight = self.area.to(per_point.dtype) * (sphere_labels != IGNORE_INDEX)
        return (per_point * weight).sum() / weight.sum().clamp_min(1e-12)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], stage: str):
        images, labels, camera_indices = batch
        total, count = 0.0, 0
        for index in camera_indices.unique().tolist():
            chosen = camera_indices == index
            camera = self.cameras[index]
            group_images, group_labels = images[chosen], labels[chosen]
            if stage == "train" and self.augment == "rotation":
                turns = random_camera_turns(int(chosen.sum()), self.max_tilt, _generator())
                group_images, group_labels, _ = rotate_view(
                    camera, turns, group_images, group_labels, IGNORE_INDEX
                )
            sphere_labels = self.sphere_targets(group_labels, camera)
            logits = self(self.network_input(group_images, camera))
            loss = self.loss(logits, group_labels, sphere_labels)
            total, count = total + loss * len(group_labels), count + len(group_labels)
            with torch.no_grad():
                prediction = self.crossover(logits.detach(), camera)
                self.metrics[f"{stage}_image"].update(
                    prediction.image_labels, group_labels, prediction.image_valid
                )
                self.metrics[f"{stage}_sphere"].update(
                    prediction.sphere_labels, sphere_labels, self.area
                )
        loss = total / count
        on_step = stage == "train"
        self.log(
            f"{stage}/loss",
            loss,
            on_step=on_step,
            on_epoch=True,
            prog_bar=True,
            batch_size=count,
            sync_dist=not on_step,
        )
        for where in ("image", "sphere"):
            self.log(
                f"{stage}/miou_{where}",
                self.metrics[f"{stage}_{where}"],
                on_step=False,
                on_epoch=True,
                prog_bar=where == "image",
            )
        return loss

    def training_step(self, batch, batch_idx: int):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int):
        return self._step(batch, "val")

    def test_step(self, batch, batch_idx: int):
        return self._step(batch, "test")

    def configure_optimizers(self) -> Any:
        from equisphere.training.module import SphericalTask

        return SphericalTask.configure_optimizers(self)


def _generator() -> torch.Generator:
    # Seeded from torch's global generator, so that seed_everything fixes the turns.
    return torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
