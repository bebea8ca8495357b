import gzip
import struct

import numpy as np
import pytest

from equisphere.data import IdxFormatError, read_idx, write_idx


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["array.idx", "array.idx.gz"])
def test_write_read_round_trip(tmp_path, dtype, name):
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 5)
    np.testing.assert_array_equal(back, array)


def test_header_bytes_follow_the_format(tmp_path):
    write_idx(tmp_path / "a.idx", np.array([[1, 2, 3], [4, 5, 6]], dtype=">i2"))
    raw = (tmp_path / "a.idx").read_bytes()
    # zero, type 0x0B, 2 dims, sizes 2 and 3, then big-endian int16.
    assert raw == bytes([0, 0, 0x0B, 2]) + struct.pack(">II", 2, 3) + struct.pack(
        ">6h", 1, 2, 3, 4, 5, 6
    )


def test_gzip_is_detected_from_content_not_name(tmp_path):
    write_idx(tmp_path / "plain.gz", np.arange(4, dtype=np.uint8), compress=False)
    write_idx(tmp_path / "zipped.idx", np.arange(4, dtype=np.uint8), compress=True)
    assert read_idx(tmp_path / "plain.gz").tolist() == [0, 1, 2, 3]
    assert read_idx(tmp_path / "zipped.idx").tolist() == [0, 1, 2, 3]


def test_gzip_output_is_reproducible(tmp_path):
    array = np.arange(100, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_write_never_overwrites(tmp_path):
    write_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.uint8))
    with pytest.raises(FileExistsError, match="a.idx"):
        write_idx(tmp_path / "a.idx", np.ones(3, dtype=np.uint8))
    assert read_idx(tmp_path / "a.idx").tolist() == [0, 0, 0]


def test_real_fashion_mnist_labels_match_an_independent_parse(shared_data):
    path = shared_data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    magic, count = struct.unpack(">II", raw[:8])
    assert magic == 2049  # the MNIST label file's documented magic number
    labels = read_idx(path)
    assert labels.shape == (count,) == (10000,)
    assert labels[:10].tolist() == list(raw[8:18])
    assert np.bincount(labels).tolist() == [1000] * 10  # Fashion-MNIST's test set is balanced


def test_real_fashion_mnist_images(shared_data):
    images = read_idx(shared_data / "fashion-mnist" / "train-images-idx3-ubyte.gz")
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert images.max() == 255 and images.min() == 0


def _gz(tmp_path, name, payload: bytes):
    path = tmp_path / name
    path.write_bytes(gzip.compress(payload, mtime=0))
    return path


def test_truncated_data_names_file_and_sizes(tmp_path):
    header = bytes([0, 0, 8, 3]) + struct.pack(">III", 10, 28, 28)
    path = _gz(tmp_path, "short-images.gz", header + bytes(28 * 28 * 9))
    with pytest.raises(IdxFormatError, match=r"short-images\.gz.*truncated.*7856 bytes.*got 7072"):
        read_idx(path)


def test_trailing_bytes_are_rejected(tmp_path):
    path = tmp_path / "long.idx"
    path.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 3) + bytes(5))
    with pytest.raises(IdxFormatError, match="longer than its header says"):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path):
    write_idx(tmp_path / "a.gz", np.arange(5000, dtype=np.int32))
    damaged = tmp_path / "cut.gz"
    damaged.write_bytes((tmp_path / "a.gz").read_bytes()[:-40])
    with pytest.raises(IdxFormatError, match=r"cut\.gz.*cannot be decompressed"):
        read_idx(damaged)


def test_truncated_header(tmp_path):
    path = tmp_path / "header.idx"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">I", 10))
    with pytest.raises(IdxFormatError, match="truncated inside its header"):
        read_idx(path)


@pytest.mark.parametrize(
    "payload",
    [b"\x89PNG\r\n\x1a\n" + bytes(40), b"hello, world", bytes([0, 0, 0x42, 1, 0, 0, 0, 0])],
)
def test_non_idx_content(tmp_path, payload):
    path = tmp_path / "picture.png"
    path.write_bytes(payload)
    with pytest.raises(IdxFormatError, match=r"picture\.png.*not an IDX file"):
        read_idx(path)


def test_tiny_and_missing_files(tmp_path):
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(IdxFormatError, match="only 2 bytes"):
        read_idx(tmp_path / "tiny")
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")
    with pytest.raises(IdxFormatError, match="directory"):
        read_idx(tmp_path)


def test_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="uint8, int8.*got complex128"):
        write_idx(tmp_path / "c.idx", np.zeros(2, dtype=complex))
