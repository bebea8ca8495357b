"""Tiny synthetic spherical data sets, so training tests run in seconds without real data."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from equisphere.sphere import EquiangularGrid


def synthetic_classification(count: int, bandwidth: int, n_classes: int, seed: int):
    """Class ``k`` is a bright cap around the ``k``-th of ``n_classes`` points, plus noise."""
    generator = torch.Generator().manual_seed(seed)
    points = EquiangularGrid(bandwidth).vectors().to(torch.float32)  # (2B, 2B, 3)
    centres = torch.nn.functional.normalize(
        torch.randn(n_classes, 3, generator=torch.Generator().manual_seed(1234)), dim=-1
    )
    labels = torch.arange(count) % n_classes
    caps = (points @ centres[labels].T).permute(2, 0, 1)  # (count, 2B, 2B)
    noise = 0.3 * torch.rand(count, 2 * bandwidth, 2 * bandwidth, generator=generator)
    signals = (caps.clamp(min=0) ** 4 + noise).clamp(0, 1)[:, None]
    return signals.contiguous(), labels


def synthetic_shapes(count: int, bandwidth: int, n_classes: int, seed: int):
    """Class ``k`` is a cap of width shrinking with ``k`` at a random place: rotation invariant.

    The caps of :func:`synthetic_classification` differ only in where they are, which a
    rotation-invariant classifier cannot tell apart; these differ in shape.
    """
    generator = torch.Generator().manual_seed(seed)
    points = EquiangularGrid(bandwidth).vectors().to(torch.float32)  # (2B, 2B, 3)
    centres = torch.nn.functional.normalize(torch.randn(count, 3, generator=generator), dim=-1)
    labels = torch.arange(count) % n_classes
    powers = 4.0 ** labels.to(torch.float32)  # 1, 4, 16, ...: narrower caps
    caps = (points @ centres.T).permute(2, 0, 1).clamp(min=0)  # (count, 2B, 2B)
    return (caps ** powers[:, None, None])[:, None].contiguous(), labels


def synthetic_segmentation(count: int, bandwidth: int, n_classes: int, seed: int):
    """The label of each grid point is the class whose cap is brightest there (0 if all dim)."""
    signals, _ = synthetic_classification(count, bandwidth, n_classes - 1, seed)
    labels = (signals[:, 0] > 0.6).long() * (1 + torch.arange(count) % (n_classes - 1))[
        :, None, None
    ]
    return signals, labels


class TinyDataModule(L.LightningDataModule):
    """In-memory classification or segmentation data on a small equiangular grid."""

    def __init__(self, task="classification", bandwidth=4, n_classes=4, size=64, batch_size=16):
        super().__init__()
        make = synthetic_classification if task == "classification" else synthetic_segmentation
        self.n_classes, self.in_channels, self.batch_size = n_classes, 1, batch_size
        self.train_set = TensorDataset(*make(size, bandwidth, n_classes, seed=0))
        self.val_set = TensorDataset(*make(size // 2, bandwidth, n_classes, seed=1))

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.batch_size)

    def test_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.batch_size)


# Model sections of small equivariant models on the bandwidth-4 grid, by task.
TINY_EQUIVARIANT = {
    "classification": {"name": "test-s2cnn-tiny", "options": {}},
    "segmentation": {
        "name": "s2-segmenter",
        "options": {"bandwidths": [3, 2], "channels": [4, 8], "head_channels": 4},
    },
}
