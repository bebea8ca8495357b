"""Data: IDX files, Fashion-MNIST, spherical classification and segmentation sets, the cache.

- :func:`read_idx` reads MNIST-format files; :func:`load_fashion_mnist` reads a
  folder of them, or the subset shipped inside the package.
- :func:`make_spherical_classification` builds Spherical MNIST-style sets
  (:class:`SphericalClassificationDataset`); :func:`make_spherical_segmentation`
  builds spheres with several objects and a label per grid point
  (:class:`SphericalSegmentationDataset`).
- Generated sets are cached (:mod:`equisphere.data.cache`) with the options
  that made them.
"""

from equisphere.data.cache import CacheError, default_cache_dir
from equisphere.data.classification import (
    SphericalClassificationDataset,
    make_spherical_classification,
)
from equisphere.data.idx import IdxFormatError, read_idx, write_idx
from equisphere.data.placement import place_objects, upright_rotations
from equisphere.data.segmentation import (
    SphericalSegmentationDataset,
    class_frequencies,
    make_spherical_segmentation,
)
from equisphere.data.settings import RotationMode, check_rotation_mode, parse_rotation_setting
from equisphere.data.sources import FASHION_MNIST_CLASSES, builtin_folder, load_fashion_mnist
from equisphere.data.stereographic import (
    directions_from_plane,
    pixel_directions,
    plane_from_directions,
    project_images,
    sample_images,
)

__all__ = [
    "FASHION_MNIST_CLASSES",
    "CacheError",
    "IdxFormatError",
    "RotationMode",
    "SphericalClassificationDataset",
    "SphericalSegmentationDataset",
    "builtin_folder",
    "check_rotation_mode",
    "class_frequencies",
    "default_cache_dir",
    "directions_from_plane",
    "load_fashion_mnist",
    "make_spherical_classification",
    "make_spherical_segmentation",
    "parse_rotation_setting",
    "pixel_directions",
    "place_objects",
    "plane_from_directions",
    "project_images",
    "read_idx",
    "sample_images",
    "upright_rotations",
    "write_idx",
]
