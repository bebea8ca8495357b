"""Where the objects of a segmentation sphere go: count, size, position, orientation.

Each sphere carries between ``objects[0]`` and ``objects[1]`` objects (drawn
uniformly). Object ``k`` has an angular half-width ``size_k`` in degrees (drawn
uniformly from ``object_size``) and a rotation ``R_k``: its centre is
``R_k (0, 0, -1)`` and its image's upward direction ``R_k (0, -1, 0)``. In mode
``"R"`` the rotations are uniform on SO(3); in mode ``"NR"`` the centres are
uniform on the sphere and each image is upright (its top along the meridian,
towards the north pole; :func:`upright_rotations`).

Overlap policies:

- ``"reject"``: a new object's centre must be at least ``min_separation``
  degrees from every earlier one on the sphere (default: the sum of the two
  half-widths, so the circles inscribed in the squares do not overlap; the
  square corners, where images are usually blank, may still touch: measured on
  2,000 default spheres, 2% of them have points covered by two objects, 0.01%
  of all labelled points). Candidates are drawn in batches of 16 and the first
  that fits is kept (greedy, in order: random sequential placement, which is
  rotation invariant but not uniform over all valid layouts); a sphere that
  finds no place after 64 batches raises ``ValueError``.
- ``"allow"``: positions are independent.

Conventions: rotations act on points (docs/conventions.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from equisphere.data.settings import RotationMode, check_rotation_mode
from equisphere.so3 import random_rotation_matrices

__all__ = ["check_range", "place_objects", "upright_rotations"]

_CANDIDATES = 16
_MAX_ROUNDS = 64


def check_range(value: float | Sequence[float], name: str, low: float, high: float) -> tuple:
    """``(value, value)`` for a number, or the ``(min, max)`` pair itself, within [low, high]."""
    pair = (value, value) if isinstance(value, (int, float)) else tuple(value)
    if len(pair) != 2 or not low <= pair[0] <= pair[1] <= high:
        raise ValueError(
            f"expected {name} to be a number or a (min, max) pair within [{low}, {high}], "
            f"got {value!r}"
        )
    return pair


def place_objects(
    spheres: int,
    objects: int | tuple[int, int] = (2, 4),
    object_size: float | tuple[float, float] = (30.0, 45.0),
    overlap: Literal["reject", "allow"] = "reject",
    min_separation: float | None = None,
    rotation: RotationMode = "R",
    *,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """Draw the number, sizes and rotations of the objects on each sphere.

    Parameters
    ----------
    spheres : int
        Number of spheres ``N``.
    objects : int or (int, int)
        Objects per sphere, or the inclusive range to draw it from uniformly.
    object_size : float or (float, float)
        Angular half-width of each object's square in degrees, or a range.
    overlap : {"reject", "allow"}
        Placement policy (module docstring).
    min_separation : float, optional
        Least angle in degrees between two centres under ``"reject"``; default
        the sum of the two objects' half-widths.
    rotation : {"R", "NR"}
        ``"R"``: uniformly random rotations; ``"NR"``: uniformly random centres
        with each image upright (its up direction along the meridian, north).
    generator : torch.Generator

    Returns
    -------
    dict with
        ``present`` (N, K) bool, ``sizes`` (N, K) float64 degrees (0 where absent),
        ``rotations`` (N, K, 3, 3) float64 (identity where absent), with
        ``K = max objects``.
    """
    low, high = check_range(objects, "objects", 1, 64)
    if int(low) != low or int(high) != high:
        raise ValueError(f"expected whole numbers of objects, got {objects!r}")
    size_low, size_high = check_range(object_size, "object_size (degrees)", 1e-3, 89.0)
    rotation = check_rotation_mode(rotation)
    if overlap not in ("reject", "allow"):
        raise ValueError(f"expected overlap 'reject' or 'allow', got {overlap!r}")
    if min_separation is not None and not 0 <= min_separation <= 180:
        raise ValueError(f"expected min_separation in [0, 180] degrees, got {min_separation!r}")
    count, slots = spheres, int(high)

    counts = torch.randint(int(low), int(high) + 1, (count,), generator=generator)
    present = torch.arange(slots)[None, :] < counts[:, None]
    sizes = torch.zeros(count, slots, dtype=torch.float64)
    rotations = torch.eye(3, dtype=torch.float64).repeat(count, slots, 1, 1)

    for slot in range(slots):
        pending = torch.nonzero(present[:, slot]).flatten()
        tries = 1 if overlap == "allow" or slot == 0 else _CANDIDATES
        for _ in range(_MAX_ROUNDS):
            if len(pending) == 0:
                break
            candidates = random_rotation_matrices(
                len(pending) * tries, generator=generator, dtype=torch.float64
            ).view(len(pending), tries, 3, 3)
            if rotation == "NR":
                candidates = upright_rotations(-candidates[..., 2])
            candidate_sizes = size_low + (size_high - size_low) * torch.rand(
                len(pending), tries, generator=generator, dtype=torch.float64
            )
            fits = torch.ones(len(pending), tries, dtype=torch.bool)
            if tries > 1:
                # Centres R (0, 0, -1) = -R[:, 2]; angle between the candidate and earlier objects.
                centres = -candidates[..., 2]  # (P, T, 3)
                earlier = -rotations[pending, :slot, :, 2]  # (P, slot, 3)
                cosine = torch.einsum("ptc,psc->pts", centres, earlier).clamp(-1, 1)
                angle = torch.rad2deg(torch.arccos(cosine))  # (P, T, slot)
                needed = (
                    candidate_sizes[:, :, None] + sizes[pending, None, :slot]
                    if min_separation is None
                    else torch.full_like(angle, float(min_separation))
                )
                fits = (angle >= needed).all(dim=-1)
            found = fits.any(dim=1)
            first = fits.to(torch.int8).argmax(dim=1)  # first fitting candidate
            chosen = pending[found]
            rotations[chosen, slot] = candidates[found, first[found]]
            sizes[chosen, slot] = candidate_sizes[found, first[found]]
            pending = pending[~found]
        if len(pending):
            raise ValueError(
                f"could not place object {slot + 1} on {len(pending)} spheres after "
                f"{_MAX_ROUNDS * tries} tries with overlap='reject': use fewer objects, smaller "
                "object_size, a smaller min_separation, or overlap='allow'"
            )
    return {"present": present, "sizes": sizes, "rotations": rotations}


def upright_rotations(centres: torch.Tensor) -> torch.Tensor:
    """Rotations that put an upright image's centre at ``centres``, its top towards north.

    ``R (0, 0, -1) = c`` and ``R (0, -1, 0) = n``, the unit tangent at ``c`` pointing
    along the meridian to the north pole (``+x`` is used at the poles themselves),
    so ``R = [n x c, -n, -c]`` (columns), a proper rotation.

    Parameters
    ----------
    centres : torch.Tensor, shape (..., 3)
        Unit vectors.

    Returns
    -------
    torch.Tensor, shape (..., 3, 3)
    """
    pole = torch.zeros_like(centres)
    pole[..., 2] = 1
    north = pole - (centres * pole).sum(-1, keepdim=True) * centres
    at_pole = torch.linalg.vector_norm(north, dim=-1, keepdim=True) < 1e-9
    fallback = torch.zeros_like(centres)
    fallback[..., 0] = 1
    north = torch.where(at_pole, fallback, north)
    north = north / torch.linalg.vector_norm(north, dim=-1, keepdim=True)
    return torch.stack([torch.linalg.cross(north, centres), -north, -centres], dim=-1)
