"""Input checks shared by the layers: errors that name the expected and the actual shape."""

from __future__ import annotations

import torch

from equisphere.so3.grid import SO3Grid
from equisphere.sphere.grids import SphereGrid

SPHERE_AXES = "(N, C, n_theta, n_phi)"
SO3_AXES = "(N, C, n_beta, n_alpha, n_gamma)"


def check_positive_int(value: int, name: str) -> int:
    """Return ``value`` or raise ``ValueError`` unless it is a positive int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected {name} to be a positive int, got {value!r}")
    return value


def check_grid(grid: object, name: str = "grid") -> SphereGrid | SO3Grid:
    """Return ``grid`` or raise ``TypeError`` unless it is a sphere or SO(3) grid."""
    if not isinstance(grid, (SphereGrid, SO3Grid)):
        raise TypeError(
            f"expected {name} to be a sphere grid (equisphere.sphere) or an SO3Grid, "
            f"got {type(grid).__name__}"
        )
    return grid


def _hint(grid: SphereGrid | SO3Grid, trailing: tuple[int, ...]) -> str:
    """A guess at what the caller meant, from the trailing shape that arrived."""
    if isinstance(grid, SO3Grid) and len(trailing) == 3 and len(set(trailing)) == 1:
        if trailing[0] % 2 == 0:
            return f"; that is the SO(3) grid of bandwidth {trailing[0] // 2}"
    if hasattr(grid, "bandwidth") and len(trailing) == 2 and trailing[0] % 2 == 0:
        if trailing[1] == trailing[0]:
            return f"; that is the equiangular grid of bandwidth {trailing[0] // 2}"
    return ""


def check_signal(
    signal: torch.Tensor,
    grid: SphereGrid | SO3Grid,
    channels: int | None,
    layer: str,
    name: str = "input",
) -> torch.Tensor:
    """Raise unless ``signal`` has shape ``(N, channels, *grid.shape)`` and a float dtype.

    Parameters
    ----------
    signal : torch.Tensor
        The tensor to check.
    grid : SphereGrid or SO3Grid
        The grid the signal must live on.
    channels : int or None
        Expected channel count; ``None`` accepts any.
    layer : str
        The layer's name, for the message.
    name : str
        What the tensor is, for the message.

    Raises
    ------
    TypeError
        If ``signal`` is not a floating-point tensor.
    ValueError
        If its rank, channel count or grid shape is wrong.
    """
    axes = SO3_AXES if isinstance(grid, SO3Grid) else SPHERE_AXES
    grid_shape = tuple(grid.shape)
    channel_text = "C" if channels is None else str(channels)
    expected = f"(N, {channel_text}, {', '.join(map(str, grid_shape))})"
    if not isinstance(signal, torch.Tensor):
        raise TypeError(
            f"{layer} expected {name} to be a torch.Tensor of shape {expected}, "
            f"got {type(signal).__name__}"
        )
    if not signal.is_floating_point():
        raise TypeError(
            f"{layer} expected a floating-point {name}, got dtype {signal.dtype}; "
            "convert it with .float() or .double()"
        )
    shape = tuple(signal.shape)
    if signal.ndim != 2 + len(grid_shape):
        raise ValueError(
            f"{layer} expected {name} of rank {2 + len(grid_shape)} and shape {expected} "
            f"{axes} on {grid!r}, got rank {signal.ndim} and shape {shape}"
            + (
                "; add a batch axis with .unsqueeze(0)"
                if signal.ndim == 1 + len(grid_shape)
                else ""
            )
        )
    if channels is not None and shape[1] != channels:
        raise ValueError(
            f"{layer} expected {name} with {channels} channels, shape {expected} {axes}, "
            f"got {shape[1]} channels in shape {shape}"
        )
    if shape[2:] != grid_shape:
        raise ValueError(
            f"{layer} expected {name} on {grid!r}, shape {expected} {axes}, got shape {shape}"
            + _hint(grid, shape[2:])
        )
    return signal
