"""Models: a registry of named presets, the planar baselines and (from their own modules)
the equivariant S2CNN classifiers and segmenters.

Build any of them by name with :func:`build_model`; :func:`available_models` lists them.
"""

from equisphere.models import s2cnn, segmenter  # noqa: F401  (registers the equivariant models)
from equisphere.models.planar import PlanarCNN, PlanarUNet, width_for_parameters
from equisphere.models.registry import (
    available_models,
    build_model,
    count_parameters,
    fill_data_options,
    register_model,
)

__all__ = [
    "PlanarCNN",
    "PlanarUNet",
    "available_models",
    "build_model",
    "count_parameters",
    "fill_data_options",
    "register_model",
    "width_for_parameters",
]
