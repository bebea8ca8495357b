"""Rotation-invariant spherical image classifiers built from group convolutions (S2CNN).

The network: an S2 convolution lifts the image to SO(3), SO(3) convolutions
follow at falling bandwidths (each with an optional equivariant batch norm
and a ReLU on the grid), the last SO(3) signal is averaged over the group
with the grid's quadrature weights (a rotation invariant per channel) and a
linear layer gives the logits. Presets:

- ``"s2cnn-cohen2018"``: Cohen et al.'s Spherical MNIST network, bandwidth
  30 -> 10 -> 6, 1 -> 20 -> 40 channels, 24-point S2 kernel grid and
  72-rotation SO(3) kernel grid, 10 classes: 58,550 parameters.
- ``"s2cnn-deep"``: bandwidth 30 -> 16 -> 10 -> 6 -> 4 with 16, 24, 32 and 48
  channels and batch norm, still trainable on a CPU.

Invariance: exact (to rounding) for rotations that permute every grid of the
network (:func:`equisphere.testing.grid_symmetry_rotations`); for uniformly
random rotations the ReLUs alias, and the logits of the Cohen preset move by
the amount measured in docs/equivariance.md.

Conventions: input ``(N, C, 2B, 2B)`` on the equiangular grid of bandwidth
``B`` (docs/conventions.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from equisphere.models.registry import register_model
from equisphere.nn import (
    EquivariantBatchNorm,
    GlobalPool,
    GridActivation,
    S2Convolution,
    SO3Convolution,
)
from equisphere.so3 import SO3Grid

__all__ = ["S2CNNClassifier", "s2cnn_cohen2018", "s2cnn_deep"]


def _check_ints(values: Sequence[int], name: str, minimum: int) -> tuple[int, ...]:
    values = tuple(values)
    if not values or any(
        isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in values
    ):
        raise ValueError(
            f"expected {name} as a non-empty list of ints >= {minimum}, got {values!r}"
        )
    return values


class S2CNNClassifier(nn.Module):
    """Rotation-invariant classifier of spherical images.

    Parameters
    ----------
    in_channels : int
        Channels of the input image.
    n_classes : int
        Number of classes.
    bandwidths : sequence of int
        ``(B_in, B_1, ..., B_k)``: the input's bandwidth, then the output
        bandwidth of each convolution (``k`` convolutions: one S2, ``k - 1`` SO(3)).
    channels : sequence of int
        Output channels of each convolution, ``k`` values.
    batch_norm : bool
        An :class:`~equisphere.nn.EquivariantBatchNorm` after each convolution.
    activation : str
        Nonlinearity on the grid (see :class:`~equisphere.nn.GridActivation`).

    Shapes
    ------
    input ``(N, in_channels, 2 B_in, 2 B_in)``; output logits ``(N, n_classes)``.

    Examples
    --------
    >>> model = S2CNNClassifier()
    >>> sum(p.numel() for p in model.parameters())
    58550
    >>> model(torch.zeros(2, 1, 60, 60)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 10,
        bandwidths: Sequence[int] = (30, 10, 6),
        channels: Sequence[int] = (20, 40),
        batch_norm: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.bandwidths = _check_ints(bandwidths, "bandwidths", 1)
        self.channels = _check_ints(channels, "channels", 1)
        if len(self.bandwidths) != len(self.channels) + 1:
            raise ValueError(
                f"expected one more bandwidth than channel counts (the input's), got "
                f"{len(self.bandwidths)} bandwidths {self.bandwidths} and "
                f"{len(self.channels)} channel counts {self.channels}"
            )
        self.in_channels, self.n_classes = in_channels, n_classes

        layers: list[nn.Module] = []
        previous = in_channels
        for index, (out_channels, bandwidth_out) in enumerate(
            zip(self.channels, self.bandwidths[1:], strict=True)
        ):
            bandwidth_in = self.bandwidths[index]
            convolution = S2Convolution if index == 0 else SO3Convolution
            layers.append(convolution(previous, out_channels, bandwidth_in, bandwidth_out))
            if batch_norm:
                layers.append(EquivariantBatchNorm(out_channels, SO3Grid(bandwidth_out)))
            layers.append(GridActivation(activation))
            previous = out_channels
        self.features = nn.Sequential(*layers)
        self.pool = GlobalPool(SO3Grid(self.bandwidths[-1]))
        self.head = nn.Linear(previous, n_classes)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, n_classes)`` of images ``(N, in_channels, 2 B_in, 2 B_in)``."""
        features = self.features(signal)  # (N, C_k, 2 B_k, 2 B_k, 2 B_k)
        return self.head(self.pool(features))  # invariant (N, C_k) -> (N, n_classes)


@register_model("s2cnn-cohen2018")
def s2cnn_cohen2018(
    in_channels: int = 1, n_classes: int = 10, bandwidth: int = 30, batch_norm: bool = False
) -> S2CNNClassifier:
    """Cohen et al. (2018)'s Spherical MNIST S2CNN: bandwidth ``B`` -> 10 -> 6, 20 and 40 channels.

    With the defaults: input ``(N, 1, 60, 60)``, logits ``(N, 10)``, 58,550
    parameters (58,670 with ``batch_norm``).
    """
    return S2CNNClassifier(
        in_channels, n_classes, (bandwidth, 10, 6), (20, 40), batch_norm=batch_norm
    )


@register_model("s2cnn-deep")
def s2cnn_deep(
    in_channels: int = 1, n_classes: int = 10, bandwidth: int = 30, batch_norm: bool = True
) -> S2CNNClassifier:
    """A deeper S2CNN: bandwidth ``B`` -> 16 -> 10 -> 6 -> 4 with 16, 24, 32, 48 channels."""
    return S2CNNClassifier(
        in_channels, n_classes, (bandwidth, 16, 10, 6, 4), (16, 24, 32, 48), batch_norm=batch_norm
    )
