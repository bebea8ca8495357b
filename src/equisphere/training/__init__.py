"""Training, evaluation and prediction on PyTorch Lightning.

- :mod:`~equisphere.training.config`: YAML config files read into checked dataclasses.
- :class:`SphericalTask`: the Lightning module for classification and segmentation.
- :func:`train`: one run in a new folder (checkpoints, CSV and TensorBoard logs).
- :mod:`~equisphere.training.evaluate`: accuracy / area-weighted mIoU on upright and
  rotated test spheres, and the invariance or equivariance error of a checkpoint.
- :mod:`~equisphere.training.augment`, :mod:`~equisphere.training.metrics`,
  :mod:`~equisphere.training.predict`, :mod:`~equisphere.training.datamodules`.
"""

from equisphere.training.config import Config, ConfigError, config_from_dict, load_config
from equisphere.training.evaluate import (
    evaluate_checkpoint,
    evaluate_model,
    load_task,
    measure_equivariance,
)
from equisphere.training.module import SphericalTask
from equisphere.training.trainer import TrainResult, train

__all__ = [
    "Config",
    "ConfigError",
    "SphericalTask",
    "TrainResult",
    "config_from_dict",
    "evaluate_checkpoint",
    "evaluate_model",
    "load_config",
    "load_task",
    "measure_equivariance",
    "train",
]
