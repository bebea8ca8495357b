"""The equivariance checker: rotate the input, run the module, rotate the output back.

For a module ``F``, an input action ``rho_in`` and an output action
``rho_out``, equivariance means ``rho_out(Q^-1) F(rho_in(Q) x) = F(x)`` for
every rotation ``Q``. :func:`check_equivariance` measures how far from that a
module is, over a set of rotations, and returns error statistics. It never
looks inside the module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["EquivarianceReport", "check_equivariance"]

Action = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EquivarianceReport:
    """Error statistics of ``rho_out(Q^-1) F(rho_in(Q) x) - F(x)`` over rotations ``Q``.

    Attributes
    ----------
    mean_error : float
        Mean absolute error over all rotations and output entries.
    max_error : float
        Largest absolute error.
    relative_error : float
        Largest, over rotations, of ``||error|| / ||F(x)||`` (Frobenius norms
        over the whole output batch).
    mean_relative_error : float
        Mean of the same ratio over rotations.
    relative_errors : torch.Tensor, shape (n_rotations,), float64
        The ratio for each rotation.
    sample_relative_errors : torch.Tensor, shape (n_rotations, N), float64
        The ratio for each rotation and each sample (norm over that sample's
        output).
    """

    mean_error: float
    max_error: float
    relative_error: float
    mean_relative_error: float
    relative_errors: torch.Tensor
    sample_relative_errors: torch.Tensor

    def __str__(self) -> str:
        return (
            f"relative error max {self.relative_error:.3e}, mean {self.mean_relative_error:.3e}; "
            f"absolute error max {self.max_error:.3e}, mean {self.mean_error:.3e} "
            f"over {self.relative_errors.numel()} rotations"
        )


def _check_rotations(rotations: torch.Tensor) -> torch.Tensor:
    if not isinstance(rotations, torch.Tensor):
        raise TypeError(f"expected rotations as a torch.Tensor, got {type(rotations).__name__}")
    if rotations.ndim == 2:
        rotations = rotations[None]
    if rotations.ndim != 3 or rotations.shape[-2:] != (3, 3) or rotations.shape[0] == 0:
        raise ValueError(
            f"expected rotations of shape (n_rotations, 3, 3) with n_rotations >= 1, "
            f"got shape {tuple(rotations.shape)}"
        )
    return rotations


def check_equivariance(
    module: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    rotations: torch.Tensor,
    input_action: Action,
    output_action: Action,
) -> EquivarianceReport:
    """Measure the equivariance error of ``module`` over a set of rotations.

    For each rotation ``Q``: rotate ``inputs`` by ``Q`` with ``input_action``,
    run ``module``, rotate the output back by ``Q^-1`` with ``output_action``
    and compare with ``module(inputs)``. The module runs under ``no_grad`` in
    whatever mode (train or eval) the caller left it.

    Parameters
    ----------
    module : torch.nn.Module or callable
        Maps a batch ``inputs`` to an output tensor.
    inputs : torch.Tensor, shape (N, ...)
        A batch of inputs. For exact actions (harmonic rotation) they should be
        band-limited to the action's bandwidth, or the action projects them.
    rotations : torch.Tensor, shape (n_rotations, 3, 3) or (3, 3)
        Rotation matrices (acting on points).
    input_action, output_action : callable
        ``action(signal, rotation) -> rotated signal``: a
        :class:`~equisphere.testing.SphereRotation`,
        :class:`~equisphere.testing.SO3Rotation`,
        :func:`~equisphere.testing.invariant` or any callable with that signature.

    Returns
    -------
    EquivarianceReport

    Raises
    ------
    TypeError, ValueError
        If ``rotations`` is not a stack of ``(3, 3)`` matrices or the module
        returns something other than a tensor.

    Examples
    --------
    >>> from equisphere.testing import invariant
    >>> x = torch.randn(4, 3)
    >>> report = check_equivariance(lambda t: t.sum(-1), x, torch.eye(3), invariant, invariant)
    >>> report.max_error
    0.0
    """
    rotations = _check_rotations(rotations)
    if not isinstance(inputs, torch.Tensor) or inputs.ndim < 1 or inputs.shape[0] == 0:
        raise ValueError("expected inputs as a non-empty batch tensor of shape (N, ...)")

    with torch.no_grad():
        reference = module(inputs)
        if not isinstance(reference, torch.Tensor):
            raise TypeError(
                f"expected the module to return a tensor, got {type(reference).__name__}"
            )
        reference_norm = torch.linalg.vector_norm(reference.double())
        sample_norms = torch.linalg.vector_norm(
            reference.double().reshape(len(reference), -1), dim=1
        )

        abs_sums, maxima, relatives, sample_relatives = [], [], [], []
        for rotation in rotations:
            output = module(input_action(inputs, rotation))
            back = output_action(output, rotation.transpose(-1, -2))
            error = (back - reference).double()
            abs_sums.append(error.abs().sum())
            maxima.append(error.abs().amax() if error.numel() else error.new_zeros(()))
            relatives.append(torch.linalg.vector_norm(error) / reference_norm)
            sample_errors = torch.linalg.vector_norm(error.reshape(len(error), -1), dim=1)
            sample_relatives.append(sample_errors / sample_norms)

    relative_errors = torch.stack(relatives).cpu()
    return EquivarianceReport(
        mean_error=float(torch.stack(abs_sums).sum()) / max(reference.numel() * len(rotations), 1),
        max_error=float(torch.stack(maxima).amax()),
        relative_error=float(relative_errors.amax()),
        mean_relative_error=float(relative_errors.mean()),
        relative_errors=relative_errors,
        sample_relative_errors=torch.stack(sample_relatives).cpu(),
    )
