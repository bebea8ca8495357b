"""The train, evaluate, equivariance, predict and demo commands, end to end on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from equisphere.cli.main import main

BANDWIDTH = 8


def tiny_config(root: Path, task: str = "classification") -> dict:
    classification = task == "classification"
    return {
        "model": {
            "name": "planar-cnn" if classification else "planar-unet",
            "options": {"width": 4} if classification else {"width": 4, "depth": 2},
        },
        "data": {
            "task": task,
            "bandwidth": BANDWIDTH,
            "train_size": 64 if classification else 24,
            "val_size": 16 if classification else 8,
            "test_size": 32 if classification else 8,
            "cache_dir": str(root / "cache"),
            "batch_size": 16,
        },
        "trainer": {
            "name": task,
            "runs_dir": str(root / "runs"),
            "max_epochs": 1,
            "accelerator": "cpu",
            "progress_bar": False,
        },
    }


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def tree(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny classifier and one tiny segmenter trained through 'equisphere train'."""
    root = tmp_path_factory.mktemp("cli")
    checkpoints = {}
    for task in ("classification", "segmentation"):
        config = root / f"{task}.yaml"
        config.write_text(yaml.safe_dump(tiny_config(root, task)))
        assert main(["train", "--config", str(config), "--seed", "3"]) == 0
        (run_dir,) = (root / "runs").glob(f"{task}-*")
        checkpoints[task] = run_dir / "checkpoints" / "last.ckpt"
    return root, checkpoints


def test_train_writes_a_run_folder_with_the_overrides(trained):
    root, checkpoints = trained
    run_dir = checkpoints["classification"].parent.parent
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["trainer"]["seed"] == 3 and saved["data"]["bandwidth"] == BANDWIDTH
    assert (run_dir / "logs" / "metrics.csv").is_file()
    hparams = torch.load(checkpoints["classification"], weights_only=True)["hyper_parameters"]
    assert hparams["class_names"][:2] == ["T-shirt/top", "Trouser"]


def test_resume_from_a_checkpoint_alone_continues_its_run(trained, capsys):
    root, checkpoints = trained
    before = sorted((root / "runs").iterdir())
    status, out, _ = run_cli(
        capsys,
        "train",
        "--resume",
        checkpoints["classification"],
        "trainer.max_epochs=2",
        "--name",
        "resumed",
    )
    assert status == 0 and "planar-cnn (" in out
    (resumed,) = (root / "runs").glob("resumed-*")
    assert sorted((root / "runs").iterdir()) == sorted([*before, resumed])
    checkpoint = torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 1  # epochs 0 (first run) and 1 (this one)
    assert checkpoint["hyper_parameters"]["config"]["data"]["bandwidth"] == BANDWIDTH


def test_evaluate_json_is_consistent_with_its_confusion_matrix(trained, capsys):
    _, checkpoints = trained
    status, out, _ = run_cli(capsys, "evaluate", checkpoints["classification"], "--json")
    assert status == 0
    result = json.loads(out)
    assert result["model"] == "planar-cnn" and result["metric"] == "accuracy"
    for rotation in ("NR", "R"):
        confusion = np.array(result[rotation]["confusion"])
        assert result[rotation]["count"] == confusion.sum() == 32
        assert result[rotation]["accuracy"] == pytest.approx(np.trace(confusion) / 32)
    # The rotated test set differs from the upright one.
    assert result["NR"]["loss"] != result["R"]["loss"]

    status, out, _ = run_cli(capsys, "evaluate", checkpoints["segmentation"])
    assert status == 0 and "miou" in out and "NR" in out


def test_equivariance_of_a_planar_cnn_is_far_from_exact(trained, capsys):
    _, checkpoints = trained
    argv = ["equivariance", checkpoints["classification"], "--samples", 4, "--rotations", 2]
    status, out, _ = run_cli(capsys, *argv, "--json")
    assert status == 0
    result = json.loads(out)
    assert result["n_samples"] == 4 and result["n_rotations"] == 2
    assert result["relative_error"] > 1e-2  # a planar CNN changes its logits under rotation
    assert 0 <= result["agreement"] <= 1


def test_predict_a_sample_matches_the_model(trained, capsys, tmp_path):
    from equisphere.training.evaluate import load_task

    _, checkpoints = trained
    sample = np.random.default_rng(0).random((2 * BANDWIDTH, 2 * BANDWIDTH)).astype(np.float32)
    np.save(tmp_path / "sample.npy", sample)
    status, out, _ = run_cli(
        capsys, "predict", checkpoints["classification"], tmp_path / "sample.npy", "--json"
    )
    assert status == 0
    result = json.loads(out)
    task = load_task(checkpoints["classification"])
    with torch.no_grad():
        logits = task(torch.from_numpy(sample)[None, None])[0]
    assert result["top"][0]["class"] == int(logits.argmax())
    np.testing.assert_allclose(result["probabilities"], torch.softmax(logits, 0), rtol=1e-5)


def test_predict_draws_labels_on_a_panorama(trained, capsys, tmp_path):
    _, checkpoints = trained
    panorama = (np.random.default_rng(1).random((32, 64, 3)) * 255).astype(np.uint8)
    Image.fromarray(panorama).save(tmp_path / "room.png")
    status, out, _ = run_cli(capsys, "predict", checkpoints["segmentation"], tmp_path / "room.png")
    assert status == 0
    drawn = np.asarray(Image.open(tmp_path / "room-labels.png"))
    assert drawn.shape == (32, 64, 3)
    shares = [float(line.split()[-4].rstrip("%")) for line in out.splitlines()[1:]]
    assert sum(shares) == pytest.approx(100, abs=0.05)
    # A second run refuses to overwrite the picture.
    status, _, err = run_cli(capsys, "predict", checkpoints["segmentation"], tmp_path / "room.png")
    assert status == 2 and "exists already" in err


def test_missing_checkpoint_is_rejected_without_writing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "sample.npy", np.zeros((16, 16), dtype=np.float32))
    before = tree(tmp_path)
    for argv in (
        ["evaluate", "missing.ckpt"],
        ["equivariance", "missing.ckpt"],
        ["predict", "missing.ckpt", "sample.npy"],
        ["train", "--resume", "missing.ckpt"],
    ):
        status, _, err = run_cli(capsys, *argv)
        assert status == 2
        assert "'missing.ckpt'" in err and "not found" in err
    assert tree(tmp_path) == before


def test_unknown_config_key_is_rejected_without_writing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path)
    config["optim"] = {"learning_rate": 0.1}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    before = tree(tmp_path)
    status, _, err = run_cli(capsys, "train", "--config", "bad.yaml")
    assert status == 2
    assert "unknown key 'learning_rate' in section 'optim'; expected one of optimizer, lr" in err
    status, _, err = run_cli(
        capsys, "train", "--config", "bad.yaml", "optim.lr=0.1", "trainer.epochs=3"
    )
    assert status == 2 and "unknown key" in err
    assert tree(tmp_path) == before


def test_wrong_grid_size_is_rejected_without_writing(trained, capsys, tmp_path):
    _, checkpoints = trained
    np.save(tmp_path / "big.npy", np.zeros((60, 60), dtype=np.float32))
    Image.fromarray(np.zeros((30, 50), dtype=np.uint8)).save(tmp_path / "square.png")
    before = tree(tmp_path)
    status, _, err = run_cli(capsys, "predict", checkpoints["classification"], tmp_path / "big.npy")
    assert status == 2
    assert "expected a spherical sample of shape (16, 16) or (1, 16, 16)" in err
    assert "bandwidth 8" in err and "got shape (60, 60)" in err
    status, _, err = run_cli(capsys, "predict", checkpoints["segmentation"], tmp_path / "big.npy")
    assert status == 2 and "got shape (60, 60)" in err
    status, _, err = run_cli(
        capsys, "predict", checkpoints["classification"], tmp_path / "square.png"
    )
    assert status == 2 and "twice as wide as high, got 50 x 30" in err
    assert tree(tmp_path) == before


def test_sample_of_8_bit_values_is_rejected_without_writing(trained, capsys, tmp_path):
    _, checkpoints = trained
    np.save(tmp_path / "bytes.npy", np.full((16, 16), 255.0, dtype=np.float32))
    before = tree(tmp_path)
    status, _, err = run_cli(
        capsys, "predict", checkpoints["classification"], tmp_path / "bytes.npy"
    )
    assert status == 2
    assert "expected values in [0, 1]" in err and "from 255 to 255" in err and "by 255" in err
    assert tree(tmp_path) == before


def test_demo_trains_evaluates_and_plots(capsys, tmp_path):
    shared = tiny_config(tmp_path)
    demo = {
        "data": shared["data"],
        "trainer": {"max_epochs": 1, "accelerator": "cpu"},
        "runs": [
            {"name": "plain", "model": shared["model"]},
            {"name": "augmented", "model": shared["model"], "data": {"augment": "rotation"}},
        ],
    }
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(demo))
    output = tmp_path / "out"
    status, out, _ = run_cli(
        capsys, "demo", "--config", tmp_path / "demo.yaml", "--output", output, "--no-progress"
    )
    assert status == 0
    results = json.loads((output / "results.json").read_text())
    assert list(results) == ["plain", "augmented"]
    for row in results.values():
        assert row["NR"]["count"] == row["R"]["count"] == 32
        assert f"{100 * row['R']['accuracy']:.1f}%" in out
    names = {p.name for p in output.iterdir()}
    assert {"training_curves.png", "confusion_plain_NR.png", "confusion_augmented_R.png"} <= names
    status, _, err = run_cli(capsys, "demo", "--config", tmp_path / "demo.yaml", "--output", output)
    assert status == 2 and "exists already" in err


def test_default_demo_config_trains_an_s2cnn_and_a_planar_cnn_on_upright_spheres(tmp_path):
    # 'equisphere demo' with no arguments reads this file; a bad key would only show at the
    # user's first command.
    from equisphere.cli.demo import DEFAULT_CONFIG, demo_configs

    configs = demo_configs(yaml.safe_load(DEFAULT_CONFIG.read_text()), [], tmp_path / "runs")
    models = {config.model.name for config in configs.values()}
    assert {"s2cnn-cohen2018", "planar-cnn"} <= models
    for config in configs.values():
        assert config.data.train_rotation == "NR" and config.data.source is None
        assert config.data.task == "classification"
        assert config.trainer.runs_dir == str(tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_files_of_the_wrong_kind_are_named_without_writing(trained, capsys, tmp_path):
    _, checkpoints = trained
    (tmp_path / "notes.png").write_text("not pixels\n")
    (tmp_path / "notes.ckpt").write_text("hello\n")
    np.save(tmp_path / "array.npy", np.zeros((16, 16), dtype=np.float32))
    before = tree(tmp_path)
    status, _, err = run_cli(capsys, "predict", checkpoints["segmentation"], tmp_path / "notes.png")
    assert status == 2 and err.startswith("equisphere predict: error: ")
    assert "notes.png" in err and "expected an image file (PNG, JPEG, ...)" in err
    expected = (
        "not a checkpoint written by equisphere (expected a .ckpt file from `equisphere train`)"
    )
    for checkpoint in ("notes.ckpt", "array.npy"):
        for command in ("predict", "evaluate"):
            argv = [command, tmp_path / checkpoint] + (
                [tmp_path / "array.npy"] * (command == "predict")
            )
            status, _, err = run_cli(capsys, *argv)
            assert status == 2
            assert err.startswith(
                f"equisphere {command}: error: {str(tmp_path / checkpoint)!r}: {expected}: "
            )
            assert err.count("\n") == 1 and len(err) < 250, err
    assert tree(tmp_path) == before


def test_runs_dir_that_is_a_file_is_refused_without_writing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tiny_config(tmp_path)))
    (tmp_path / "runs").write_text("mine")
    before = tree(tmp_path)
    status, _, err = run_cli(capsys, "train", "--config", "config.yaml", "--runs-dir", "runs")
    assert status == 2 and err.startswith("equisphere train: error: ")
    assert "expected trainer.runs_dir (--runs-dir) to be a folder, got the file 'runs'" in err
    assert tree(tmp_path) == before and (tmp_path / "runs").read_text() == "mine"


def test_failed_demo_leaves_no_output_folder_behind(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shared = tiny_config(tmp_path)
    data = {**shared["data"], "source": str(tmp_path / "no-such-folder")}
    demo = {
        "data": data,
        "trainer": {"max_epochs": 1},
        "runs": [{"name": "plain", "model": shared["model"]}],
    }
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(demo))
    before = tree(tmp_path)
    for _ in range(2):  # the second run meets the same error, not "exists already"
        status, _, err = run_cli(capsys, "demo", "--config", "demo.yaml", "--output", "out")
        assert status == 2 and err.startswith("equisphere demo: error: source folder")
        assert "no-such-folder" in err
        assert tree(tmp_path) == before


def test_failed_demo_keeps_a_folder_that_holds_results(tmp_path):
    from equisphere.cli.demo import _remove_if_nothing_written

    run = tmp_path / "out" / "runs" / "plain-1"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("model: {}\n")
    (run / "metrics.csv").write_text("epoch\n0\n")
    _remove_if_nothing_written(tmp_path / "out")
    assert (run / "config.yaml").is_file() and (run / "metrics.csv").is_file()
    (run / "metrics.csv").unlink()
    (tmp_path / "out" / "notes.txt").write_text("mine")  # not a file the demo writes first
    _remove_if_nothing_written(tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    (tmp_path / "out" / "notes.txt").unlink()
    _remove_if_nothing_written(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_demo_verdicts_follow_the_measured_accuracies(capsys):
    from equisphere.cli.demo import _print_table

    def row(upright, rotated):
        return {
            "parameters": 1000,
            "train_seconds": 1.0,
            "class_names": [str(k) for k in range(10)],
            "NR": {"accuracy": upright},
            "R": {"accuracy": rotated},
        }

    _print_table(
        {
            "equivariant": row(0.55, 0.532),
            "planar": row(0.87, 0.11),
            "untrained": row(0.10, 0.10),
            "halfway": row(0.80, 0.60),
        }
    )
    lines = dict(
        line.split(": ", 1) for line in capsys.readouterr().out.splitlines() if ": " in line
    )
    assert lines["equivariant"].startswith("keeps its accuracy on rotated spheres")
    assert lines["planar"].startswith("loses more than half of its margin over chance (10%)")
    assert lines["untrained"].startswith("is near chance (10%) even upright")
    assert lines["halfway"] == "loses 20.0 points when rotated"
