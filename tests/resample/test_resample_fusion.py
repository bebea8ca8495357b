"""Several rig cameras fused onto one sphere."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from equisphere.cameras import CameraRig, MountedCamera, load_calibration
from equisphere.resample import (
    MapCache,
    equirect_to_image,
    equirect_to_sphere,
    fuse_rig,
    image_to_sphere,
)
from equisphere.so3 import rotation_z
from equisphere.sphere import EquiangularGrid

F64 = torch.float64


@pytest.fixture
def rig_and_images(shared_data):
    front = load_calibration(shared_data / "cameras" / "woodscape_front.json")
    camera = front.camera.resized(160, 121)
    rear_rotation = rotation_z(torch.tensor(math.pi, dtype=F64)) @ front.rotation()
    rig = CameraRig(
        (
            MountedCamera(camera, front.world_from_camera, front.translation, "FV"),
            MountedCamera(camera, rear_rotation, None, "RV"),
        )
    )
    image = Image.open(shared_data / "panoramas" / "sunset.png").convert("RGB")
    image = image.resize((256, 128), Image.Resampling.BOX)
    panorama = torch.from_numpy(np.array(image)).permute(2, 0, 1).to(F64) / 255
    cache = MapCache()
    images = {
        m.name: equirect_to_image(panorama, m.camera, m.rotation(), cache=cache)[0] for m in rig
    }
    return rig, images, panorama, cache


def test_fused_rig_matches_the_panorama_over_the_union_of_views(rig_and_images):
    rig, images, panorama, cache = rig_and_images
    grid = EquiangularGrid(64)
    fused, coverage = fuse_rig(images, rig, grid, cache=cache)
    singles = [
        image_to_sphere(images[m.name], m.camera, grid, m.rotation(), cache=cache)[1] for m in rig
    ]
    area = [float(grid.integrate((c >= 1).double())) for c in [coverage, *singles]]
    # Two 190-degree views overlap only at the sides: the union is most of both.
    assert area[0] > 1.6 * max(area[1:]) and area[0] <= area[1] + area[2] + 1e-9
    reference = equirect_to_sphere(panorama, grid, cache=cache)
    covered = coverage >= 1
    mse = float(((fused - reference) ** 2)[:, covered].mean())
    assert 10 * math.log10(1 / mse) > 30
    # Where only one camera sees, the fused value is that camera's.
    only_front = (singles[0] >= 1) & (singles[1] == 0)
    front_signal, _ = image_to_sphere(
        images["FV"], rig["FV"].camera, grid, rig["FV"].rotation(), cache=cache
    )
    torch.testing.assert_close(fused[:, only_front], front_signal[:, only_front])
    # A sequence in rig order is the same as a mapping.
    sequence, _ = fuse_rig([images["FV"], images["RV"]], rig, grid, cache=cache)
    torch.testing.assert_close(sequence, fused)


def test_fusion_input_errors(rig_and_images):
    rig, images, _, cache = rig_and_images
    grid = EquiangularGrid(8)
    with pytest.raises(ValueError, match="missing \\['RV'\\]"):
        fuse_rig({"FV": images["FV"]}, rig, grid, cache=cache)
    with pytest.raises(ValueError, match="2 images"):
        fuse_rig([images["FV"]], rig, grid, cache=cache)
    with pytest.raises(ValueError, match="height, width"):
        fuse_rig([images["FV"], images["RV"][..., :-1]], rig, grid, cache=cache)
    with pytest.raises(TypeError, match="CameraRig"):
        fuse_rig(images, list(rig), grid)
