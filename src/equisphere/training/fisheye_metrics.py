"""Intersection over union with a weight per pixel or grid point, and an ignore mask.

The same metric serves both places a fisheye prediction is judged: in the image
(every valid pixel weighs 1) and on the sphere (every covered grid point weighs
its quadrature area, so crowded points near the poles do not dominate).
Elements with weight 0, or whose target is the ignore index, count nowhere.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

__all__ = ["WeightedIoU", "weighted_iou"]


def weighted_iou(
    prediction: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor,
    n_classes: int,
    ignore_index: int = 255,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted intersection and union of each class.

    Parameters
    ----------
    prediction, target : torch.Tensor, same shape, integer labels
        Predictions in ``[0, n_classes)``; targets in ``[0, n_classes)`` or ``ignore_index``.
    weight : torch.Tensor, broadcastable to that shape
        Weight of each element (1 per pixel, or area per grid point); 0 leaves it out.
    n_classes : int
    ignore_index : int

    Returns
    -------
    (torch.Tensor, torch.Tensor), each (n_classes,), float64
    """
    if prediction.shape != target.shape:
        raise ValueError(
            f"expected prediction and target of one shape, got {tuple(prediction.shape)} and "
            f"{tuple(target.shape)}"
        )
    weight = torch.broadcast_to(weight.to(device=target.device, dtype=torch.float64), target.shape)
    keep = (target != ignore_index) & (weight > 0)
    prediction, target, weight = prediction[keep], target[keep], weight[keep]
    if prediction.numel() and (
        int(prediction.max()) >= n_classes or int(target.max()) >= n_classes
    ):
        raise ValueError(
            f"expected labels below {n_classes} (or the ignore index {ignore_index}), got "
            f"prediction up to {int(prediction.max())} and target up to {int(target.max())}"
        )
    zeros = torch.zeros(n_classes, dtype=torch.float64, device=target.device)
    agree = prediction == target
    intersection = zeros.index_add(0, target[agree], weight[agree])
    predicted = zeros.index_add(0, prediction, weight)
    actual = zeros.index_add(0, target, weight)
    return intersection, predicted + actual - intersection


class WeightedIoU(Metric):
    """Mean IoU accumulated over batches, each element weighted (see :func:`weighted_iou`).

    The mean is over the classes that appear in a prediction or a target;
    absent classes are NaN in :meth:`per_class` and left out of the mean.

    Examples
    --------
    >>> metric = WeightedIoU(n_classes=2)
    >>> target = torch.tensor([[0, 1, 1, 255]])
    >>> metric.update(torch.tensor([[0, 1, 0, 0]]), target, torch.ones(4))
    >>> [round(v, 3) for v in metric.per_class().tolist()]
    [0.5, 0.5]
    """

    full_state_update = False

    def __init__(self, n_classes: int, ignore_index: int = 255) -> None:
        super().__init__()
        self.n_classes, self.ignore_index = n_classes, ignore_index
        zeros = torch.zeros(n_classes, dtype=torch.float64)
        self.add_state("intersection", default=zeros.clone(), dist_reduce_fx="sum")
        self.add_state("union", default=zeros.clone(), dist_reduce_fx="sum")

    def update(self, prediction: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> None:
        """Add a batch of label maps with their element weights."""
        intersection, union = weighted_iou(
            prediction, target, weight, self.n_classes, self.ignore_index
        )
        self.intersection += intersection
        self.union += union

    def per_class(self) -> torch.Tensor:
        """IoU of each class, (n_classes,); NaN for classes that never appeared."""
        return torch.where(self.union > 0, self.intersection / self.union, torch.nan)

    def compute(self) -> torch.Tensor:
        """Mean IoU over the classes that appeared."""
        return self.per_class().nanmean()
