import math

import numpy as np
import pytest
import torch

from equisphere.data import (
    SphericalSegmentationDataset,
    class_frequencies,
    load_fashion_mnist,
    make_spherical_segmentation,
    place_objects,
)
from equisphere.data.placement import upright_rotations
from equisphere.data.segmentation import compose_objects
from equisphere.so3 import check_rotation_matrix
from equisphere.sphere import EquiangularGrid

from .test_stereographic import reference_values

F64 = torch.float64


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def centre_angles(rotations, present):
    """Pairwise angles in degrees between the centres R (0, 0, -1) of present objects."""
    centres = -rotations[..., 2]
    cosine = torch.einsum("nkc,nlc->nkl", centres, centres).clamp(-1, 1)
    angles = torch.rad2deg(torch.arccos(cosine))
    pair = present[:, :, None] & present[:, None, :] & ~torch.eye(present.shape[1], dtype=bool)
    return angles, pair


@pytest.mark.parametrize("rotation", ["R", "NR"])
def test_labels_agree_with_object_intensities(rotation):
    data = make_spherical_segmentation(
        "test", size=12, rotation=rotation, cache=False, threshold=0.3
    )
    images, labels = load_fashion_mnist(None, "test")
    directions = EquiangularGrid(30).vectors().reshape(-1, 3).numpy()
    checked = 0
    for n in range(len(data)):
        present = data.object_classes[n] >= 0
        indices = data.object_indices[n][present].tolist()
        assert data.object_classes[n][present].tolist() == labels[indices].tolist()
        layers = []
        for k in torch.nonzero(present).flatten().tolist():
            image = images[int(data.object_indices[n, k])].astype(float)
            side = 4 * math.tan(math.radians(float(data.object_sizes[n, k])) / 2)
            rotation_matrix = data.object_rotations[n, k].double().numpy()
            layers.append(reference_values(image / image.max(), directions, rotation_matrix, side))
        layers = np.stack(layers)  # (objects, points)
        brightest = layers.max(0)
        expected = np.where(
            brightest > 0.3, data.object_classes[n][present].numpy()[layers.argmax(0)] + 1, 0
        )
        target = data.targets[n].reshape(-1).numpy()
        # The stored rotations are float32: skip points within 1e-4 of a decision boundary.
        ordered = np.sort(layers, axis=0)
        runner_up = ordered[-2] if len(layers) > 1 else np.zeros_like(brightest)
        decided = (brightest < 0.3) | (brightest - runner_up > 1e-4)
        clear = (np.abs(brightest - 0.3) > 1e-4) & decided
        np.testing.assert_array_equal(target[clear], expected[clear])
        signal = data.signals[n].reshape(-1).numpy().astype(int)
        assert np.abs(signal - np.round(brightest * 255)).max() <= 1
        checked += clear.sum()
    assert checked > 0.99 * len(data) * 3600


def test_overlap_brightest_wins_and_ties_go_to_the_earlier_object():
    left = torch.zeros(28, 28)
    left[:, :21] = 200  # bright except the right quarter
    right = torch.zeros(28, 28)
    right[:, 14:] = 90  # bright in the right half
    images = torch.stack([left, right])[None]  # (1 sphere, 2 objects, 28, 28)
    placement = {
        "present": torch.tensor([[True, True]]),
        "sizes": torch.tensor([[40.0, 40.0]], dtype=F64),
        "rotations": torch.eye(3, dtype=F64).expand(1, 2, 3, 3),
    }
    signals, targets = compose_objects(images, torch.tensor([[2, 7]]), placement, 30, 0.5)
    grid = EquiangularGrid(30)
    from equisphere.data import plane_from_directions

    plane = plane_from_directions(grid.vectors())
    x = plane[..., 0] / (2 * math.tan(math.radians(20)))  # in half-sides, -1 .. 1
    inside = (plane.abs() <= 2 * math.tan(math.radians(20))).all(-1)
    target = targets[0]
    assert bool((target[inside & (x < -0.1)] == 3).all())  # only the first object is bright
    assert bool((target[inside & (x > 0.1) & (x < 0.45)] == 3).all())  # tie: earlier wins
    assert bool((target[inside & (x > 0.6)] == 8).all())  # only the second object is bright
    assert bool((target[~inside] == 0).all()) and int(signals[0].max()) == 255


def test_reject_policy_keeps_centres_apart():
    placement = place_objects(3000, (2, 4), (30.0, 45.0), "reject", generator=generator(1))
    present, sizes = placement["present"], placement["sizes"]
    angles, pair = centre_angles(placement["rotations"], present)
    needed = sizes[:, :, None] + sizes[:, None, :]
    assert bool((angles[pair] >= needed[pair] - 1e-9).all())
    counts = present.sum(1)
    assert counts.min() == 2 and counts.max() == 4
    assert abs(float((counts == 3).float().mean()) - 1 / 3) < 0.04
    assert float(sizes[present].min()) >= 30 and float(sizes[present].max()) <= 45
    assert bool((sizes[~present] == 0).all())
    check_rotation_matrix(placement["rotations"])


def test_min_separation_and_allow_policy():
    kept = place_objects(2000, 3, 20.0, "reject", min_separation=70.0, generator=generator(2))
    angles, pair = centre_angles(kept["rotations"], kept["present"])
    assert float(angles[pair].min()) >= 70.0
    free = place_objects(2000, 3, 20.0, "allow", generator=generator(2))
    angles, pair = centre_angles(free["rotations"], free["present"])
    # Independent uniform centres: P(angle < 70 degrees) = (1 - cos 70) / 2 = 0.329.
    assert (
        abs(float((angles[pair] < 70).float().mean()) - (1 - math.cos(math.radians(70))) / 2) < 0.02
    )


def test_impossible_placement_is_reported():
    with pytest.raises(ValueError, match="could not place object .* overlap='allow'"):
        place_objects(5, 8, 80.0, "reject", generator=generator())


def test_upright_rotations():
    centres = torch.randn(500, 3, generator=generator(3), dtype=F64)
    centres = torch.cat([centres / centres.norm(dim=1, keepdim=True), torch.tensor([[0, 0, 1.0]])])
    rotations = upright_rotations(centres)
    check_rotation_matrix(rotations)
    torch.testing.assert_close(rotations @ torch.tensor([0, 0, -1.0], dtype=F64), centres)
    top = rotations @ torch.tensor([0, -1.0, 0], dtype=F64)  # the image's upward direction
    assert bool((top[:-1, 2] > 0).all())  # points north ...
    # ... along the meridian: in the plane of the centre and the pole.
    normal = torch.linalg.cross(centres[:-1], torch.tensor([0, 0, 1.0], dtype=F64).expand(500, 3))
    assert float((top[:-1] * normal).sum(1).abs().max()) < 1e-12


def test_same_seed_same_set():
    a = make_spherical_segmentation("test", size=6, seed=3, cache=False)
    b = make_spherical_segmentation("test", size=6, seed=3, cache=False)
    c = make_spherical_segmentation("test", size=6, seed=4, cache=False)
    assert torch.equal(a.targets, b.targets) and torch.equal(a.object_indices, b.object_indices)
    assert not torch.equal(a.targets, c.targets)


def test_items_and_names():
    data = make_spherical_segmentation("test", size=5, cache=False)
    signal, target = data[2]
    assert signal.shape == (1, 60, 60) and signal.dtype == torch.float32
    assert target.shape == (60, 60) and target.dtype == torch.int64
    assert data.class_names[0] == "background" and data.class_names[1] == "T-shirt/top"
    assert len(data.class_names) == 11 and int(target.max()) <= 10


def test_class_frequencies():
    targets = torch.zeros(2, 8, 8, dtype=torch.uint8)
    targets[:, :4] = 3  # the northern hemisphere
    targets[1, 4:, :2] = 10  # a quarter of the southern rows' longitudes in one sample
    weighted = class_frequencies(targets)
    counted = class_frequencies(targets, area_weighted=False)
    # Driscoll-Healy weights are symmetric about the equator: the north holds half the area.
    assert abs(float(weighted[3]) - 0.5) < 1e-12
    assert abs(float(weighted[10]) - 0.25 * 0.5 * 0.5) < 1e-12
    assert counted.tolist()[3] == 0.5 and abs(float(counted[0]) - 0.4375) < 1e-12
    assert abs(float(weighted.sum()) - 1) < 1e-12 and weighted.shape == (11,)


def test_dataset_reports_frequencies():
    data = make_spherical_segmentation("test", size=40, cache=False)
    frequencies = data.class_frequencies()
    assert 0.6 < float(frequencies[0]) < 0.95  # mostly background
    counts = torch.bincount(data.targets.flatten().long(), minlength=11).double()
    torch.testing.assert_close(data.class_frequencies(area_weighted=False), counts / counts.sum())


def test_cache_reuse(tmp_path):
    first = make_spherical_segmentation("test", size=8, cache_dir=tmp_path)
    second = make_spherical_segmentation("test", size=8, cache_dir=tmp_path)
    assert first.options["cache_file"] == second.options["cache_file"]
    assert torch.equal(first.targets, second.targets)
    torch.testing.assert_close(first.object_rotations, second.object_rotations)
    other = make_spherical_segmentation("test", size=8, cache_dir=tmp_path, threshold=0.4)
    assert other.options["cache_file"] != first.options["cache_file"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"threshold": 1.0}, r"threshold in \[0, 1\)"),
        ({"objects": (3, 2)}, "objects to be a number or a"),
        ({"object_size": 100.0}, "object_size"),
        ({"overlap": "sometimes"}, "overlap 'reject' or 'allow'"),
        ({"size": 0}, "positive int"),
        ({"rotation": "up"}, "rotation 'NR'"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_spherical_segmentation("test", cache=False, **{"size": 2, **kwargs})


def test_dataset_checks_shapes():
    signals = torch.zeros(2, 8, 8, dtype=torch.uint8)
    objects = {"rotations": torch.zeros(2, 1, 3, 3), "sizes": torch.zeros(2, 1),
               "classes": torch.zeros(2, 1), "indices": torch.zeros(2, 1)}  # fmt: skip
    with pytest.raises(ValueError, match=r"targets of shape \(2, 8, 8\)"):
        SphericalSegmentationDataset(signals, torch.zeros(2, 8, 6), objects)


@pytest.mark.xfail(
    reason="overlap='reject' keeps centres apart by the sum of half-widths, so square corners can "
    "still meet: about 2% of spheres have points where two objects exceed the threshold "
    "(0.01% of labelled points; the brightest-wins rule labels them)",
    strict=True,
)
def test_reject_policy_gives_disjoint_footprints():
    data = make_spherical_segmentation("test", size=150, cache=False)
    images, _ = load_fashion_mnist(None, "test")
    directions = EquiangularGrid(30).vectors().reshape(-1, 3).numpy()
    for n in range(len(data)):
        covered = np.zeros(len(directions), dtype=int)
        for k in torch.nonzero(data.object_classes[n] >= 0).flatten().tolist():
            image = images[int(data.object_indices[n, k])].astype(float)
            side = 4 * math.tan(math.radians(float(data.object_sizes[n, k])) / 2)
            rotation = data.object_rotations[n, k].double().numpy()
            layer = reference_values(image / image.max(), directions, rotation, side)
            covered += layer > 0.25
        assert covered.max() <= 1


@pytest.mark.gpu
def test_segmentation_on_cuda_matches_cpu():
    on_cpu = make_spherical_segmentation("test", size=20, cache=False)
    on_gpu = make_spherical_segmentation("test", size=20, cache=False, device="cuda")
    assert (on_gpu.targets != on_cpu.targets).float().mean() < 1e-3
    assert (on_gpu.signals.int() - on_cpu.signals.int()).abs().max() <= 1
