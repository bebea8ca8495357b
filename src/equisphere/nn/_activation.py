"""A pointwise nonlinearity on the sampling grid, and its band-limit policy.

Band-limit policy: the function is applied to the grid values as they are,
on the grid the signal lives on (no up-sampling). The result is no longer
band-limited: ``relu(f)`` has an infinite tail of degrees. The next layer's
analysis, a quadrature on the same grid, projects it to that layer's
bandwidth, and degrees above about ``2 B_grid - B_next`` fold back (alias)
into the kept ones. So the nonlinearity commutes exactly with the rotations
that permute the grid points (see
:func:`equisphere.testing.grid_symmetry_rotations`) and only approximately with
the others. In Cohen et al.'s MNIST network (bandwidths 30 -> 10 -> 6) the
logits change by about 0.3 % under random rotations of band-limited inputs
(docs/equivariance.md has the measured figures).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GridActivation"]


class _ReLU(torch.autograd.Function):
    """ReLU that keeps a one-byte mask for backward instead of the four-byte output.

    Signals on SO(3) grids are large (a batch of 32 with 20 channels at bandwidth
    10 is 20 MiB in float32); keeping the mask cuts what the activation holds
    for backward by a factor of four in float32 (eight in float64). Neither pass
    multiplies by the mask: a float tensor times a bool one first converts the
    mask to a float copy as large as the signal.
    """

    @staticmethod
    def forward(ctx, signal):  # noqa: ANN001, ANN205 (autograd signature)
        output = F.relu(signal)
        ctx.save_for_backward(output > 0)  # the same mask as signal > 0
        return output

    @staticmethod
    def backward(ctx, grad_output):  # noqa: ANN001, ANN205
        (positive,) = ctx.saved_tensors
        return torch.where(positive, grad_output, 0.0)  # differentiable in grad_output


def _relu(signal: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled() and signal.requires_grad:
        return _ReLU.apply(signal)
    return F.relu(signal)


_NAMED: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": _relu,
    "gelu": F.gelu,
    "silu": F.silu,
    "tanh": torch.tanh,
    "softplus": F.softplus,
}


class GridActivation(nn.Module):
    """Apply a scalar function to every grid value of a sphere or SO(3) signal.

    Parameters
    ----------
    activation : {"relu", "gelu", "silu", "tanh", "softplus"} or callable
        The function; a callable must act elementwise.

    Shapes
    ------
    any: ``(N, C, n_theta, n_phi)`` or ``(N, C, 2B, 2B, 2B)``, unchanged.

    Notes
    -----
    See the module docstring for the band-limit policy: applied on the signal's
    own grid, exact for grid-permuting rotations, aliased otherwise.

    Examples
    --------
    >>> GridActivation("relu")(torch.tensor([[-1.0, 2.0]])).tolist()
    [[0.0, 2.0]]
    """

    def __init__(
        self,
        activation: Literal["relu", "gelu", "silu", "tanh", "softplus"]
        | Callable[[torch.Tensor], torch.Tensor] = "relu",
    ) -> None:
        super().__init__()
        if isinstance(activation, str):
            if activation not in _NAMED:
                raise ValueError(
                    f"expected activation one of {', '.join(sorted(_NAMED))} or a callable, "
                    f"got {activation!r}"
                )
            self.name, self.function = activation, _NAMED[activation]
        elif callable(activation):
            self.name = getattr(activation, "__name__", type(activation).__name__)
            self.function = activation
        else:
            raise TypeError(f"expected an activation name or a callable, got {activation!r}")

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """``activation(signal)``, elementwise; same shape."""
        return self.function(signal)

    def extra_repr(self) -> str:
        return self.name
