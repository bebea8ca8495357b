import shutil

import numpy as np
import pytest

from equisphere.data import (
    FASHION_MNIST_CLASSES,
    IdxFormatError,
    builtin_folder,
    load_fashion_mnist,
    read_idx,
    write_idx,
)
from equisphere.data.sources import find_source_files, source_checksums


def test_builtin_subset_is_the_first_images_of_the_real_files(shared_data):
    folder = shared_data / "fashion-mnist"
    for split, prefix, count in (("train", "train", 6000), ("test", "t10k", 1000)):
        images, labels = load_fashion_mnist(None, split)
        assert images.shape == (count, 28, 28) and labels.shape == (count,)
        np.testing.assert_array_equal(
            images, read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")[:count]
        )
        np.testing.assert_array_equal(
            labels, read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")[:count]
        )


def test_builtin_subset_is_small_and_licensed():
    folder = builtin_folder()
    total = sum(path.stat().st_size for path in folder.iterdir())
    assert total < 3.5e6
    assert "Zalando" in (folder / "LICENSE").read_text()
    assert "MIT" in (folder / "README.md").read_text()


def test_builtin_labels_cover_all_classes():
    _, labels = load_fashion_mnist(None, "test")
    assert labels.dtype == np.int64
    assert set(labels.tolist()) == set(range(10)) and len(FASHION_MNIST_CLASSES) == 10
    assert FASHION_MNIST_CLASSES[int(labels[0])] == "Ankle boot"


def test_full_folder(shared_data):
    images, labels = load_fashion_mnist(shared_data / "fashion-mnist", "test")
    assert images.shape == (10000, 28, 28)
    assert np.bincount(labels).tolist() == [1000] * 10


def _folder(tmp_path, images, labels, prefix="t10k", gz=True):
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{suffix}", images)
    write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return tmp_path


def test_plain_files_are_found(tmp_path):
    folder = _folder(
        tmp_path, np.zeros((3, 4, 5), np.uint8), np.array([1, 2, 3], np.uint8), gz=False
    )
    images, labels = load_fashion_mnist(folder, "test")
    assert images.shape == (3, 4, 5) and labels.tolist() == [1, 2, 3]


def test_count_mismatch_names_both_files(tmp_path):
    folder = _folder(tmp_path, np.zeros((3, 28, 28), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(
        IdxFormatError, match=r"3 images but .*t10k-labels-idx1-ubyte\.gz.* 4 labels"
    ):
        load_fashion_mnist(folder, "test")


def test_labels_out_of_range(tmp_path):
    folder = _folder(tmp_path, np.zeros((2, 28, 28), np.uint8), np.array([3, 12], np.uint8))
    with pytest.raises(IdxFormatError, match="labels 0..9.*to 12"):
        load_fashion_mnist(folder, "test")


def test_images_of_wrong_rank(tmp_path):
    folder = _folder(tmp_path, np.zeros((2, 28), np.uint8), np.array([3, 1], np.uint8))
    with pytest.raises(IdxFormatError, match=r"images of shape \(N, H, W\)"):
        load_fashion_mnist(folder, "test")


def test_missing_folder_and_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does-not-exist.*dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "does-not-exist", "train")
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(FileNotFoundError, match="no train labels file.*train-labels-idx1-ubyte.gz"):
        load_fashion_mnist(tmp_path, "train")


def test_truncated_real_file_is_reported(shared_data, tmp_path):
    source = shared_data / "fashion-mnist"
    shutil.copy(source / "t10k-labels-idx1-ubyte.gz", tmp_path)
    raw = (source / "t10k-images-idx3-ubyte.gz").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(IdxFormatError, match="t10k-images-idx3-ubyte.gz.*truncated or damaged"):
        load_fashion_mnist(tmp_path, "test")


def test_bad_split():
    with pytest.raises(ValueError, match="'train' or 'test', got 'valid'"):
        load_fashion_mnist(None, "valid")


def test_checksums_change_with_content(tmp_path):
    folder = _folder(tmp_path, np.zeros((2, 3, 3), np.uint8), np.array([1, 2], np.uint8))
    first = source_checksums(folder, "test")
    assert set(first) == {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}
    labels = find_source_files(folder, "test").labels
    labels.unlink()
    write_idx(labels, np.array([1, 3], np.uint8))
    second = source_checksums(folder, "test")
    assert second["t10k-labels-idx1-ubyte.gz"] != first["t10k-labels-idx1-ubyte.gz"]
    assert second["t10k-images-idx3-ubyte.gz"] == first["t10k-images-idx3-ubyte.gz"]
