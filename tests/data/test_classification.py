import numpy as np
import pytest
import torch

from equisphere.data import (
    FASHION_MNIST_CLASSES,
    SphericalClassificationDataset,
    load_fashion_mnist,
    make_spherical_classification,
    parse_rotation_setting,
    project_images,
)
from equisphere.so3 import check_rotation_matrix
from equisphere.sphere import EquiangularGrid, angles_from_vectors

try:  # the sphere resampler, once it exists; until then the plotting sampler (also bilinear)
    from equisphere.sphere.interpolate import rotate_signal
except ImportError:
    rotate_signal = None


def resample_rotated(signals, bandwidth, rotations):
    """Bilinear resampling of grid signals (N, 2B, 2B) rotated by ``rotations`` (N, 3, 3)."""
    grid = EquiangularGrid(bandwidth)
    if rotate_signal is not None:
        return torch.stack(
            [rotate_signal(s[None], grid, r)[0] for s, r in zip(signals, rotations, strict=True)]
        )
    from equisphere.viz import sample_on_grid

    vectors = grid.vectors().reshape(-1, 3)
    out = []
    for signal, rotation in zip(signals, rotations.to(torch.float64), strict=True):
        theta, phi = angles_from_vectors(vectors @ rotation)  # rows of R^-1 x
        out.append(sample_on_grid(signal, theta.numpy(), phi.numpy()).reshape(grid.shape))
    return torch.as_tensor(np.stack(out))


def test_items_follow_the_contract():
    data = make_spherical_classification("test", rotation="R", size=50, cache=False)
    signal, label = data[3]
    assert signal.dtype == torch.float32 and signal.shape == (1, 60, 60)
    assert label.dtype == torch.int64 and label.ndim == 0
    assert float(signal.min()) == 0.0 and 0.5 < float(signal.max()) <= 1.0
    assert data.bandwidth == 30 and data.class_names == FASHION_MNIST_CLASSES and len(data) == 50
    assert data.rotations.shape == (50, 3, 3) and data.rotations.dtype == torch.float32
    assert data.labels.dtype == torch.int64
    _, labels = load_fashion_mnist(None, "test")
    assert data.labels.tolist() == labels[:50].tolist()
    torch.testing.assert_close(signal[0], data.signals[3].float() / 255)


def test_upright_set_is_the_projection_with_identity_rotations():
    data = make_spherical_classification("train", size=30, cache=False, bandwidth=12)
    images, _ = load_fashion_mnist(None, "train")
    torch.testing.assert_close(data.signals, project_images(torch.from_numpy(images[:30]), 12))
    torch.testing.assert_close(data.rotations, torch.eye(3).expand(30, 3, 3))
    assert data.signals.shape == (30, 24, 24)


def test_each_image_has_its_own_stored_rotation():
    data = make_spherical_classification("test", rotation="R", size=200, cache=False)
    rotations = data.rotations.to(torch.float64)
    check_rotation_matrix(rotations, atol=1e-6)
    flat = rotations.reshape(200, 9)
    assert torch.cdist(flat, flat).add(torch.eye(200)).min() > 1e-3  # no two alike
    images, _ = load_fashion_mnist(None, "test")
    expected = project_images(torch.from_numpy(images[:200]), 30, rotations)
    torch.testing.assert_close(data.signals, expected)


def test_same_seed_same_set_and_streams_differ():
    first = make_spherical_classification("test", rotation="R", size=20, seed=4, cache=False)
    again = make_spherical_classification("test", rotation="R", size=20, seed=4, cache=False)
    other = make_spherical_classification("test", rotation="R", size=20, seed=5, cache=False)
    train = make_spherical_classification("train", rotation="R", size=20, seed=4, cache=False)
    assert torch.equal(first.signals, again.signals) and torch.equal(
        first.rotations, again.rotations
    )
    assert not torch.allclose(first.rotations, other.rotations)
    assert not torch.allclose(first.rotations, train.rotations)


def test_rotating_upright_samples_reproduces_rotated_samples():
    # Bound: bilinear resampling on the 60 x 60 grid reproduces the R sample to a mean absolute
    # error below 0.01 of full scale and a relative L2 error of at most 0.25 per image (measured:
    # 0.005 and 0.07 on average, 0.20 at worst over 1,000 test images).
    upright = make_spherical_classification("test", size=60, cache=False)
    rotated = make_spherical_classification("test", rotation="R", size=60, cache=False)
    resampled = resample_rotated(upright.signals.double() / 255, 30, rotated.rotations)
    target = rotated.signals.double() / 255
    weights = EquiangularGrid(30).weights
    error = (resampled - target).abs()
    mean_error = (error * weights).sum((1, 2)) / (4 * np.pi)
    relative = ((error**2 * weights).sum((1, 2)) / (target**2 * weights).sum((1, 2))).sqrt()
    assert float(mean_error.mean()) < 0.01 and float(relative.mean()) < 0.1
    assert float(relative.max()) < 0.25

    # Undoing: the R sample rotated back by R^-1 gives the upright sample, with the same bound.
    undone = resample_rotated(target, 30, rotated.rotations.transpose(1, 2))
    back = ((undone - upright.signals.double() / 255) ** 2 * weights).sum((1, 2)).sqrt()
    assert (
        float((back / ((upright.signals.double() / 255) ** 2 * weights).sum((1, 2)).sqrt()).mean())
        < 0.1
    )


def test_interpolation_error_shrinks_with_bandwidth():
    errors = []
    for bandwidth in (30, 60):
        upright = make_spherical_classification("test", size=16, bandwidth=bandwidth, cache=False)
        rotated = make_spherical_classification(
            "test", rotation="R", size=16, bandwidth=bandwidth, cache=False
        )
        resampled = resample_rotated(upright.signals.double() / 255, bandwidth, rotated.rotations)
        weights = EquiangularGrid(bandwidth).weights
        errors.append(float(((resampled - rotated.signals.double() / 255).abs() * weights).sum()))
    assert errors[1] < 0.6 * errors[0]


def test_cached_set_is_reused(tmp_path, monkeypatch):
    calls = []
    original = project_images

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr("equisphere.data.classification.project_images", counting)
    first = make_spherical_classification("test", rotation="R", size=10, cache_dir=tmp_path)
    second = make_spherical_classification("test", rotation="R", size=10, cache_dir=tmp_path)
    assert len(calls) == 1 and torch.equal(first.signals, second.signals)
    assert first.options["cache_file"] == second.options["cache_file"]
    # The seed does not change upright sets, so it is not part of their key.
    a = make_spherical_classification("test", size=10, seed=1, cache_dir=tmp_path)
    b = make_spherical_classification("test", size=10, seed=2, cache_dir=tmp_path)
    assert a.options["cache_file"] == b.options["cache_file"] and len(calls) == 2
    c = make_spherical_classification("test", size=11, cache_dir=tmp_path)
    assert c.options["cache_file"] != a.options["cache_file"] and len(calls) == 3


def test_full_source_folder(shared_data, tmp_path):
    data = make_spherical_classification(
        "test", source=shared_data / "fashion-mnist", size=1500, cache=False
    )
    assert len(data) == 1500 and sorted(set(data.labels.tolist())) == list(range(10))


def test_settings_are_parsed():
    assert parse_rotation_setting("NR/R") == ("NR", "R")
    assert parse_rotation_setting("r/r") == ("R", "R")
    with pytest.raises(ValueError, match="like 'NR/NR'"):
        parse_rotation_setting("NR")
    with pytest.raises(ValueError, match="test rotation 'NR' .* got 'X'"):
        parse_rotation_setting("NR/X")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"rotation": "Z"}, ValueError, "rotation 'NR'.*got 'Z'"),
        ({"size": 1001}, ValueError, "asked for 1001 .* only 1000"),
        ({"size": 0}, ValueError, "positive int"),
        ({"seed": -1}, ValueError, "non-negative int"),
        ({"bandwidth": 0}, ValueError, "bandwidth >= 1"),
        ({"source": "/no/such/folder"}, FileNotFoundError, "/no/such/folder"),
    ],
)
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_spherical_classification("test", cache=False, **kwargs)


def test_dataset_checks_its_arrays():
    good = torch.zeros(3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8 signals"):
        SphericalClassificationDataset(good.float(), torch.zeros(3), torch.eye(3).expand(3, 3, 3))
    with pytest.raises(ValueError, match=r"labels of shape \(3,\)"):
        SphericalClassificationDataset(good, torch.zeros(2), torch.eye(3).expand(3, 3, 3))
