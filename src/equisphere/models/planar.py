"""Planar baselines: an ordinary CNN classifier and a U-Net that read a sphere grid as an image.

They see the ``(N, C, 2B, 2B)`` equiangular grid as a flat picture (rows =
colatitude, columns = longitude), with zero padding at every border, so they
know nothing of the sphere's geometry or of rotations. They exist to be
compared with the equivariant models at a matched parameter count; the width
that matches a target count is found by :func:`width_for_parameters`.

Conventions: signals on a product sphere grid are ``(N, C, n_theta, n_phi)``
with row 0 nearest the north pole (docs/conventions.md); the models accept any
height and width.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from equisphere.models.registry import count_parameters, register_model

__all__ = ["PlanarCNN", "PlanarUNet", "planar_cnn", "planar_unet", "width_for_parameters"]

# Parameters of the "s2cnn-cohen2018" preset (Cohen et al. 2018: "about 58K").
COHEN2018_PARAMETERS = 58_550


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3 x 3 convolution (no bias: batch norm follows), batch norm, ReLU; keeps H and W."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def _check_input(signal: torch.Tensor, in_channels: int, min_size: int) -> None:
    if not isinstance(signal, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(signal).__name__}")
    if signal.ndim != 4 or signal.shape[1] != in_channels:
        raise ValueError(
            f"expected input of shape (N, {in_channels}, H, W), got {tuple(signal.shape)}"
        )
    if min(signal.shape[-2:]) < min_size:
        raise ValueError(
            f"expected H and W of at least {min_size} for this network's pooling, "
            f"got {tuple(signal.shape[-2:])}"
        )


class PlanarCNN(nn.Module):
    """Convolutional classifier: a strided stem, two conv stages, a position-aware linear head.

    A 5 x 5 convolution with stride 2 (``width`` channels), then two 3 x 3
    stages (``2 width`` and ``4 width`` channels), each followed by 2 x 2 max
    pooling; every convolution has batch norm and ReLU. The feature map is
    averaged down to 3 x 3 cells and a linear layer reads all of them, so the
    head knows where on the grid a feature was (global pooling instead cost
    about 20 points of accuracy on upright Spherical Fashion-MNIST).
    ``90 width^2 + (39 + 36 n_classes) width + n_classes`` parameters for one
    input channel (``width = 23``, 10 classes: 56,797).

    Parameters
    ----------
    in_channels : int
        Channels of the input image.
    n_classes : int
        Number of classes.
    width : int
        Channels of the stem.

    Examples
    --------
    >>> model = PlanarCNN(in_channels=1, n_classes=10, width=23)
    >>> count_parameters(model)
    56797
    >>> model(torch.zeros(2, 1, 60, 60)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, width: int = 23) -> None:
        super().__init__()
        _check_positive(in_channels=in_channels, n_classes=n_classes, width=width)
        self.in_channels, self.n_classes, self.width = in_channels, n_classes, width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, kernel_size=5, stride=2, padding=2, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            _conv_block(width, 2 * width),
            nn.MaxPool2d(2),
            _conv_block(2 * width, 4 * width),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(3),
        )
        self.head = nn.Linear(4 * width * 9, n_classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, n_classes)`` of images ``(N, in_channels, H, W)``, H, W >= 8."""
        _check_input(image, self.in_channels, min_size=8)
        features = self.features(image)  # (N, 4 width, 3, 3)
        return self.head(features.flatten(1))


class PlanarUNet(nn.Module):
    """U-Net segmenter: ``(N, in_channels, H, W)`` -> logits ``(N, n_classes, H, W)``.

    ``depth`` encoder stages of two conv blocks with ``width * 2^k`` channels,
    2 x 2 max pooling between them, a bottleneck, and a decoder that upsamples
    bilinearly to the size of each skip connection (so H and W need not be
    powers of two; 60 -> 30 -> 15 -> 7 and back works), concatenates it and
    applies two conv blocks. A 1 x 1 convolution gives the class logits.

    Parameters
    ----------
    in_channels, n_classes : int
    width : int
        Channels of the first stage.
    depth : int
        Number of poolings.

    Examples
    --------
    >>> model = PlanarUNet(in_channels=1, n_classes=11, width=4, depth=2)
    >>> model(torch.zeros(1, 1, 60, 60)).shape
    torch.Size([1, 11, 60, 60])
    """

    def __init__(
        self, in_channels: int = 1, n_classes: int = 11, width: int = 8, depth: int = 3
    ) -> None:
        super().__init__()
        _check_positive(in_channels=in_channels, n_classes=n_classes, width=width, depth=depth)
        self.in_channels, self.n_classes, self.width, self.depth = (
            in_channels,
            n_classes,
            width,
            depth,
        )
        channels = [width * 2**k for k in range(depth + 1)]
        self.encoder = nn.ModuleList()
        previous = in_channels
        for out in channels:
            self.encoder.append(nn.Sequential(_conv_block(previous, out), _conv_block(out, out)))
            previous = out
        self.decoder = nn.ModuleList(
            nn.Sequential(
                _conv_block(channels[k + 1] + channels[k], channels[k]),
                _conv_block(channels[k], channels[k]),
            )
            for k in reversed(range(depth))
        )
        self.head = nn.Conv2d(width, n_classes, kernel_size=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Per-pixel class logits ``(N, n_classes, H, W)`` of ``(N, in_channels, H, W)``."""
        _check_input(image, self.in_channels, min_size=2**self.depth)
        skips = []
        features = image
        for k, stage in enumerate(self.encoder):
            if k > 0:
                features = F.max_pool2d(features, 2)
            features = stage(features)
            skips.append(features)
        skips.pop()  # the bottleneck output is not a skip connection
        for stage in self.decoder:
            skip = skips.pop()
            features = F.interpolate(
                features, size=skip.shape[-2:], mode="bilinear", align_corners=False
            )
            features = stage(torch.cat([features, skip], dim=1))
        return self.head(features)


def width_for_parameters(
    factory: Callable[..., nn.Module], target_parameters: int, max_width: int = 1024, **options
) -> int:
    """The ``width`` whose model has the parameter count closest to ``target_parameters``.

    Models are built on the ``meta`` device (no memory, no initialisation) and
    the count is assumed to grow with ``width``; ties go to the smaller width.

    Examples
    --------
    >>> width_for_parameters(PlanarCNN, 58_000, n_classes=10)
    23
    """
    if target_parameters < 1:
        raise ValueError(f"expected a positive target parameter count, got {target_parameters}")

    def count(width: int) -> int:
        with torch.device("meta"):
            return count_parameters(factory(width=width, **options))

    # Smallest width whose count reaches the target, by bisection on [1, max_width].
    low, high = 1, max_width
    while low < high:
        middle = (low + high) // 2
        if count(middle) >= target_parameters:
            high = middle
        else:
            low = middle + 1
    if low > 1 and target_parameters - count(low - 1) <= count(low) - target_parameters:
        return low - 1
    return low


@register_model("planar-cnn")
def planar_cnn(
    in_channels: int = 1,
    n_classes: int = 10,
    width: int | None = None,
    target_parameters: int = COHEN2018_PARAMETERS,
) -> PlanarCNN:
    """:class:`PlanarCNN`; without ``width``, the width closest to ``target_parameters``."""
    if width is None:
        width = width_for_parameters(
            PlanarCNN, target_parameters, in_channels=in_channels, n_classes=n_classes
        )
    return PlanarCNN(in_channels=in_channels, n_classes=n_classes, width=width)


@register_model("planar-unet")
def planar_unet(
    in_channels: int = 1,
    n_classes: int = 11,
    width: int | None = None,
    depth: int = 3,
    target_parameters: int = 100_000,
) -> PlanarUNet:
    """:class:`PlanarUNet`; without ``width``, the width closest to ``target_parameters``.

    Set ``target_parameters`` to the count of the equivariant segmenter it is
    compared with.
    """
    if width is None:
        width = width_for_parameters(
            PlanarUNet, target_parameters, in_channels=in_channels, n_classes=n_classes, depth=depth
        )
    return PlanarUNet(in_channels=in_channels, n_classes=n_classes, width=width, depth=depth)


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"expected {name} to be a positive int, got {value!r}")
