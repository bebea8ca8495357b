"""Rotation augmentation: turn each training sphere by its own uniform random rotation.

The planar baselines learn rotations only from examples; this is how they
see them. Rotating a sampled signal means resampling it
(:func:`equisphere.sphere.interpolate.rotate_signal`, bilinear across the
poles and the longitude seam). A label map is rotated with its signal: the
indicator of each class is resampled and the largest wins at each point, so
labels stay labels and borders move with the objects.

Conventions: a rotated signal is ``(R f)(x) = f(R^-1 x)``; equiangular-grid
signals are ``(N, C, 2B, 2B)`` with row 0 nearest the north pole
(docs/conventions.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from equisphere.so3 import random_rotation_matrices
from equisphere.sphere import EquiangularGrid
from equisphere.sphere.interpolate import rotate_signal

__all__ = ["random_rotation_augment"]


def random_rotation_augment(
    signal: torch.Tensor,
    target: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Rotate each signal (and its label map, if given) by its own uniform random rotation.

    Parameters
    ----------
    signal : torch.Tensor, shape (N, C, 2B, 2B)
        Floating-point signals on the equiangular grid of bandwidth ``B``.
    target : torch.Tensor, shape (N, 2B, 2B), integer, optional
        Label maps, rotated with their signals; class labels (shape ``(N,)``)
        are returned unchanged.
    generator : torch.Generator, optional
        Source of the rotations (CPU); default a generator seeded from torch's
        global one, so that ``lightning.seed_everything`` fixes them.

    Returns
    -------
    (torch.Tensor, torch.Tensor or None)
        Rotated signals and targets, same shapes and dtypes.

    Examples
    --------
    >>> grid = EquiangularGrid(8)
    >>> signal = torch.cos(grid.colatitude).float().expand(2, 1, 16, 16)  # z, +1 at the north
    >>> turned, _ = random_rotation_augment(signal, generator=torch.Generator().manual_seed(0))
    >>> bool((turned[:, 0, 0] < 0.9).any())  # the north pole no longer holds the maximum
    True
    """
    if (
        not isinstance(signal, torch.Tensor)
        or signal.ndim != 4
        or signal.shape[-1] != signal.shape[-2]
        or signal.shape[-1] % 2
    ):
        shape = tuple(signal.shape) if isinstance(signal, torch.Tensor) else type(signal).__name__
        raise ValueError(f"expected signals of shape (N, C, 2B, 2B), got {shape}")
    if not signal.is_floating_point():
        raise TypeError(f"expected floating-point signals, got dtype {signal.dtype}")

    grid = EquiangularGrid(signal.shape[-1] // 2)
    if generator is None:
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
    rotations = random_rotation_matrices(signal.shape[0], generator=generator, dtype=torch.float64)
    rotated = torch.stack(
        [rotate_signal(s, grid, r) for s, r in zip(signal, rotations, strict=True)]
    )
    if target is None or target.ndim != 3:
        return rotated, target

    n_classes = int(target.max()) + 1
    indicators = F.one_hot(target, n_classes).permute(0, 3, 1, 2).to(signal.dtype)  # (N, K, 2B, 2B)
    turned = [rotate_signal(i, grid, r) for i, r in zip(indicators, rotations, strict=True)]
    return rotated, torch.stack(turned).argmax(dim=1).to(target.dtype)
