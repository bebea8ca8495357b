"""WoodScape-style folders: reading, camera scaling, class maps and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from equisphere.cameras import load_calibration
from equisphere.data.fisheye_render import default_camera
from equisphere.data.woodscape import (
    IGNORE_INDEX,
    WoodScapeDataset,
    WoodScapeLayoutError,
    read_class_map,
    woodscape_calibration,
    write_class_map,
)
from equisphere.so3 import random_rotation_matrices

FULL = default_camera().camera  # 1280 x 966


def _incidence(camera, dtype=torch.float64) -> torch.Tensor:
    rays, _ = camera.unproject(camera.pixel_centres(dtype))
    return torch.rad2deg(torch.atan2(rays[..., :2].norm(dim=-1), rays[..., 2]))


def _write_sample(root, name, image, labels, camera, rotation=None):
    for folder in ("rgb_images", "semantic_annotations/gtLabels", "calibration"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(root / "rgb_images" / f"{name}.png")
    Image.fromarray(labels).save(root / "semantic_annotations" / "gtLabels" / f"{name}.png")
    document = woodscape_calibration(camera, rotation)
    (root / "calibration" / f"{name}.json").write_text(json.dumps(document))


def _small_set(root, count=2, size=(32, 24), n_classes=3):
    camera = FULL.resized(*size)
    rng = np.random.default_rng(0)
    for i in range(count):
        image = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        labels = rng.integers(0, n_classes, (size[1], size[0]), dtype=np.uint8)
        _write_sample(root, f"{i:05d}_FV", image, labels, camera)
    write_class_map(root / "classes.json", [f"class {k}" for k in range(n_classes)])
    return camera


def test_calibration_round_trip_keeps_the_lens_and_the_orientation(tmp_path):
    camera = FULL.resized(160, 120)
    rotation = random_rotation_matrices(1, seed=3, dtype=torch.float64)[0]
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(woodscape_calibration(camera, rotation)))
    mounted = load_calibration(path)

    rays = torch.nn.functional.normalize(torch.randn(500, 3, dtype=torch.float64), dim=-1)
    rays = rays[rays[:, 2] > -0.2]
    expected, valid = camera.project(rays)
    got, valid_read = mounted.camera.project(rays)
    assert torch.equal(valid, valid_read)
    assert torch.allclose(got[valid], expected[valid], atol=1e-9)
    assert torch.allclose(mounted.rotation(), rotation, atol=1e-12)


def test_resized_calibration_and_nearest_label_resizing_agree():
    """A label disc drawn with the full-size camera lines up with the scaled camera's rays."""
    disc = (_incidence(FULL) < 40).numpy().astype(np.uint8)  # (966, 1280)
    small = Image.fromarray(disc).resize((160, 120), Image.Resampling.NEAREST)
    labels = torch.from_numpy(np.array(small))
    incidence = _incidence(FULL.resized(160, 120))
    assert bool((labels[incidence < 38.5] == 1).all())
    assert bool((labels[incidence > 41.5] == 0).all())


def test_dataset_reads_images_labels_and_shared_cameras(tmp_path):
    camera = _small_set(tmp_path)
    dataset = WoodScapeDataset(tmp_path)
    assert len(dataset) == 2 and len(dataset.cameras) == 1
    assert dataset.class_names == ("class 0", "class 1", "class 2")
    image, labels, index = dataset[1]
    on_disk = np.asarray(Image.open(tmp_path / "rgb_images" / "00001_FV.png"))
    assert image.shape == (3, 24, 32) and image.dtype == torch.float32
    assert torch.allclose(image.permute(1, 2, 0) * 255, torch.from_numpy(on_disk).float())
    truth = np.asarray(Image.open(tmp_path / "semantic_annotations" / "gtLabels" / "00001_FV.png"))
    assert torch.equal(labels, torch.from_numpy(truth.astype(np.int64)))
    pixels = torch.tensor([[3.0, 4.0], [30.0, 20.0]], dtype=torch.float64)
    assert torch.allclose(dataset.cameras[index].unproject(pixels)[0], camera.unproject(pixels)[0])


def test_dataset_resizes_images_with_their_calibration(tmp_path):
    disc = (_incidence(FULL.resized(320, 240)) < 40).numpy().astype(np.uint8)
    image = np.repeat(disc[..., None] * 200, 3, axis=-1).astype(np.uint8)
    _write_sample(tmp_path, "a", image, disc, FULL.resized(320, 240))
    dataset = WoodScapeDataset(tmp_path, class_names=["out", "in"], image_size=(80, 60))
    _, labels, _ = dataset[0]
    incidence = _incidence(dataset.cameras[0])
    assert labels.shape == (60, 80)
    assert bool((labels[incidence < 37] == 1).all()) and bool((labels[incidence > 43] == 0).all())


def test_max_incidence_limits_the_cameras(tmp_path):
    _small_set(tmp_path)
    dataset = WoodScapeDataset(tmp_path, max_incidence_deg=60.0)
    assert dataset.cameras[0].max_incidence == pytest.approx(math.radians(60))


def test_image_without_calibration_is_named(tmp_path):
    _small_set(tmp_path)
    (tmp_path / "calibration" / "00001_FV.json").unlink()
    with pytest.raises(WoodScapeLayoutError, match=r"'00001_FV.png' has no calibration"):
        WoodScapeDataset(tmp_path)


def test_image_without_label_image_is_named(tmp_path):
    _small_set(tmp_path)
    (tmp_path / "semantic_annotations" / "gtLabels" / "00000_FV.png").unlink()
    with pytest.raises(WoodScapeLayoutError, match="has no label image"):
        WoodScapeDataset(tmp_path)


def test_label_image_of_another_size_is_refused(tmp_path):
    _small_set(tmp_path)
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(
        tmp_path / "semantic_annotations" / "gtLabels" / "00000_FV.png"
    )
    with pytest.raises(WoodScapeLayoutError, match=r"is 30 x 20 pixels but its image is 32 x 24"):
        WoodScapeDataset(tmp_path)


def test_image_of_another_size_than_its_calibration_is_refused(tmp_path):
    _small_set(tmp_path)
    path = tmp_path / "calibration" / "00000_FV.json"
    path.write_text(json.dumps(woodscape_calibration(FULL.resized(64, 48))))
    with pytest.raises(WoodScapeLayoutError, match=r"calibration '00000_FV.json' is for 64 x 48"):
        WoodScapeDataset(tmp_path)


def test_unknown_class_id_is_refused_with_the_file(tmp_path):
    _small_set(tmp_path, n_classes=3)
    labels = np.zeros((24, 32), np.uint8)
    labels[5, 5] = 7
    labels[6, 6] = IGNORE_INDEX  # the ignore index is allowed
    Image.fromarray(labels).save(tmp_path / "semantic_annotations" / "gtLabels" / "00000_FV.png")
    dataset = WoodScapeDataset(tmp_path)
    with pytest.raises(WoodScapeLayoutError, match=r"unknown class id 7.*3 classes"):
        dataset[0]
    with pytest.raises(WoodScapeLayoutError, match="unknown class id 7"):
        WoodScapeDataset(tmp_path, preload=True)


def test_class_map_errors(tmp_path):
    _small_set(tmp_path)
    (tmp_path / "classes.json").unlink()
    with pytest.raises(FileNotFoundError, match="class map"):
        WoodScapeDataset(tmp_path)
    (tmp_path / "classes.json").write_text('{"classes": ["a", "b"], "ignore_index": 1}')
    with pytest.raises(WoodScapeLayoutError, match="ids below ignore_index"):
        read_class_map(tmp_path / "classes.json")
    (tmp_path / "classes.json").write_text('{"names": ["a"]}')
    with pytest.raises(WoodScapeLayoutError, match="'classes'"):
        read_class_map(tmp_path / "classes.json")
    with pytest.raises(FileExistsError):
        write_class_map(tmp_path / "classes.json", ["a"])


def test_missing_folders_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        WoodScapeDataset(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="rgb_images"):
        WoodScapeDataset(tmp_path)


def test_colour_label_image_is_refused_before_reading(tmp_path):
    """WoodScape's rgbLabels/ (colours) in place of gtLabels/ (ids): refused by name and mode."""
    _small_set(tmp_path)
    colours = np.zeros((24, 32, 3), np.uint8)
    colours[..., 0] = 1  # grey of (1, 0, 0) would read as id 0: a silent mistake
    Image.fromarray(colours).save(tmp_path / "semantic_annotations" / "gtLabels" / "00001_FV.png")
    with pytest.raises(WoodScapeLayoutError, match=r"'00001_FV.png' has RGB pixels.*mode L, P"):
        WoodScapeDataset(tmp_path)


def test_palette_label_image_gives_its_indices_not_its_colours(tmp_path):
    _small_set(tmp_path, n_classes=3)
    ids = np.random.default_rng(1).integers(0, 3, (24, 32), dtype=np.uint8)
    palette = Image.fromarray(ids, mode="P")
    palette.putpalette([200, 200, 200, 10, 10, 10, 90, 0, 255])  # greys unrelated to the ids
    palette.save(tmp_path / "semantic_annotations" / "gtLabels" / "00000_FV.png")
    _, labels, _ = WoodScapeDataset(tmp_path)[0]
    assert torch.equal(labels, torch.from_numpy(ids.astype(np.int64)))


def test_sixteen_bit_label_ids_are_read_and_checked(tmp_path):
    _small_set(tmp_path, n_classes=3)
    ids = np.full((24, 32), 2, np.uint16)
    ids[:4, :4] = IGNORE_INDEX
    path = tmp_path / "semantic_annotations" / "gtLabels" / "00000_FV.png"
    Image.fromarray(ids).save(path)
    labels = WoodScapeDataset(tmp_path, image_size=(16, 12))[0][1]
    assert labels.shape == (12, 16) and set(labels.unique().tolist()) == {2, IGNORE_INDEX}
    ids[3, 4] = 300  # beyond 8 bits: reported as it is, not wrapped to 44
    Image.fromarray(ids).save(path)
    with pytest.raises(WoodScapeLayoutError, match=r"unknown class id 300"):
        WoodScapeDataset(tmp_path, preload=True)
