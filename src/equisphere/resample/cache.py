"""An in-memory cache of resampling maps, keyed by everything that shapes a map.

A key holds the camera (cameras are immutable and hashable), the grid (its
``repr``), the image size, the orientation as a tuple of floats and the
options; so the same camera and grid never build a map twice, and any change
of parameters builds a new one. Least recently used entries are dropped once
``max_entries`` is reached. Nothing is written to disk.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from equisphere.resample.maps import ResampleMap

__all__ = ["MapCache", "default_cache"]

logger = logging.getLogger(__name__)


class MapCache:
    """Least-recently-used store of ``ResampleMap`` objects.

    Parameters
    ----------
    max_entries : int
        How many maps to keep (a bandwidth-128 camera map is about 40 MB).

    Examples
    --------
    >>> cache = MapCache(max_entries=2)
    >>> cache.builds, len(cache)
    (0, 0)
    """

    def __init__(self, max_entries: int = 16) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"expected max_entries to be a positive integer, got {max_entries!r}")
        self.max_entries = max_entries
        self.builds = 0
        self.hits = 0
        self._maps: OrderedDict[Hashable, ResampleMap] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], ResampleMap]) -> ResampleMap:
        """The map for ``key``, built by ``build()`` on the first request."""
        if key in self._maps:
            self.hits += 1
            self._maps.move_to_end(key)
            return self._maps[key]
        start = time.perf_counter()
        resample_map = build()
        self.builds += 1
        logger.debug(
            "built resampling map in %.2f s for %s", time.perf_counter() - start, _describe(key)
        )
        self._maps[key] = resample_map
        while len(self._maps) > self.max_entries:
            self._maps.popitem(last=False)
        return resample_map

    def clear(self) -> None:
        self._maps.clear()

    def __len__(self) -> int:
        return len(self._maps)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._maps


default_cache = MapCache()


def _describe(key: Hashable) -> str:
    return repr(key[:3]) if isinstance(key, tuple) else repr(key)
