"""Fisheye segmentation: metrics, turned views, the sphere and image paths, training, evaluation."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from equisphere.cameras import EquidistantCamera
from equisphere.data.fisheye_scenes import load_scenes
from equisphere.data.woodscape import IGNORE_INDEX
from equisphere.resample import image_to_sphere
from equisphere.so3 import rotation_z
from equisphere.training.config import ConfigError, config_from_dict
from equisphere.training.fisheye import FisheyeSegmentationTask, fisheye_options
from equisphere.training.fisheye_equivariance import camera_turn_disagreement
from equisphere.training.fisheye_metrics import WeightedIoU, weighted_iou
from equisphere.training.fisheye_run import (
    evaluate_fisheye,
    fisheye_test_loaders,
    load_fisheye_task,
    train_fisheye,
)
from equisphere.training.fisheye_views import random_camera_turns, rotate_view

BANDWIDTH = 8
# A circular fisheye: the image circle (100 degrees) lies inside the sensor.
LENS = EquidistantCamera(
    width=33, height=33, fx=9.0, fy=9.0, cx=16.0, cy=16.0, max_incidence=math.radians(100)
)
SPHERE_MODEL = {
    "name": "s2-segmenter",
    "options": {"bandwidths": [4, 2], "channels": [4, 8], "head_channels": 4},
}
IMAGE_MODEL = {"name": "planar-unet", "options": {"width": 3, "depth": 2}}


def _config(tmp_path, model, panoramas=None, **data):
    options = {"panoramas": str(panoramas or tmp_path), "image_size": [32, 24]}
    return config_from_dict(
        {
            "model": model,
            "data": {
                "task": "segmentation",
                "bandwidth": BANDWIDTH,
                "train_size": 8,
                "test_size": 4,
                "val_size": 2,
                "batch_size": 4,
                "cache_dir": str(tmp_path / "cache"),
                **data,
                "options": {**options, **data.pop("options", {})},
            },
            "trainer": {
                # One name per model and augmentation: two runs started within the same
                # second under one name are refused (run folders are never reused).
                "name": f"tiny-{model['name']}-{data.get('augment', 'none')}",
                "runs_dir": str(tmp_path / "runs"),
                "max_epochs": 1,
                "progress_bar": False,
                "accelerator": "cpu",
                "log_every_n_steps": 1,
            },
        }
    )


def _incidence_deg(camera) -> torch.Tensor:
    """Incidence of every pixel centre in degrees, also beyond the image circle."""
    rays, _ = dataclasses.replace(camera, max_incidence=None).unproject(camera.pixel_centres())
    return torch.rad2deg(torch.atan2(rays[..., :2].norm(dim=-1), rays[..., 2]))


# ----- metrics --------------------------------------------------------------------------------


def test_weighted_iou_matches_a_direct_count():
    generator = torch.Generator().manual_seed(0)
    prediction = torch.randint(0, 4, (3, 10, 12), generator=generator)
    target = torch.randint(0, 4, (3, 10, 12), generator=generator)
    target[0, :2] = IGNORE_INDEX
    weight = torch.rand(10, 12, generator=generator, dtype=torch.float64)
    intersection, union = weighted_iou(prediction, target, weight, 4)
    w = np.broadcast_to(weight.numpy(), target.shape)
    p, t = prediction.numpy(), target.numpy()
    keep = t != IGNORE_INDEX
    for c in range(4):
        both = ((p == c) & (t == c) & keep) * w
        either = (((p == c) | (t == c)) & keep) * w
        assert intersection[c].item() == pytest.approx(both.sum())
        assert union[c].item() == pytest.approx(either.sum())
    metric = WeightedIoU(4)
    metric.update(prediction, target, weight)
    assert float(metric.compute()) == pytest.approx(float((intersection / union).mean()))
    with pytest.raises(ValueError, match="below 4"):
        weighted_iou(prediction + 1, target, weight, 4)


# ----- turned views ---------------------------------------------------------------------------


def test_rolling_the_camera_a_quarter_turn_rotates_the_image():
    """A centred lens with square pixels: a 90 degree roll is an exact rot90 of the image."""
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, 33, 33, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 5, (2, 33, 33), generator=generator)
    turn = rotation_z(torch.tensor(math.pi / 2, dtype=torch.float64))
    turned, turned_labels, valid = rotate_view(LENS, turn, images, labels)
    expected = torch.rot90(images, 1, dims=(-2, -1))
    assert bool(valid[0][_incidence_deg(LENS) < 90].all())
    assert torch.allclose(turned[:, :, valid[0]], expected[:, :, valid[0]], atol=1e-9)
    expected_labels = torch.rot90(labels, 1, dims=(-2, -1))
    assert torch.equal(turned_labels[valid], expected_labels[valid])
    assert bool((turned_labels[~valid] == IGNORE_INDEX).all())


def test_random_turns_respect_the_tilt_limit_and_cover_all_rotations():
    generator = torch.Generator().manual_seed(2)
    turns = random_camera_turns(4000, 30.0, generator)
    tilt = torch.rad2deg(torch.arccos(turns[:, 2, 2].clamp(-1, 1)))
    assert float(tilt.max()) <= 30.0 + 1e-9 and float(tilt.mean()) > 15.0
    uniform = random_camera_turns(4000, 180.0, generator)
    assert float(uniform[:, :, 2].mean(dim=0).norm()) < 0.05  # optical axes all round
    assert float(uniform.mean(dim=0).abs().max()) < 0.05  # Haar: E[R] = 0
    with pytest.raises(ValueError, match="max_tilt_deg"):
        random_camera_turns(1, 200.0)


# ----- the two paths ----------------------------------------------------------------------------


@pytest.fixture
def sphere_task(tmp_path):
    return FisheyeSegmentationTask(_config(tmp_path, SPHERE_MODEL), n_classes=3).eval()


@pytest.fixture
def image_task(tmp_path):
    return FisheyeSegmentationTask(_config(tmp_path, IMAGE_MODEL), n_classes=3).eval()


def test_sphere_input_is_the_resampled_image_and_its_coverage(sphere_task):
    images = torch.rand(2, 3, 33, 33, dtype=torch.float64)
    inputs = sphere_task.network_input(images, LENS)
    signal, coverage = image_to_sphere(images, LENS, sphere_task.grid)
    assert inputs.shape == (2, 4, 2 * BANDWIDTH, 2 * BANDWIDTH)
    assert torch.allclose(inputs[:, :3], signal) and torch.equal(inputs[0, 3], coverage)
    colatitude = torch.rad2deg(sphere_task.grid.theta)
    assert bool((coverage[colatitude < 90] > 1 - 1e-9).all())
    assert bool((coverage[colatitude > 105] == 0).all())


def test_labels_and_predictions_cross_between_image_and_sphere(sphere_task, image_task):
    """A label disc of 50 degrees around the optical axis lands where the geometry says."""
    incidence = _incidence_deg(LENS)
    disc = (incidence < 50).long()[None]  # (1, 33, 33)
    colatitude = torch.rad2deg(sphere_task.grid.theta)[:, None].expand(16, 16)

    targets = sphere_task.sphere_targets(disc, LENS)[0]
    assert bool((targets[colatitude < 44] == 1).all()) and bool(
        (targets[colatitude > 56] != 1).all()
    )
    assert bool((targets[colatitude > 105] == IGNORE_INDEX).all())

    sphere_logits = 10 * torch.nn.functional.one_hot((colatitude < 50).long(), 3)
    prediction = sphere_task.crossover(sphere_logits.permute(2, 0, 1)[None].float(), LENS)
    labels = prediction.image_labels[0]
    ring = (incidence > 56) & (incidence < 100)
    assert bool((labels[incidence < 44] == 1).all()) and bool((labels[ring] == 0).all())
    assert bool((labels[incidence > 100] == IGNORE_INDEX).all())
    assert bool((labels[incidence <= 100] != IGNORE_INDEX).all())

    image_logits = 10 * torch.nn.functional.one_hot(disc[0], 3).permute(2, 0, 1)[None].float()
    crossed = image_task.crossover(image_logits, LENS).sphere_labels[0]
    assert bool((crossed[colatitude < 44] == 1).all()) and bool(
        (crossed[colatitude > 56] != 1).all()
    )


def test_sphere_loss_is_area_weighted_cross_entropy_over_seen_points(sphere_task):
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 16, 16, generator=generator)
    targets = torch.randint(0, 3, (2, 16, 16), generator=generator)
    targets[:, 12:] = IGNORE_INDEX
    area = sphere_task.grid.weights.to(torch.float32).expand(2, 16, 16)
    picked = torch.log_softmax(logits, dim=1).gather(1, targets.clamp(max=2)[:, None])[:, 0]
    keep = targets != IGNORE_INDEX
    expected = -(picked * area)[keep].sum() / area[keep].sum()
    got = sphere_task.loss(logits, targets, targets)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)


# ----- config -----------------------------------------------------------------------------------


def test_fisheye_options_are_checked(tmp_path):
    assert fisheye_options(_config(tmp_path, SPHERE_MODEL)).domain == "sphere"
    assert fisheye_options(_config(tmp_path, IMAGE_MODEL)).domain == "image"
    with pytest.raises(ConfigError, match="unknown key 'panorama'"):
        fisheye_options(_config(tmp_path, IMAGE_MODEL, options={"panorama": "x"}))
    bare = config_from_dict({"model": IMAGE_MODEL, "data": {"task": "segmentation"}})
    with pytest.raises(ConfigError, match="train_root and test_root"):
        fisheye_options(bare)


# ----- training, evaluation, equivariance ---------------------------------------------------------


@pytest.fixture(scope="module")
def panoramas(tmp_path_factory):
    """One real panorama, shrunk (the ``shared_data`` fixture, at module scope)."""
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "panoramas"
    if not shared.is_dir():
        pytest.skip(f"shared data folder {shared} not found")
    folder = tmp_path_factory.mktemp("panoramas")
    with Image.open(shared / "city.png") as image:
        image.resize((128, 64)).save(folder / "city.png")
    return folder


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder whose generated sets every training test shares."""
    return tmp_path_factory.mktemp("fisheye")


@pytest.fixture(scope="module")
def trained(workspace, panoramas):
    return train_fisheye(_config(workspace, SPHERE_MODEL, panoramas)), panoramas


def test_training_writes_a_checkpoint_that_evaluates(trained):
    result, _ = trained
    assert result.best_checkpoint.is_file()
    task = load_fisheye_task(result.best_checkpoint)
    assert task.domain == "sphere" and task.class_names[0] == "background"
    loaders, cameras = fisheye_test_loaders(task)
    report = evaluate_fisheye(task, loaders, cameras)
    assert set(report) >= {"NR", "R", "parameters"} and report["NR"]["count"] == 4
    for name in ("NR", "R"):
        assert 0 <= report[name]["miou_image"] <= 1 and 0 <= report[name]["miou_sphere"] <= 1


def test_evaluation_of_a_background_only_model_matches_the_label_images(trained, tmp_path):
    """A model that says "background" everywhere: its image mIoU follows from the label files."""
    result, _ = trained
    task = load_fisheye_task(result.best_checkpoint)
    head = task.model.head[-1]
    torch.nn.init.zeros_(head.weight)
    with torch.no_grad():
        head.bias.copy_(torch.tensor([10.0] + [0.0] * (task.n_classes - 1)))
    loaders, cameras = fisheye_test_loaders(task, rotations=("R",))
    report = evaluate_fisheye(task, loaders, cameras)
    labels = torch.cat([batch[1] for batch in loaders["R"]]).numpy()
    seen = labels != IGNORE_INDEX
    background = float((labels[seen] == 0).mean())
    present = len(np.unique(labels[seen]))
    assert report["R"]["miou_image"] == pytest.approx(background / present, rel=1e-6)
    assert report["R"]["per_class_image"][0] == pytest.approx(background, rel=1e-6)


def test_camera_turns_of_a_constant_model_agree_and_the_floor_is_small(trained):
    result, panoramas = trained
    task = load_fisheye_task(result.best_checkpoint)
    torch.nn.init.zeros_(task.model.head[-1].weight)
    loaders, cameras = fisheye_test_loaders(task, rotations=("NR",))
    root = loaders["NR"].dataset.dataset.root
    scenes, backgrounds, orientations, _ = load_scenes(root, panoramas)
    report = camera_turn_disagreement(
        task, cameras[0], scenes[:2], backgrounds[:2], orientations[:2]
    )
    for row in report.values():
        assert row["disagreement"] == 0.0 and row["pixels"] > 100
        assert 0 <= row["floor"] < 0.1
        assert row["accuracy_first"] == pytest.approx(row["accuracy_turned"], abs=0.1)


def test_planar_training_with_rotation_augmentation_runs(workspace, panoramas):
    config = _config(workspace, IMAGE_MODEL, panoramas, augment="rotation")
    result = train_fisheye(config)
    task = load_fisheye_task(result.last_checkpoint)
    assert task.domain == "image" and task.augment == "rotation"
    assert np.isfinite(result.trainer.callback_metrics["train/loss_epoch"].item())


def test_loading_something_else_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_fisheye_task(tmp_path / "missing.ckpt")
    torch.save({"hyper_parameters": {"config": {}}, "state_dict": {}}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="not a fisheye segmentation checkpoint"):
        load_fisheye_task(tmp_path / "other.ckpt")
