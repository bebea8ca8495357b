"""An equivariant segmentation network whose logits live on the sphere and rotate with the input.

Shape of the network (a U on SO(3)):

- encoder: an S2 convolution lifts the image to SO(3) at bandwidth ``b_0``, then
  SO(3) convolutions go down to ``b_1 > b_2 > ...``;
- decoder: SO(3) convolutions go back up, level by level, each output joined
  (channel concatenation) with the encoder's features of the same bandwidth;
- :class:`~equisphere.nn.SO3ToS2` returns to the sphere, drawing the band-``b_0``
  features on the input's ``2B x 2B`` grid;
- a pointwise head (1 x 1 convolutions, i.e. the same small MLP at every grid
  point) reads those features together with the input image itself (the skip
  that gives sharp object boundaries) and gives the logits.

Every stage commutes with rotations: the convolutions exactly for band-limited
signals, the pointwise head exactly (it acts on each point alone), the grid
nonlinearities exactly for grid-permuting rotations
(:func:`equisphere.testing.grid_symmetry_rotations`) and approximately for
the others (docs/equivariance.md has the measured figures).

Conventions: input ``(N, C, 2B, 2B)`` and logits ``(N, n_classes, 2B, 2B)`` on
the equiangular grid of bandwidth ``B`` (docs/conventions.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from equisphere.models.registry import register_model
from equisphere.nn import (
    EquivariantBatchNorm,
    GridActivation,
    S2Convolution,
    SO3Convolution,
    SO3ToS2,
)
from equisphere.so3 import SO3Grid
from equisphere.sphere import EquiangularGrid

__all__ = ["S2Segmenter", "s2_segmenter"]


def _block(layer: nn.Module, channels: int, grid, batch_norm: bool, activation: str) -> nn.Module:
    parts = [layer]
    if batch_norm:
        parts.append(EquivariantBatchNorm(channels, grid))
    parts.append(GridActivation(activation))
    return nn.Sequential(*parts)


class S2Segmenter(nn.Module):
    """Equivariant segmenter: images on the sphere to per-point class logits on the same grid.

    Parameters
    ----------
    in_channels : int
        Channels of the input image.
    n_classes : int
        Number of classes (background included).
    bandwidth : int
        ``B``: input and output live on ``EquiangularGrid(B)``, ``(2B, 2B)``.
    bandwidths : sequence of int
        Bandwidths of the SO(3) levels, falling: ``(b_0, b_1, ...)``.
    channels : sequence of int
        Channels of each SO(3) level, one per bandwidth.
    head_channels : int
        Channels of the sphere features and of the pointwise head's hidden layer.
    batch_norm : bool
        Equivariant batch norm after every convolution.
    input_skip : bool
        Feed the input image to the pointwise head.
    activation : str
        Nonlinearity on the grids.

    Shapes
    ------
    input ``(N, in_channels, 2B, 2B)``; output ``(N, n_classes, 2B, 2B)``.

    Examples
    --------
    >>> model = S2Segmenter(1, 11, bandwidth=8, bandwidths=(6, 3), channels=(4, 8))
    >>> model(torch.zeros(2, 1, 16, 16)).shape
    torch.Size([2, 11, 16, 16])
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 11,
        bandwidth: int = 30,
        bandwidths: Sequence[int] = (12, 6),
        channels: Sequence[int] = (16, 32),
        head_channels: int = 16,
        batch_norm: bool = True,
        input_skip: bool = True,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        bandwidths, channels = tuple(bandwidths), tuple(channels)
        if not bandwidths or len(bandwidths) != len(channels):
            raise ValueError(
                f"expected as many SO(3) channel counts as bandwidths (at least one), got "
                f"bandwidths {bandwidths} and channels {channels}"
            )
        if any(b_next >= b for b, b_next in zip(bandwidths, bandwidths[1:], strict=False)):
            raise ValueError(f"expected falling SO(3) bandwidths, got {bandwidths}")
        self.in_channels, self.n_classes, self.bandwidth = in_channels, n_classes, bandwidth
        self.bandwidths, self.channels, self.input_skip = bandwidths, channels, input_skip

        def block(layer: nn.Module, width: int, level_bandwidth: int) -> nn.Module:
            return _block(layer, width, SO3Grid(level_bandwidth), batch_norm, activation)

        self.lift = block(
            S2Convolution(in_channels, channels[0], bandwidth, bandwidths[0]),
            channels[0],
            bandwidths[0],
        )
        self.down = nn.ModuleList(
            block(
                SO3Convolution(channels[k - 1], channels[k], bandwidths[k - 1], bandwidths[k]),
                channels[k],
                bandwidths[k],
            )
            for k in range(1, len(bandwidths))
        )
        # Going up from level k to k - 1; level k - 1 then holds 2 channels[k - 1] (with its skip).
        self.up = nn.ModuleList(
            block(
                SO3Convolution(
                    channels[k] * (1 if k == len(bandwidths) - 1 else 2),
                    channels[k - 1],
                    bandwidths[k],
                    bandwidths[k - 1],
                ),
                channels[k - 1],
                bandwidths[k - 1],
            )
            for k in reversed(range(1, len(bandwidths)))
        )
        joined = channels[0] * (2 if len(bandwidths) > 1 else 1)
        grid = EquiangularGrid(bandwidth)
        to_sphere = SO3ToS2(
            joined, head_channels, bandwidths[0], min(bandwidths[0], bandwidth), grid=grid
        )
        parts: list[nn.Module] = [to_sphere]
        if batch_norm:
            parts.append(EquivariantBatchNorm(head_channels, grid))
        parts.append(GridActivation(activation))
        self.to_sphere = nn.Sequential(*parts)
        head_in = head_channels + (in_channels if input_skip else 0)
        self.head = nn.Sequential(
            nn.Conv2d(head_in, head_channels, kernel_size=1),
            GridActivation(activation),
            nn.Conv2d(head_channels, n_classes, kernel_size=1),
        )

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, n_classes, 2B, 2B)`` of ``(N, in_channels, 2B, 2B)``."""
        features = self.lift(signal)  # (N, c_0, 2 b_0, 2 b_0, 2 b_0)
        skips = [features]
        for stage in self.down:
            features = stage(features)
            skips.append(features)
        skips.pop()  # the deepest level is not a skip
        for stage in self.up:
            features = torch.cat([stage(features), skips.pop()], dim=1)
        sphere = self.to_sphere(features)  # (N, head_channels, 2B, 2B)
        if self.input_skip:
            sphere = torch.cat([sphere, signal], dim=1)
        return self.head(sphere)


@register_model("s2-segmenter")
def s2_segmenter(
    in_channels: int = 1,
    n_classes: int = 11,
    bandwidth: int = 30,
    bandwidths: Sequence[int] = (12, 6),
    channels: Sequence[int] = (16, 32),
    head_channels: int = 16,
    batch_norm: bool = True,
    input_skip: bool = True,
) -> S2Segmenter:
    """:class:`S2Segmenter`: band ``B`` -> SO(3) at 12 and 6 -> sphere at ``B``, input skip."""
    return S2Segmenter(
        in_channels,
        n_classes,
        bandwidth,
        bandwidths,
        channels,
        head_channels=head_channels,
        batch_norm=batch_norm,
        input_skip=input_skip,
    )
