"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a big-endian header followed by the raw array:

- bytes 0-1: zero;
- byte 2: the element type (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
  0x0D float32, 0x0E float64);
- byte 3: the number of dimensions ``ndim``;
- then ``ndim`` unsigned 32-bit big-endian sizes;
- then ``prod(sizes)`` elements in C order, big-endian.

Files may be gzip-compressed; compression is detected from the content (the
gzip magic bytes ``1f 8b``), not from the file name.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IdxFormatError", "read_idx", "write_idx"]

logger = logging.getLogger(__name__)

# IDX element-type code -> big-endian numpy dtype.
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(ValueError):
    """A file that is not a valid IDX file (bad magic, bad header, wrong length)."""


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise FileNotFoundError(f"IDX file {str(path)!r} does not exist")
    if not path.is_file():
        raise IdxFormatError(f"expected {str(path)!r} to be an IDX file, got a directory")
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise IdxFormatError(
            f"IDX file {str(path)!r} is gzip-compressed but cannot be decompressed ({error}); "
            "the file is probably truncated or damaged: download it again"
        ) from error


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed) into a NumPy array.

    The magic number, the element type, the number of dimensions and the file
    length are all checked against the header, so a truncated download, a file
    with trailing bytes or a file in another format gives an
    :class:`IdxFormatError` that names the file and what was wrong.

    Parameters
    ----------
    path : str or path-like
        The IDX file, for example ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    numpy.ndarray
        The array with the header's shape, in native byte order (``uint8`` for
        MNIST images, shape ``(N, 28, 28)``; labels shape ``(N,)``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    IdxFormatError
        If the content is not a valid IDX file.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> write_idx(folder + "/a.idx.gz", np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> read_idx(folder + "/a.idx.gz").tolist()
    [[0, 1, 2], [3, 4, 5]]
    """
    path = Path(path)
    raw = _read_bytes(path)

    if len(raw) < 4:
        raise IdxFormatError(
            f"expected an IDX file, but {str(path)!r} has only {len(raw)} bytes "
            "(an IDX header needs at least 4)"
        )
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code not in _DTYPES:
        raise IdxFormatError(
            f"expected an IDX file (magic number 0x0000 followed by a type code in "
            f"{sorted(hex(c) for c in _DTYPES)}), but {str(path)!r} starts with "
            f"0x{raw[:4].hex()}: it is not an IDX file"
        )
    if ndim == 0:
        raise IdxFormatError(f"expected at least one dimension in IDX file {str(path)!r}, got 0")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise IdxFormatError(
            f"IDX file {str(path)!r} is truncated inside its header: {ndim} dimensions need "
            f"{header_size} header bytes, got {len(raw)}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])

    dtype = _DTYPES[code]
    expected = header_size + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise IdxFormatError(
            f"IDX file {str(path)!r} is {problem}: a {dtype.name} array of shape {shape} "
            f"needs {expected} bytes (after decompression), got {len(raw)}"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    logger.debug("read IDX %s: %s %s", path, array.dtype, shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, *, compress: bool | None = None
) -> None:
    """Write ``array`` as an IDX file; gzip it when the name ends in ``.gz``.

    The gzip stream carries no time stamp, so the same array always gives the
    same bytes. An existing file is never overwritten.

    Parameters
    ----------
    path : str or path-like
    array : numpy.ndarray
        Of dtype uint8, int8, int16, int32, float32 or float64, at least 1-D.
    compress : bool, optional
        Force gzip on or off; default from the file name.

    Raises
    ------
    FileExistsError
        If ``path`` exists.
    TypeError
        If the dtype has no IDX code.
    """
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        raise TypeError(
            f"expected an array of dtype uint8, int8, int16, int32, float32 or float64 for IDX, "
            f"got {array.dtype}"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"expected an array with 1 to 255 dimensions, got {array.ndim}")
    if path.exists():
        raise FileExistsError(f"refusing to overwrite existing file {str(path)!r}")

    code = _CODES[native]
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    with open(path, "xb") as handle:
        handle.write(payload)
