"""Training runs: folders, checkpoints, logs, resume, seeds, precision."""

from __future__ import annotations

import csv
import time

import pytest
import torch
from tiny_spheres import TINY_EQUIVARIANT, TinyDataModule

from equisphere.models import register_model
from equisphere.models.registry import unregister_model
from equisphere.training.evaluate import load_task
from equisphere.training.trainer import create_run_dir, resolve_precision, train


def test_run_folders_are_new_and_never_reused(tmp_path):
    first = create_run_dir(tmp_path, "exp", now=0.0)
    assert first.is_dir()
    assert first.name == "exp-" + time.strftime("%Y%m%d-%H%M%S", time.localtime(0.0))
    marker = first / "keep.txt"
    marker.write_text("mine")
    with pytest.raises(FileExistsError, match="exists already"):
        create_run_dir(tmp_path, "exp", now=0.0)
    assert marker.read_text() == "mine"
    assert create_run_dir(tmp_path, "exp", now=1.0) != first
    with pytest.raises(ValueError, match="without path separators"):
        create_run_dir(tmp_path, "a/b")


def test_a_run_writes_config_checkpoints_and_logs_and_round_trips(tiny_config, tmp_path):
    config = tiny_config(tmp_path, trainer={"max_epochs": 3})
    result = train(config, datamodule=TinyDataModule())

    run_dir = result.run_dir
    assert run_dir.parent == tmp_path / "runs" and run_dir.name.startswith("tiny-")
    assert (run_dir / "config.yaml").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt") == result.last_checkpoint
    assert result.best_checkpoint.name.startswith("best-epoch")
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    with result.metrics_csv.open() as file:
        rows = list(csv.DictReader(file))
    val_epochs = [int(r["epoch"]) for r in rows if r["val/accuracy"]]
    assert val_epochs == [0, 1, 2]
    assert all(0 <= float(r["val/accuracy"]) <= 1 for r in rows if r["val/accuracy"])

    # The checkpoint gives back the same model: same logits, bit for bit.
    signal = TinyDataModule().val_set.tensors[0]
    trained = result.task.eval()
    reloaded = load_task(result.last_checkpoint)
    assert not reloaded.training
    with torch.no_grad():
        assert torch.equal(reloaded(signal), trained(signal))
    assert reloaded.config == config
    # last.ckpt holds the final epoch even when an earlier epoch validated better.
    assert torch.load(result.last_checkpoint, weights_only=True)["epoch"] == 2


@pytest.mark.parametrize("task", ["classification", "segmentation"])
def test_equivariant_models_round_trip_through_their_checkpoints(
    tiny_config, tiny_s2cnn, tmp_path, task
):
    # Their harmonic bases are non-persistent buffers, rebuilt on loading: the logits must
    # still come back bit for bit.
    config = tiny_config(tmp_path, task, model=TINY_EQUIVARIANT[task], trainer={"max_epochs": 1})
    data = TinyDataModule(task=task)
    result = train(config, datamodule=data)

    signal = data.val_set.tensors[0]
    reloaded = load_task(result.last_checkpoint)
    with torch.no_grad():
        expected = result.task.eval()(signal)
        assert torch.equal(reloaded(signal), expected)
    checkpoint = torch.load(result.last_checkpoint, weights_only=True)
    parameters = sum(p.numel() for p in result.task.parameters())
    stored = sum(t.numel() for t in checkpoint["state_dict"].values())
    assert stored < 2 * parameters  # weights and batch-norm statistics, no bases


def test_last_checkpoint_is_the_final_epoch_even_without_improvement(tiny_config, tmp_path):
    def linear(n_classes: int = 4) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, n_classes))

    register_model("test-frozen-linear")(linear)
    try:
        # lr = 0 and no batch norm: validation accuracy is the same every epoch, so only
        # epoch 0 is ever a new best.
        config = tiny_config(
            tmp_path,
            model={"name": "test-frozen-linear", "options": {}},
            trainer={"max_epochs": 3},
            optim={"lr": 0.0},
        )
        result = train(config, datamodule=TinyDataModule())
    finally:
        unregister_model("test-frozen-linear")
    last = torch.load(result.last_checkpoint, weights_only=True)
    assert (last["epoch"], last["global_step"]) == (2, result.trainer.global_step)
    assert torch.load(result.best_checkpoint, weights_only=True)["epoch"] == 0


def test_resume_continues_in_a_new_folder(tiny_config, tmp_path):
    first = train(
        tiny_config(tmp_path, trainer={"max_epochs": 1, "name": "a"}), datamodule=TinyDataModule()
    )
    steps_per_epoch = first.trainer.global_step
    first_files = sorted(first.run_dir.rglob("*"))
    resumed = train(
        tiny_config(tmp_path, trainer={"max_epochs": 3, "name": "b"}),
        resume=first.last_checkpoint,
        datamodule=TinyDataModule(),
    )
    assert resumed.run_dir != first.run_dir
    assert resumed.trainer.current_epoch == 3
    assert resumed.trainer.global_step == 3 * steps_per_epoch
    assert sorted(first.run_dir.rglob("*")) == first_files  # the first run is left as it was

    with pytest.raises(FileNotFoundError, match="to resume from not found"):
        train(tiny_config(tmp_path), resume=tmp_path / "missing.ckpt", datamodule=TinyDataModule())


def test_same_seed_same_weights(tiny_config, tmp_path):
    weights = []
    for name in ("s1", "s2"):
        config = tiny_config(tmp_path, trainer={"max_epochs": 1, "name": name, "seed": 7})
        task = train(config, datamodule=TinyDataModule()).task
        weights.append(torch.cat([p.detach().flatten() for p in task.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_mixed_precision_only_with_cuda():
    expected = "16-mixed" if torch.cuda.is_available() else "32-true"
    assert resolve_precision("16-mixed", "auto") == expected
    assert resolve_precision("bf16-mixed", "cpu") == "32-true"
    assert resolve_precision("64-true", "cpu") == "64-true"


@pytest.mark.gpu
def test_mixed_precision_training_on_cuda(tiny_config, tmp_path):
    config = tiny_config(
        tmp_path,
        trainer={"accelerator": "gpu", "devices": 1, "precision": "16-mixed", "max_epochs": 1},
    )
    result = train(config, datamodule=TinyDataModule())
    assert result.trainer.precision == "16-mixed"
    assert torch.isfinite(result.trainer.callback_metrics["train/loss_epoch"])
