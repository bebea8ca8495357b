"""The fisheye command (generate, train, evaluate, equivariance), predict --camera: end to end."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from equisphere.cameras import load_calibration
from equisphere.cli.main import main
from equisphere.data.fisheye_render import default_camera
from equisphere.data.woodscape import IGNORE_INDEX, WoodScapeDataset
from equisphere.training.fisheye_run import (
    evaluate_fisheye,
    fisheye_test_loaders,
    load_fisheye_task,
)

SIZE = (48, 36)  # width, height of the generated images
MODELS = {
    "sphere": {
        "name": "s2-segmenter",
        "options": {"bandwidths": [4, 2], "channels": [4, 8], "head_channels": 4},
    },
    "image": {"name": "planar-unet", "options": {"width": 3, "depth": 2}},
}


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def tree(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


def fisheye_config(root: Path, model: str, train_root: Path, test_root: Path) -> Path:
    """A config that trains on WoodScape-style folders, as a user with real data would."""
    config = {
        "model": MODELS[model],
        "data": {
            "task": "segmentation",
            "bandwidth": 8,
            "val_size": 4,
            "batch_size": 4,
            "options": {
                "train_root": str(train_root),
                "test_root": str(test_root),
                "image_size": list(SIZE),
            },
        },
        "trainer": {
            "name": model,
            "runs_dir": str(root / "runs"),
            "max_epochs": 1,
            "accelerator": "cpu",
        },
    }
    path = root / f"{model}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Generated train and test sets (through the CLI) and one checkpoint per domain."""
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "panoramas"
    if not shared.is_dir():
        pytest.skip(f"shared data folder {shared} not found")
    root = tmp_path_factory.mktemp("fisheye-cli")
    panoramas = root / "panoramas"
    panoramas.mkdir()
    with Image.open(shared / "city.png") as image:
        image.resize((128, 64)).save(panoramas / "city.png")
    size = [*map(str, SIZE)]
    common = ["--panoramas", panoramas, "--image-size", *size]
    assert (
        main(["fisheye", "generate", str(root / "train"), *map(str, common), "--size", "12"]) == 0
    )
    test_args = ["--split", "test", "--orientation", "rotated", "--size", "4", "--seed", "1"]
    assert main(["fisheye", "generate", str(root / "test"), *map(str, common), *test_args]) == 0
    checkpoints = {}
    for model in MODELS:
        config = fisheye_config(root, model, root / "train", root / "test")
        assert main(["fisheye", "train", "--config", str(config), "--no-progress"]) == 0
        (run_dir,) = (root / "runs").glob(f"{model}-*")
        checkpoints[model] = run_dir / "checkpoints" / "last.ckpt"
    return root, panoramas, checkpoints


# ----- generate ----------------------------------------------------------------------------------


def test_generate_writes_the_woodscape_layout(workspace, capsys):
    root, panoramas, _ = workspace
    train = root / "train"
    images = sorted(p.stem for p in (train / "rgb_images").glob("*.png"))
    labels = sorted(p.stem for p in (train / "semantic_annotations" / "gtLabels").glob("*.png"))
    calibrations = sorted(p.stem for p in (train / "calibration").glob("*.json"))
    assert len(images) == 12 and images == labels == calibrations
    classes = json.loads((train / "classes.json").read_text())
    assert classes["classes"][0] == "background" and len(classes["classes"]) == 11
    assert classes["ignore_index"] == IGNORE_INDEX
    # Every calibration is the WoodScape front lens scaled to the image size (the file
    # folds fx into the polynomial, so compare what the lenses do, not their fields).
    lens = load_calibration(train / "calibration" / f"{images[0]}.json").camera
    reference = default_camera().camera.resized(*SIZE)
    rays, valid = lens.unproject(lens.pixel_centres())
    expected, expected_valid = reference.unproject(reference.pixel_centres())
    assert torch.equal(valid, expected_valid) and bool(valid.any())
    assert torch.allclose(rays[valid], expected[valid], atol=1e-9)
    with Image.open(train / "rgb_images" / f"{images[0]}.png") as image:
        assert image.size == SIZE and image.mode == "RGB"

    # The same options again reuse the set; other options are refused, nothing replaced.
    before = {p: p.stat().st_mtime_ns for p in tree(train)}
    argv = ["fisheye", "generate", train, "--panoramas", panoramas, "--image-size", *SIZE]
    status, out, _ = run_cli(capsys, *argv, "--size", 12)
    assert status == 0 and "12 images, 11 classes" in out
    status, _, err = run_cli(capsys, *argv, "--size", 10)
    assert status == 2 and "other options" in err and "size" in err
    assert {p: p.stat().st_mtime_ns for p in tree(train)} == before


def test_generate_names_a_panorama_that_is_not_an_image_without_writing(capsys, tmp_path):
    panoramas = tmp_path / "panoramas"
    panoramas.mkdir()
    (panoramas / "notes.png").write_text("not pixels\n")
    before = tree(tmp_path)
    argv = ["fisheye", "generate", tmp_path / "set", "--panoramas", panoramas, "--size", 2]
    status, _, err = run_cli(capsys, *argv)
    assert status == 2 and "equisphere fisheye: error: " in err
    assert "notes.png" in err and "expected an image file (PNG, JPEG, ...)" in err
    assert tree(tmp_path) == before


def test_a_file_that_is_not_a_checkpoint_says_what_is_expected(tmp_path):
    (tmp_path / "notes.ckpt").write_text("hello\n")
    np.save(tmp_path / "array.npy", np.zeros(3))
    expected = "not a checkpoint written by equisphere (expected a .ckpt file from `equisphere"
    for name in ("notes.ckpt", "array.npy"):
        with pytest.raises(ValueError) as raised:
            load_fisheye_task(tmp_path / name)
        message = str(raised.value)
        assert message.startswith(f"{str(tmp_path / name)!r}: {expected} fisheye train`): ")
        assert "\n" not in message and len(message) < 250, message


# ----- train, evaluate, equivariance -------------------------------------------------------------


def test_train_on_woodscape_folders_keeps_their_class_map(workspace):
    _, _, checkpoints = workspace
    for domain, checkpoint in checkpoints.items():
        task = load_fisheye_task(checkpoint)
        assert task.domain == domain
        assert task.class_names == list(WoodScapeDataset(workspace[0] / "train").class_names)


def test_resume_continues_a_run_with_its_own_config(workspace, capsys):
    root, _, checkpoints = workspace
    argv = ["fisheye", "train", "--resume", checkpoints["image"], "--name", "resumed"]
    status, out, _ = run_cli(capsys, *argv, "--no-progress", "trainer.max_epochs=2")
    assert status == 0 and "run folder" in out
    (resumed,) = (root / "runs").glob("resumed-*")
    checkpoint = torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 1  # epoch 0 in the first run, 1 in this one
    assert checkpoint["hyper_parameters"]["domain"] == "image"
    status, _, err = run_cli(capsys, "fisheye", "train")
    assert status == 2 and "expected --config FILE" in err


def test_evaluate_json_is_the_library_evaluation(workspace, capsys):
    _, _, checkpoints = workspace
    status, out, _ = run_cli(capsys, "fisheye", "evaluate", checkpoints["sphere"], "--json")
    assert status == 0
    result = json.loads(out)
    task = load_fisheye_task(checkpoints["sphere"])
    expected = evaluate_fisheye(task, *fisheye_test_loaders(task))
    assert list(result) == list(expected)  # given folders: one set, "test"
    assert result["test"]["count"] == 4 and len(result["test"]["per_class_image"]) == 11
    for key in ("miou_image", "miou_sphere"):
        assert result["test"][key] == pytest.approx(expected["test"][key], rel=1e-6)
    status, out, _ = run_cli(capsys, "fisheye", "evaluate", checkpoints["image"])
    assert status == 0 and "planar-unet on the image" in out and "mIoU sphere" in out


def test_equivariance_reports_every_turn_with_its_floor(workspace, capsys):
    root, panoramas, checkpoints = workspace
    argv = ["fisheye", "equivariance", checkpoints["sphere"], "--data", root / "train"]
    status, out, _ = run_cli(capsys, *argv, "--panoramas", panoramas, "--scenes", 2, "--json")
    assert status == 0
    result = json.loads(out)
    assert set(result) == {"roll 90", "roll 37", "tilt 30", "roll 60 + tilt 45"}
    for row in result.values():
        assert 0 <= row["disagreement"] <= 1 and 0 <= row["floor"] < 0.1
        assert row["pixels"] > 0.2 * 2 * SIZE[0] * SIZE[1]
    status, _, err = run_cli(capsys, *argv, "--panoramas", panoramas, "--scenes", 0)
    assert status == 2 and "--scenes of at least 1, got 0" in err


# ----- predict --camera --------------------------------------------------------------------------


def _sample(root: Path) -> tuple[Path, Path]:
    image = sorted((root / "test" / "rgb_images").glob("*.png"))[0]
    return image, root / "test" / "calibration" / f"{image.stem}.json"


def test_predict_with_camera_writes_the_labels_the_evaluation_sees(workspace, capsys, tmp_path):
    root, _, checkpoints = workspace
    image, calibration = _sample(root)
    argv = ["predict", checkpoints["sphere"], image, "--camera", calibration, "--output", tmp_path]
    status, out, _ = run_cli(capsys, *argv, "--json")
    assert status == 0
    result = json.loads(out)
    labels = np.asarray(Image.open(result["labels"]))
    overlay = np.asarray(Image.open(result["overlay"])).astype(float)
    assert labels.shape == SIZE[::-1] and overlay.shape == (*SIZE[::-1], 3)

    # The same labels as the evaluation path, which reads the image through the data set.
    task = load_fisheye_task(checkpoints["sphere"])
    dataset = WoodScapeDataset(root / "test")
    pixels, _, camera_index = dataset[0]
    prediction = task.predict(pixels[None], dataset.cameras[camera_index])
    assert np.array_equal(labels, prediction.image_labels[0].numpy())
    seen = labels != IGNORE_INDEX
    assert result["seen"] == pytest.approx(seen.mean())
    assert sum(result["classes"].values()) == pytest.approx(1.0)

    # Seen pixels: the photograph blended 45/55 with one colour per class (background left
    # as it is); unseen ones dimmed to 30 %.
    photo = np.asarray(Image.open(image)).astype(float)
    for k in np.unique(labels[seen]):
        chosen = labels == k
        tint = overlay[chosen] - (photo[chosen] if k == 0 else 0.45 * photo[chosen])
        assert np.ptp(tint, axis=0).max() <= 1.5  # one colour (8-bit rounding)
        assert k != 0 or np.abs(tint).max() <= 0.5
    if not seen.all():  # the WoodScape lens sees every pixel of its sensor
        assert np.abs(overlay[~seen] - 0.3 * photo[~seen]).max() <= 0.5 + 1e-9

    # A second run refuses to replace the files.
    status, _, err = run_cli(capsys, *argv)
    assert status == 2 and "exists already" in err


def test_predict_with_camera_on_a_larger_image_scales_the_planar_model(workspace, capsys, tmp_path):
    """The planar model was trained at 48 x 36: a 96 x 72 photograph and its calibration work."""
    root, _, checkpoints = workspace
    image, calibration = _sample(root)
    with Image.open(image) as small:
        small.resize((2 * SIZE[0], 2 * SIZE[1]), Image.Resampling.BICUBIC).save(
            tmp_path / "big.png"
        )
    big = load_calibration(calibration).camera.resized(2 * SIZE[0], 2 * SIZE[1])
    (tmp_path / "big.json").write_text(json.dumps(_woodscape(big)))
    argv = [
        "predict",
        checkpoints["image"],
        tmp_path / "big.png",
        "--camera",
        tmp_path / "big.json",
    ]
    status, out, _ = run_cli(capsys, *argv)
    assert status == 0 and "planar-unet on the image" in out
    labels = np.asarray(Image.open(tmp_path / "big-labels.png"))
    assert labels.shape == (2 * SIZE[1], 2 * SIZE[0])

    # At its own size the model says nearly the same, pixel for pixel (2 x 2 blocks).
    task = load_fisheye_task(checkpoints["image"])
    pixels, _, _ = WoodScapeDataset(root / "test")[0]
    small_labels = task.predict(pixels[None], load_calibration(calibration).camera).image_labels
    upsampled = small_labels[0].repeat_interleave(2, 0).repeat_interleave(2, 1).numpy()
    assert (labels == upsampled).mean() > 0.8


def _woodscape(camera) -> dict:
    from equisphere.data.woodscape import woodscape_calibration

    return woodscape_calibration(camera)


# ----- bad input ---------------------------------------------------------------------------------


def test_fisheye_checkpoint_without_calibration_is_refused(workspace, capsys, tmp_path):
    root, _, checkpoints = workspace
    image, _ = _sample(root)
    shutil.copy(image, tmp_path / "frame.png")
    before = tree(tmp_path)
    status, _, err = run_cli(capsys, "predict", checkpoints["sphere"], tmp_path / "frame.png")
    assert status == 2 and "is a fisheye segmenter" in err and "--camera CALIB" in err
    argv = ["predict", checkpoints["sphere"], tmp_path / "frame.png", "--camera"]
    status, _, err = run_cli(capsys, *argv, tmp_path / "frame.json")
    assert status == 2 and "calibration" in err and "frame.json" in err and "not found" in err
    assert tree(tmp_path) == before


def test_image_of_another_size_than_its_calibration_is_refused(workspace, capsys, tmp_path):
    root, _, checkpoints = workspace
    image, calibration = _sample(root)
    with Image.open(image) as full:
        full.resize((40, 30)).save(tmp_path / "frame.png")
    before = tree(tmp_path)
    argv = ["predict", checkpoints["sphere"], tmp_path / "frame.png", "--camera", calibration]
    status, _, err = run_cli(capsys, *argv)
    assert status == 2
    assert "(height, width) = (36, 48) as in the calibration, got (30, 40)" in err
    assert tree(tmp_path) == before


def test_output_that_is_not_a_folder_is_refused(workspace, capsys, tmp_path):
    """--output with --camera names a folder: an image name or an existing file is refused."""
    root, _, checkpoints = workspace
    image, calibration = _sample(root)
    (tmp_path / "notes.txt").write_text("mine")
    before = tree(tmp_path)
    argv = ["predict", checkpoints["sphere"], image, "--camera", calibration, "--output"]
    status, _, err = run_cli(capsys, *argv, tmp_path / "frame-labels.png")
    assert status == 2 and "--output is the folder" in err and "frame-labels.png" in err
    status, _, err = run_cli(capsys, *argv, tmp_path / "notes.txt")
    assert status == 2 and "expected a folder" in err and "notes.txt" in err
    assert tree(tmp_path) == before and (tmp_path / "notes.txt").read_text() == "mine"


def test_other_checkpoint_with_camera_is_refused(workspace, capsys, tmp_path):
    root, _, _ = workspace
    image, calibration = _sample(root)
    torch.save({"hyper_parameters": {"config": {}}, "state_dict": {}}, tmp_path / "other.ckpt")
    argv = ["predict", tmp_path / "other.ckpt", image, "--camera", calibration]
    status, _, err = run_cli(capsys, *argv, "--output", tmp_path)
    assert status == 2 and "not a fisheye segmentation checkpoint" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.ckpt"]


def _broken_copy(root: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "broken"
    shutil.copytree(root / "train", copy)
    return copy


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no calibration", r"'00003_FV.png' has no calibration"),
        ("label size", r"is 40 x 30 pixels but its image is 48 x 36"),
        ("unknown class", r"unknown class id 17"),
    ],
)
def test_damaged_woodscape_folder_is_refused_before_training(
    workspace, capsys, tmp_path, damage, message
):
    root, _, _ = workspace
    broken = _broken_copy(root, tmp_path)
    labels = broken / "semantic_annotations" / "gtLabels" / "00003_FV.png"
    if damage == "no calibration":
        (broken / "calibration" / "00003_FV.json").unlink()
    elif damage == "label size":
        Image.fromarray(np.zeros((30, 40), np.uint8)).save(labels)
    else:
        ids = np.asarray(Image.open(labels)).copy()
        ids[5, 5] = 17
        Image.fromarray(ids).save(labels)
    config = fisheye_config(tmp_path, "sphere", broken, root / "test")
    status, _, err = run_cli(capsys, "fisheye", "train", "--config", config, "--no-progress")
    assert status == 2
    assert re.search(message, err), err
    assert not (tmp_path / "runs").exists()
