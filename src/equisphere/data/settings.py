"""Option checking shared by the spherical data generators: rotation modes, seeds, sizes."""

from __future__ import annotations

import zlib
from typing import Literal

import numpy as np

__all__ = ["RotationMode", "check_rotation_mode", "derive_seed", "parse_rotation_setting"]

RotationMode = Literal["NR", "R"]


def check_rotation_mode(mode: str, name: str = "rotation") -> RotationMode:
    """``"NR"`` (upright) or ``"R"`` (a uniform random rotation per image); case-insensitive."""
    if not isinstance(mode, str) or mode.upper() not in ("NR", "R"):
        raise ValueError(
            f"expected {name} 'NR' (not rotated) or 'R' (randomly rotated), got {mode!r}"
        )
    return mode.upper()  # type: ignore[return-value]


def parse_rotation_setting(setting: str) -> tuple[RotationMode, RotationMode]:
    """Split a train/test setting such as ``"NR/R"`` into ``("NR", "R")``.

    The three settings of the Spherical MNIST protocol are ``NR/NR``, ``R/R``
    and ``NR/R``; ``R/NR`` is accepted too.

    Examples
    --------
    >>> parse_rotation_setting("nr/r")
    ('NR', 'R')
    """
    parts = setting.split("/") if isinstance(setting, str) else []
    if len(parts) != 2:
        raise ValueError(
            f"expected a train/test rotation setting like 'NR/NR', 'R/R' or 'NR/R', got {setting!r}"
        )
    return check_rotation_mode(parts[0], "train rotation"), check_rotation_mode(
        parts[1], "test rotation"
    )


def derive_seed(seed: int, *purpose: str) -> int:
    """A 63-bit seed for one purpose (e.g. ``("rotations", "train")``) derived from ``seed``.

    Different purposes give independent streams, so the train and test
    rotations of one seed differ, and the same seed always gives the same ones.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"expected seed to be a non-negative int, got {seed!r}")
    words = [int(seed)] + [zlib.crc32(word.encode()) for word in purpose]
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def check_size(size: int | None, available: int, what: str) -> int:
    """``size`` checked against ``available`` (None means all of them)."""
    if size is None:
        return available
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"expected {what} to be a positive int or None (all), got {size!r}")
    if size > available:
        raise ValueError(
            f"asked for {size} {what.split()[-1]} but the source has only {available}; "
            "give a smaller size or a folder with the full data set"
        )
    return int(size)
