import pytest
import torch

from equisphere.training.datamodules import (
    SphericalClassificationDataModule,
    SphericalSegmentationDataModule,
)


def test_classification_module_splits_and_batches(tmp_path):
    module = SphericalClassificationDataModule(
        train_rotation="NR/R", train_size=120, test_size=30, val_fraction=0.25,
        cache_dir=tmp_path, batch_size=16, seed=3,
    )  # fmt: skip
    assert (module.train_rotation, module.test_rotation) == ("NR", "R")
    assert module.n_classes == 10 and module.in_channels == 1
    module.prepare_data()
    module.setup("fit")
    module.setup("test")
    assert len(module.train_set) == 90 and len(module.val_set) == 30 and len(module.test_set) == 30
    train_indices, val_indices = set(module.train_set.indices), set(module.val_set.indices)
    assert not train_indices & val_indices and len(train_indices | val_indices) == 120

    signals, labels = next(iter(module.train_dataloader()))
    assert signals.shape == (16, 1, 60, 60) and signals.dtype == torch.float32
    assert labels.dtype == torch.int64 and float(signals.max()) <= 1
    # Upright training set, rotated test set.
    assert torch.equal(module.full_train_set.rotations[0], torch.eye(3))
    assert not torch.allclose(module.test_set.rotations[0], torch.eye(3))
    assert sum(len(batch[1]) for batch in module.test_dataloader()) == 30
    assert len(list(tmp_path.glob("classification-*.npz"))) == 2


def test_same_seed_same_validation_split(tmp_path):
    splits = []
    for _ in range(2):
        module = SphericalClassificationDataModule(train_size=50, test_size=5, cache_dir=tmp_path)
        module.setup("fit")
        splits.append(module.val_set.indices)
    assert splits[0] == splits[1] and len(splits[0]) == 5


def test_val_size_zero_means_no_validation(tmp_path):
    module = SphericalClassificationDataModule(
        train_size=20, test_size=5, val_size=0, cache_dir=tmp_path
    )
    module.setup("fit")
    assert len(module.train_set) == 20 and module.val_dataloader() == []


def test_segmentation_module(tmp_path):
    module = SphericalSegmentationDataModule(
        train_rotation="NR", test_rotation="R", train_size=20, test_size=6, val_size=4,
        cache_dir=tmp_path, batch_size=4, objects=(1, 2),
    )  # fmt: skip
    module.setup()
    assert module.n_classes == 11 and module.class_names[0] == "background"
    signals, targets = next(iter(module.val_dataloader()))
    assert signals.shape == (4, 1, 60, 60) and targets.shape == (4, 60, 60)
    assert targets.dtype == torch.int64 and int(targets.max()) <= 10
    assert module.full_train_set.options["rotation"] == "NR"
    assert module.test_set.options["rotation"] == "R"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"train_rotation": "NR/R", "test_rotation": "R"}, "either a setting"),
        ({"train_rotation": "sideways"}, "train_rotation 'NR'"),
        ({"val_fraction": 1.5}, r"val_fraction in \[0, 1\)"),
        ({"batch_size": 0}, "batch_size >= 1"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SphericalClassificationDataModule(**kwargs)


def test_validation_larger_than_training_set(tmp_path):
    module = SphericalClassificationDataModule(train_size=10, val_size=10, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="leaves no training samples"):
        module.setup("fit")
    with pytest.raises(ValueError, match="call setup"):
        SphericalClassificationDataModule().train_dataloader()
