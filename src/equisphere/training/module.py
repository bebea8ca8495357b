"""The Lightning module that trains any registered model to classify or segment spheres.

One module for both tasks: the ``data.task`` field of the config switches the
loss and the metric. Classification uses cross-entropy and accuracy;
segmentation uses cross-entropy weighted by the area of each grid point and
the area-weighted mean IoU (:class:`~equisphere.training.metrics.AreaWeightedIoU`),
so that the crowded grid points near the poles do not dominate.

The whole config is stored in the checkpoint, so
``SphericalTask.load_from_checkpoint(path)`` rebuilds the model by name from
the registry without any other file.
"""

from __future__ import annotations

import logging
from dataclasses import is_dataclass
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy

from equisphere.models import build_model, count_parameters, fill_data_options
from equisphere.sphere import EquiangularGrid
from equisphere.training.augment import random_rotation_augment
from equisphere.training.config import Config, config_from_dict, config_to_dict
from equisphere.training.metrics import AreaWeightedIoU

__all__ = ["DEFAULT_N_CLASSES", "SphericalTask", "metric_name"]

logger = logging.getLogger(__name__)

# Ten garments or digits; segmentation adds the background class 0.
DEFAULT_N_CLASSES = {"classification": 10, "segmentation": 11}


def metric_name(task: str) -> str:
    """Name of the headline metric of a task: ``"accuracy"`` or ``"miou"``."""
    return "accuracy" if task == "classification" else "miou"


class SphericalTask(L.LightningModule):
    """Train, validate and test a registered model on signals on the equiangular grid.

    Parameters
    ----------
    config : Config or dict
        The training config; its ``model`` section names the model and its
        ``data`` section gives the task, bandwidth and augmentation.
    n_classes : int, optional
        Number of classes; default 10 for classification, 11 for segmentation.
    in_channels : int
        Channels of the input signal.
    class_names : list of str, optional
        Names of the classes; taken from the data module at the start of
        training when not given.

    Notes
    -----
    Batches are ``(signal, target)`` with ``signal`` of shape
    ``(N, in_channels, 2B, 2B)`` (float) and ``target`` of shape ``(N,)``
    (classification) or ``(N, 2B, 2B)`` (segmentation), int64.
    """

    def __init__(
        self,
        config: Config | dict[str, Any],
        n_classes: int | None = None,
        in_channels: int = 1,
        class_names: list[str] | None = None,
    ) -> None:
        super().__init__()
        config_dict = config_to_dict(config) if is_dataclass(config) else dict(config)
        self.config = config_from_dict(config_dict)
        data = self.config.data
        n_classes = n_classes or DEFAULT_N_CLASSES[data.task]
        if class_names is not None and len(class_names) != n_classes:
            raise ValueError(f"expected {n_classes} class names, got {len(class_names)}")
        self.save_hyperparameters(
            {
                "config": config_dict,
                "n_classes": n_classes,
                "in_channels": in_channels,
                "class_names": None if class_names is None else list(class_names),
            }
        )
        self.task, self.n_classes, self.in_channels = data.task, n_classes, in_channels
        self.bandwidth, self.augment = data.bandwidth, data.augment

        options = fill_data_options(
            self.config.model.name,
            self.config.model.options,
            bandwidth=data.bandwidth,
            in_channels=in_channels,
            n_classes=n_classes,
        )
        self.model = build_model(self.config.model.name, **options)
        # ModuleDict keys may not shadow nn.Module attributes such as "train".
        self.metrics = torch.nn.ModuleDict(
            {f"{stage}_metric": self.make_metric() for stage in ("train", "val", "test")}
        )
        # Area of each grid point, normalised to mean 1: the segmentation loss weights.
        weights = EquiangularGrid(data.bandwidth).weights
        self.register_buffer(
            "area_weights", (weights / weights.mean()).to(torch.float32), persistent=False
        )
        logger.debug("SphericalTask %s: %d parameters", self.task, count_parameters(self.model))

    def make_metric(self) -> torch.nn.Module:
        """A fresh metric: micro accuracy (classification) or area-weighted mIoU."""
        if self.task == "classification":
            return MulticlassAccuracy(num_classes=self.n_classes, average="micro")
        return AreaWeightedIoU(self.n_classes, self.bandwidth)

    @property
    def class_names(self) -> list[str]:
        """Names of the classes: the data's, or ``"class 0"``, ``"class 1"``, ... if unknown."""
        names = self.hparams.get("class_names")
        return list(names) if names else [f"class {k}" for k in range(self.n_classes)]

    def setup(self, stage: str) -> None:
        """Record the data module's class names, if it has them, so checkpoints carry them."""
        names = getattr(self.trainer.datamodule, "class_names", None)
        if self.hparams.get("class_names") is None and names and len(names) == self.n_classes:
            self.hparams["class_names"] = list(names)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """Logits: ``(N, n_classes)`` or ``(N, n_classes, 2B, 2B)`` of ``(N, C, 2B, 2B)``."""
        self.check_signal(signal)
        return self.model(signal)

    def check_signal(self, signal: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``signal`` is ``(N, in_channels, 2B, 2B)`` for this model."""
        size = 2 * self.bandwidth
        if signal.ndim != 4 or tuple(signal.shape[1:]) != (self.in_channels, size, size):
            raise ValueError(
                f"expected signals of shape (N, {self.in_channels}, {size}, {size}) on the "
                f"equiangular grid of bandwidth {self.bandwidth} this model was trained on, "
                f"got {tuple(signal.shape)}"
            )

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy; per grid point weighted by area for segmentation."""
        if self.task == "classification":
            return F.cross_entropy(logits, target)
        per_point = F.cross_entropy(logits, target, reduction="none")  # (N, 2B, 2B)
        return (per_point * self.area_weights.to(per_point.dtype)).mean()

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        signal, target = batch
        if stage == "train" and self.augment == "rotation":
            signal, target = random_rotation_augment(signal, target)
        logits = self(signal)
        loss = self.loss(logits, target)
        metric = self.metrics[f"{stage}_metric"]
        metric.update(logits.argmax(dim=1), target)
        on_step = stage == "train"
        self.log(
            f"{stage}/loss",
            loss,
            on_step=on_step,
            on_epoch=True,
            prog_bar=True,
            batch_size=signal.shape[0],
            sync_dist=not on_step,
        )
        self.log(
            f"{stage}/{metric_name(self.task)}",
            metric,
            on_step=False,
            on_epoch=True,
            prog_bar=True,
        )
        return loss

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        return self._step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        return self._step(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        signal = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(signal)

    def configure_optimizers(self) -> Any:
        optim = self.config.optim
        if optim.optimizer == "sgd":
            optimizer = torch.optim.SGD(
                self.parameters(),
                lr=optim.lr,
                momentum=optim.momentum,
                weight_decay=optim.weight_decay,
            )
        else:
            cls = torch.optim.Adam if optim.optimizer == "adam" else torch.optim.AdamW
            optimizer = cls(self.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
        if optim.scheduler == "none":
            return optimizer
        epochs = max(1, int(self.trainer.max_epochs or 1))
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
