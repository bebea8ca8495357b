"""A safe on-disk cache for generated data sets.

Each set lives in one ``.npz`` file named ``<kind>-<key>.npz``; ``key`` is a
SHA-256 over the options that made the set, the checksums of its source files,
the equisphere version and the cache format. The file also stores these as a
JSON header (the ``__meta__`` entry), which is compared on load, so a file made
with other options is never used in their place. A truncated or damaged file
(zip CRC error, missing array, wrong shape) raises :class:`CacheError` that
names the file and says how to rebuild it; files are only replaced when asked
(``rebuild=True``). Writes go to a temporary file in the same folder and are
then linked into place atomically, so a reader never sees half a file.

The default folder is ``$EQUISPHERE_CACHE``, else ``~/.cache/equisphere``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from equisphere import __version__

__all__ = ["CACHE_FORMAT", "CacheError", "cache_key", "default_cache_dir", "load_or_build"]

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1
"""Version of the file layout; part of every key."""


class CacheError(ValueError):
    """A cache file that is damaged or was made with other options."""


def default_cache_dir() -> Path:
    """``$EQUISPHERE_CACHE`` if set, else ``~/.cache/equisphere``."""
    return Path(os.environ.get("EQUISPHERE_CACHE") or Path.home() / ".cache" / "equisphere")


def _header(kind: str, options: Mapping[str, Any], sources: Mapping[str, str]) -> dict[str, Any]:
    return {
        "format": CACHE_FORMAT,
        "kind": kind,
        "options": dict(options),
        "sources": dict(sources),
        "equisphere_version": __version__,
    }


def cache_key(kind: str, options: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    """Hex SHA-256 (first 20 characters) of everything that determines a data set.

    Parameters
    ----------
    kind : str
        The generator, e.g. ``"classification"``.
    options : mapping
        JSON-serialisable generator options.
    sources : mapping
        Source file name -> checksum.
    """
    text = json.dumps(_header(kind, options, sources), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _fix_hint(path: Path) -> str:
    return f"delete {str(path)!r} or pass rebuild=True (command line: --rebuild) to regenerate it"


def _load(path: Path, header: dict[str, Any], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            stored = json.loads(bytes(archive["__meta__"]).decode())
            # Reading every array checks each member's CRC.
            arrays = {name: archive[name] for name in archive.files if name != "__meta__"}
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError) as error:
        raise CacheError(
            f"cache file {str(path)!r} is damaged ({type(error).__name__}: {error}); "
            + _fix_hint(path)
        ) from error

    differing = sorted(key for key in header if header[key] != stored.get(key))
    if differing:
        detail = "; ".join(
            f"{key}: file has {stored.get(key)!r}, wanted {header.get(key)!r}" for key in differing
        )
        raise CacheError(
            f"cache file {str(path)!r} was made with other settings ({detail}); " + _fix_hint(path)
        )
    missing = [name for name in names if name not in arrays]
    shapes = stored.get("arrays", {})
    wrong = [
        name
        for name, array in arrays.items()
        if shapes.get(name) != [list(array.shape), array.dtype.str]
    ]
    if missing or wrong:
        raise CacheError(
            f"cache file {str(path)!r} is damaged (missing arrays {missing}, arrays whose shape "
            f"or dtype differ from its header {wrong}); " + _fix_hint(path)
        )
    return arrays


def _save(
    path: Path, header: dict[str, Any], arrays: Mapping[str, np.ndarray], replace: bool
) -> None:
    header = dict(header, arrays={k: [list(v.shape), v.dtype.str] for k, v in arrays.items()})
    meta = np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, __meta__=meta, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            try:
                # link() fails if the name exists: another process built the same set first.
                os.link(temporary, path)
            except FileExistsError:
                logger.debug("cache file %s appeared while building; keeping it", path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def load_or_build(
    kind: str,
    options: Mapping[str, Any],
    sources: Mapping[str, str],
    build: Callable[[], Mapping[str, np.ndarray]],
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    required: tuple[str, ...] = (),
    rebuild: bool = False,
) -> tuple[dict[str, np.ndarray], Path]:
    """Load the arrays of a data set from the cache, or build and store them once.

    Parameters
    ----------
    kind, options, sources
        What identifies the set (see :func:`cache_key`).
    build : callable
        Returns the arrays (name -> numpy array) when there is no cache file.
    cache_dir : str or path-like, optional
        Default :func:`default_cache_dir`.
    required : tuple of str
        Arrays a cache file must hold to be usable.
    rebuild : bool
        Build again and replace the file, even if it exists.

    Returns
    -------
    arrays : dict of str -> numpy.ndarray
    path : pathlib.Path
        The cache file.

    Raises
    ------
    CacheError
        If the file exists but is damaged or was made with other options, and
        ``rebuild`` is False.
    """
    header = _header(kind, options, sources)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = folder / f"{kind}-{cache_key(kind, options, sources)}.npz"

    if path.exists() and not rebuild:
        logger.debug("loading %s from cache %s", kind, path)
        return _load(path, header, required), path

    logger.debug("building %s (options %s) for cache %s", kind, dict(options), path)
    arrays = {name: np.ascontiguousarray(array) for name, array in build().items()}
    _save(path, header, arrays, replace=rebuild)
    return arrays, path
