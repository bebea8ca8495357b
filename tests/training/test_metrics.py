"""Area-weighted mean IoU on the sphere."""

from __future__ import annotations

import numpy as np
import torch

from equisphere.sphere import EquiangularGrid
from equisphere.training.metrics import AreaWeightedIoU


def slow_miou(prediction, target, weights, n_classes):
    """Obvious loops: area of intersection and of union per class; mean over classes present."""
    prediction, target, weights = prediction.numpy(), target.numpy(), weights.numpy()
    ious = []
    for c in range(n_classes):
        inter = union = 0.0
        for n in range(prediction.shape[0]):
            for i in range(prediction.shape[1]):
                for j in range(prediction.shape[2]):
                    p, t = prediction[n, i, j] == c, target[n, i, j] == c
                    inter += weights[i, j] * (p and t)
                    union += weights[i, j] * (p or t)
        ious.append(inter / union if union > 0 else np.nan)
    return np.nanmean(ious), ious


def test_matches_a_slow_computation_over_several_updates():
    bandwidth, n_classes = 4, 5
    weights = EquiangularGrid(bandwidth).weights
    generator = torch.Generator().manual_seed(0)
    # Class 4 never appears: it must be left out of the mean, not counted as 0.
    target = torch.randint(0, 4, (6, 8, 8), generator=generator)
    prediction = torch.where(
        torch.rand(6, 8, 8, generator=generator) < 0.6,
        target,
        torch.randint(0, 4, (6, 8, 8), generator=generator),
    )
    metric = AreaWeightedIoU(n_classes, bandwidth)
    metric.update(prediction[:4], target[:4])
    metric.update(prediction[4:], target[4:])

    expected, per_class = slow_miou(prediction, target, weights, n_classes)

    assert abs(float(metric.compute()) - expected) < 1e-12
    np.testing.assert_allclose(metric.per_class()[:4].numpy(), per_class[:4], atol=1e-12)
    assert torch.isnan(metric.per_class()[4])


def test_polar_points_count_for_their_small_area():
    # Prediction wrong on the two polar rings, right elsewhere: 2 of 8 rings are 25% of the
    # points but only sin-weighted area (about 8% at B = 4).
    bandwidth = 4
    target = torch.ones(1, 8, 8, dtype=torch.long)
    prediction = target.clone()
    prediction[:, [0, -1]] = 0
    metric = AreaWeightedIoU(2, bandwidth)
    metric.update(prediction, target)

    weights = EquiangularGrid(bandwidth).weights
    polar_area = float(weights[[0, -1]].sum())
    iou_1 = (4 * np.pi - polar_area) / (4 * np.pi)  # intersection: non-polar; union: everything
    iou_0 = 0.0  # predicted 0 on the poles, never true
    assert abs(float(metric.compute()) - (iou_0 + iou_1) / 2) < 1e-12
    assert float(metric.per_class()[1]) > 0.9  # point counting would give 0.75
