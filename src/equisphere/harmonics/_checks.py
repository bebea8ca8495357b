"""Input checks and batch reshaping shared by the transforms (private)."""

from __future__ import annotations

import torch


def check_tensor(value: object, name: str, trailing: tuple[int, ...], where: str) -> torch.Tensor:
    """Raise unless ``value`` is a float32/float64 tensor ending with ``trailing`` and finite.

    The finiteness test sums the tensor first (one cheap pass); only when the sum
    is not finite does it look element by element, so that an overflowing sum of
    finite values is not mistaken for bad input.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(value).__name__}")
    if value.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"expected {name} of dtype float32 or float64, got {value.dtype}")
    n = len(trailing)
    if value.ndim < n or tuple(value.shape[value.ndim - n :]) != trailing:
        expected = ", ".join(map(str, trailing))
        raise ValueError(
            f"expected {name} of shape (..., {expected}) {where}, got shape {tuple(value.shape)}"
        )
    if not torch.isfinite(value.sum()) and not torch.isfinite(value).all():
        raise ValueError(f"expected {name} to be finite, got NaN or infinite values")
    return value


def flatten_batch(tensor: torch.Tensor, trailing: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Merge the leading dimensions into one; returns the tensor and the leading shape."""
    split = tensor.ndim - trailing
    return tensor.reshape((-1,) + tuple(tensor.shape[split:])), tuple(tensor.shape[:split])
