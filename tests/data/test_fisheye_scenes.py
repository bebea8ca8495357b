"""Fisheye views of spherical scenes: rendering, labels against colours, the written set."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import map_coordinates

from equisphere.cameras import load_calibration
from equisphere.data.fisheye_render import (
    camera_orientations,
    default_camera,
    panorama_view,
    render_view,
)
from equisphere.data.fisheye_scenes import generate_fisheye_scenes, load_scenes
from equisphere.data.woodscape import IGNORE_INDEX, WoodScapeDataset
from equisphere.resample import equirect_to_image
from equisphere.so3 import random_rotation_matrices

SMALL = (64, 48)


@pytest.fixture(scope="module")
def black_panoramas(tmp_path_factory):
    folder = tmp_path_factory.mktemp("black")
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(folder / "black.png")
    return folder


@pytest.fixture(scope="module")
def black_set(tmp_path_factory, black_panoramas):
    root = tmp_path_factory.mktemp("sets") / "black"
    generate_fisheye_scenes(
        root, black_panoramas, size=4, image_size=SMALL, objects=(4, 5), object_size=(35, 45)
    )
    return root


def test_default_camera_is_the_shared_woodscape_file(shared_data):
    shared = load_calibration(shared_data / "cameras" / "woodscape_front.json")
    assert shared.camera == default_camera().camera
    assert torch.allclose(shared.rotation(), default_camera().rotation(), atol=1e-15)


def test_panorama_view_equals_the_resampling_map(shared_data):
    from equisphere.data.fisheye_render import load_panoramas

    _, panoramas = load_panoramas(shared_data / "panoramas", height=64)
    camera = default_camera().camera.resized(*SMALL)
    for rotation in random_rotation_matrices(2, seed=5, dtype=torch.float64):
        for supersampling in (1, 3):
            ours, seen = panorama_view(panoramas[0].double(), camera, rotation, supersampling)
            reference, valid = equirect_to_image(
                panoramas[0].double(), camera, rotation, supersampling=supersampling, cache=None
            )
            assert torch.equal(seen, valid)
            assert torch.allclose(ours, reference, atol=1e-12)


def _object_intensities(scene, camera, rotation) -> np.ndarray:
    """Each object's intensity at each pixel centre, written from the geometry with SciPy."""
    rays, valid = camera.unproject(camera.pixel_centres())
    world = (rays.reshape(-1, 3) @ rotation.T).numpy()  # (P, 3)
    values = np.zeros((len(scene.classes), world.shape[0]))
    for k in range(len(scene.classes)):
        if scene.classes[k] < 0:
            continue
        local = world @ scene.rotations[k].numpy()  # R_k^T d, as rows
        side = 4 * math.tan(math.radians(float(scene.sizes[k])) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            plane = 2 * local[:, :2] / (1 - local[:, 2:3])  # stereographic from the north pole
        inside = (np.abs(plane) <= side / 2).all(axis=1) & (local[:, 2] < 1)
        column = (plane[:, 0] + side / 2) / side * 28 - 0.5
        row = (plane[:, 1] + side / 2) / side * 28 - 0.5
        coords = np.nan_to_num(np.stack([row, column]))
        sampled = map_coordinates(scene.images[k].numpy(), coords, order=1, mode="nearest")
        values[k] = np.where(inside, sampled, 0.0)
    return values.reshape(len(scene.classes), *camera.image_size), valid.numpy()


def test_labels_line_up_with_the_rendered_objects(black_set, black_panoramas):
    """Over a black panorama a pixel's colour is opacity * v * tint: it must say the label."""
    scenes, _, orientations, options = load_scenes(black_set, black_panoramas)
    dataset = WoodScapeDataset(black_set)
    camera, threshold, opacity = dataset.cameras[0], options["threshold"], options["opacity"]
    checked = labelled = 0
    for i, scene in enumerate(scenes):
        image, labels, _ = dataset[i]
        values, valid = _object_intensities(scene, camera, orientations[i])
        brightest, which = values.max(axis=0), values.argmax(axis=0)
        classes = scene.classes.numpy()[which] + 1
        clear = np.abs(brightest - threshold) > 1e-3  # away from numerical ties at the threshold
        expected = np.where(brightest > threshold, classes, 0)
        expected = np.where(valid, expected, IGNORE_INDEX)
        assert np.array_equal(labels.numpy()[clear], expected[clear])
        # The colour says the same: opacity * v * tint, within the 8-bit rounding.
        tint = scene.tints.numpy()[which].transpose(2, 0, 1)  # (3, H, W)
        drawn = opacity * brightest * tint
        assert np.abs(image.numpy() - drawn)[:, valid].max() <= 0.6 / 255 + 1e-6
        estimate = image.numpy().max(axis=0) / (opacity * tint.max(axis=0))
        object_pixels = labels.numpy() > 0
        assert (estimate[object_pixels] > threshold - 2 / 255).all()
        assert (estimate[(labels.numpy() == 0) & clear] <= threshold + 2 / 255).all()
        checked += int(clear.sum())
        labelled += int(object_pixels.sum())
    assert labelled > 0.05 * checked  # the scenes do show objects


def test_pixels_beyond_the_image_circle_are_ignored_and_black(tmp_path, black_panoramas):
    root = generate_fisheye_scenes(
        tmp_path / "circle", black_panoramas, size=2, image_size=SMALL, max_incidence_deg=80.0
    )
    dataset = WoodScapeDataset(root)
    camera = dataset.cameras[0]
    assert camera.max_incidence == pytest.approx(math.radians(80))
    rays, _ = camera.unproject(camera.pixel_centres())
    full, _ = default_camera().camera.resized(*SMALL).unproject(camera.pixel_centres())
    incidence = torch.rad2deg(torch.atan2(full[..., :2].norm(dim=-1), full[..., 2]))
    for image, labels, _ in dataset:
        assert bool((labels[incidence > 80.01] == IGNORE_INDEX).all())
        assert bool((labels[incidence < 79.99] != IGNORE_INDEX).all())
        assert float(image[:, incidence > 80.01].abs().max()) == 0.0
    assert int((incidence > 80.01).sum()) > 100


def test_upright_cameras_keep_their_mounting_and_rotated_ones_do_not():
    generator = torch.Generator().manual_seed(0)
    mount = default_camera().rotation()
    upright = camera_orientations(2000, "upright", mount, generator)
    axes = upright[:, :, 2]  # optical axes in the world
    assert torch.allclose(axes[:, 2], mount[2, 2].expand(2000), atol=1e-12)  # same downward tilt
    assert math.degrees(math.asin(-float(mount[2, 2]))) == pytest.approx(23.4, abs=0.1)
    assert float(axes[:, :2].mean(dim=0).norm()) < 0.05  # headings all round
    rotated = camera_orientations(2000, "rotated", mount, generator)[:, :, 2]
    assert float(rotated.mean(dim=0).norm()) < 0.06
    with pytest.raises(ValueError, match="expected orientation"):
        camera_orientations(1, "tilted", mount, generator)


def test_written_calibrations_hold_the_orientation(black_set):
    scenes_file = np.load(black_set / "scenes.npz")
    dataset = WoodScapeDataset(black_set)
    assert torch.allclose(
        dataset.world_from_camera, torch.from_numpy(scenes_file["world_from_camera"]), atol=1e-12
    )
    options = json.loads((black_set / "dataset.json").read_text())["options"]
    assert options["orientation"] == "upright" and options["image_size"] == list(SMALL)


def test_scenes_render_again_to_the_written_images(black_set, black_panoramas):
    scenes, backgrounds, orientations, options = load_scenes(black_set, black_panoramas)
    dataset = WoodScapeDataset(black_set)
    image, labels, _ = dataset[2]
    again, again_labels, _ = render_view(
        scenes[2], backgrounds[2], dataset.cameras[0], orientations[2]
    )
    assert torch.equal(again_labels.long(), labels)
    assert float((again - image).abs().max()) <= 0.5 / 255 + 1e-6


def test_a_set_is_reused_never_silently_replaced(tmp_path, black_panoramas):
    root = tmp_path / "set"
    generate_fisheye_scenes(root, black_panoramas, size=2, image_size=SMALL)
    stamp = (root / "rgb_images" / "00000_FV.png").stat().st_mtime_ns
    generate_fisheye_scenes(root, black_panoramas, size=2, image_size=SMALL)
    assert (root / "rgb_images" / "00000_FV.png").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match=r"other options \(differing: size\)"):
        generate_fisheye_scenes(root, black_panoramas, size=3, image_size=SMALL)
    generate_fisheye_scenes(root, black_panoramas, size=3, image_size=SMALL, overwrite=True)
    assert len(WoodScapeDataset(root)) == 3
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a generated fisheye set"):
        generate_fisheye_scenes(foreign, black_panoramas, size=2, image_size=SMALL, overwrite=True)
    assert (foreign / "notes.txt").read_text() == "mine"
    assert not list(tmp_path.glob(".set-*"))  # no staging folders left behind


def test_bad_options_are_refused(tmp_path, black_panoramas):
    with pytest.raises(ValueError, match="size"):
        generate_fisheye_scenes(tmp_path / "a", black_panoramas, size=0)
    with pytest.raises(FileNotFoundError, match="panorama folder"):
        generate_fisheye_scenes(tmp_path / "a", tmp_path / "none", size=1)
    wide = tmp_path / "wide"
    wide.mkdir()
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(wide / "p.png")
    with pytest.raises(ValueError, match="twice as wide as high"):
        generate_fisheye_scenes(tmp_path / "a", wide, size=1)
