"""Segmentation metric on the sphere: intersection over union measured in area.

On an equiangular grid the points near the poles stand for far less area than
those at the equator, so counting grid points would overweight the poles.
Here every point counts with its quadrature weight (its share of the
sphere's ``4 pi`` steradians).
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from equisphere.sphere import EquiangularGrid

__all__ = ["AreaWeightedIoU", "area_weighted_iou"]


def area_weighted_iou(
    prediction: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, n_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Intersection and union areas per class.

    Parameters
    ----------
    prediction, target : torch.Tensor, shape (N, H, W), integer labels in ``[0, n_classes)``
    weights : torch.Tensor, shape (H, W)
        Area of each grid point (steradians).
    n_classes : int

    Returns
    -------
    (torch.Tensor, torch.Tensor), each shape (n_classes,), float64
        Intersection and union areas, summed over the batch.
    """
    if prediction.shape != target.shape or prediction.shape[-2:] != weights.shape:
        raise ValueError(
            f"expected prediction and target of shape (N, {weights.shape[0]}, {weights.shape[1]}), "
            f"got {tuple(prediction.shape)} and {tuple(target.shape)}"
        )
    area = weights.to(device=prediction.device, dtype=torch.float64).expand(prediction.shape)
    agree = prediction == target
    intersection = torch.zeros(n_classes, dtype=torch.float64, device=prediction.device)
    intersection.index_add_(0, target[agree].flatten(), area[agree].flatten())
    predicted_area = torch.zeros_like(intersection).index_add_(
        0, prediction.flatten(), area.flatten()
    )
    target_area = torch.zeros_like(intersection).index_add_(0, target.flatten(), area.flatten())
    return intersection, predicted_area + target_area - intersection


class AreaWeightedIoU(Metric):
    """Mean intersection over union of label maps on the equiangular grid, by area.

    ``IoU_c = area(pred = c and target = c) / area(pred = c or target = c)``,
    accumulated over all updates; the mean is over the classes that appear in
    the prediction or the target (classes with no area are left out, not
    counted as 0 or 1). States are summed across processes.

    Parameters
    ----------
    n_classes : int
    bandwidth : int
        Bandwidth ``B`` of the ``2B x 2B`` equiangular grid.

    Examples
    --------
    >>> metric = AreaWeightedIoU(n_classes=2, bandwidth=2)
    >>> labels = torch.zeros(1, 4, 4, dtype=torch.long)
    >>> labels[:, :2] = 1  # northern hemisphere is class 1
    >>> metric.update(labels, labels)
    >>> float(metric.compute())
    1.0
    """

    full_state_update = False

    def __init__(self, n_classes: int, bandwidth: int) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.register_buffer(
            "weights", EquiangularGrid(bandwidth).weights.to(torch.float64), persistent=False
        )
        zeros = torch.zeros(n_classes, dtype=torch.float64)
        self.add_state("intersection", default=zeros.clone(), dist_reduce_fx="sum")
        self.add_state("union", default=zeros.clone(), dist_reduce_fx="sum")

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch of predicted and true label maps, each ``(N, 2B, 2B)``."""
        intersection, union = area_weighted_iou(prediction, target, self.weights, self.n_classes)
        self.intersection += intersection
        self.union += union

    def per_class(self) -> torch.Tensor:
        """IoU of each class, shape (n_classes,); NaN for classes that never appeared."""
        return torch.where(self.union > 0, self.intersection / self.union, torch.nan)

    def compute(self) -> torch.Tensor:
        """Mean IoU over the classes that appeared."""
        return self.per_class().nanmean()
