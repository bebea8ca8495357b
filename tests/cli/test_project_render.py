"""The ``project`` and ``render`` sub-commands, end to end on small real data."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from equisphere.cameras import load_calibration, save_calibration
from equisphere.cli.main import main
from equisphere.resample import equirect_to_sphere, image_to_sphere
from equisphere.sphere import EquiangularGrid


@pytest.fixture
def small_setup(shared_data, tmp_path, monkeypatch):
    """A WoodScape calibration at 1/8 size (own format) and a 128 x 256 panorama."""
    monkeypatch.chdir(tmp_path)
    mounted = load_calibration(shared_data / "cameras" / "woodscape_front.json")
    small = type(mounted)(
        mounted.camera.resized(160, 121), mounted.world_from_camera, mounted.translation, "FV"
    )
    calibration = save_calibration(tmp_path / "front_small.yaml", small)
    panorama = Image.open(shared_data / "panoramas" / "sunrise.png").convert("RGB")
    panorama.resize((256, 128), Image.Resampling.BOX).save(tmp_path / "sunrise.png")
    return tmp_path, calibration, small


def test_render_then_project_round_trip(small_setup, capsys):
    folder, calibration, mounted = small_setup
    assert main(["render", "sunrise.png", "--camera", str(calibration)]) == 0
    rendered = folder / "sunrise_FV.png"
    image = np.array(Image.open(rendered))
    assert image.shape == (121, 160, 3)
    assert "orientation    calibration" in capsys.readouterr().out

    code = main(
        [
            "project",
            str(rendered),
            "--camera",
            str(calibration),
            "--bandwidth",
            "32",
            "--orientation",
            "calibration",
            "--output",
            "fv",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "EquiangularGrid(bandwidth=32)" in out and "fv.npz" in out
    saved = np.load(folder / "fv.npz")
    assert saved["signal"].shape == (3, 64, 64) and saved["coverage"].shape == (64, 64)
    assert Image.open(folder / "fv.png").size[0] > 500
    np.testing.assert_allclose(saved["world_from_camera"], mounted.rotation().numpy())
    assert json.loads(str(saved["camera"]))["model"] == "radial_poly"
    # The written signal is the library's, and it matches the panorama where it is seen.
    grid = EquiangularGrid(32)
    expected, coverage = image_to_sphere(
        torch.from_numpy(image).permute(2, 0, 1).double() / 255,
        mounted.camera,
        grid,
        mounted.rotation(),
    )
    np.testing.assert_allclose(saved["signal"], expected.numpy(), atol=1e-6)
    panorama = torch.from_numpy(np.array(Image.open(folder / "sunrise.png"))).permute(2, 0, 1) / 255
    reference = equirect_to_sphere(panorama.double(), grid)
    covered = torch.from_numpy(saved["coverage"]) >= 1
    mse = float(((torch.from_numpy(saved["signal"]).double() - reference) ** 2)[:, covered].mean())
    assert 10 * np.log10(1 / mse) > 30


def test_outputs_are_never_overwritten_without_being_asked(small_setup, capsys):
    folder, calibration, _ = small_setup
    assert main(["render", "sunrise.png", "--camera", str(calibration), "--output", "v.png"]) == 0
    before = (folder / "v.png").read_bytes()
    assert (
        main(
            [
                "render",
                "sunrise.png",
                "--camera",
                str(calibration),
                "--output",
                "v.png",
                "--orientation",
                "forward",
            ]
        )
        == 2
    )
    assert "--overwrite" in capsys.readouterr().err
    assert (folder / "v.png").read_bytes() == before
    assert (
        main(
            [
                "render",
                "sunrise.png",
                "--camera",
                str(calibration),
                "--output",
                "v.png",
                "--orientation",
                "forward",
                "--overwrite",
            ]
        )
        == 0
    )
    assert (folder / "v.png").read_bytes() != before
    args = ["project", "v.png", "--camera", str(calibration), "--bandwidth", "8"]
    assert main(args) == 0
    assert main(args) == 2 and "v_sphere.npz" in capsys.readouterr().err


def test_project_labels_and_healpix(small_setup):
    folder, calibration, _ = small_setup
    labels = np.zeros((121, 160), dtype=np.uint8)
    labels[:, 80:] = 3
    Image.fromarray(labels).save(folder / "labels.png")
    code = main(
        [
            "project",
            "labels.png",
            "--camera",
            str(calibration),
            "--labels",
            "--grid",
            "healpix",
            "--nside",
            "8",
        ]
    )
    assert code == 0
    saved = np.load(folder / "labels_sphere.npz")
    assert saved["signal"].dtype == np.int64 and saved["signal"].shape == (1, 768)
    seen = saved["coverage"] > 0
    assert set(np.unique(saved["signal"][0, seen])) == {0, 3}
    assert (saved["signal"][0, ~seen] == -1).all()


def test_bad_inputs_give_clear_errors(small_setup, capsys, shared_data):
    folder, calibration, _ = small_setup
    Image.fromarray(np.zeros((100, 160, 3), dtype=np.uint8)).save(folder / "wrong.png")
    assert main(["project", "wrong.png", "--camera", str(calibration)]) == 2
    assert "160 x 100 pixels (width x height) but the calibration expects 160 x 121" in (
        capsys.readouterr().err
    )
    # A uniformly resized image is accepted with --resize-calibration.
    Image.fromarray(np.zeros((242, 320, 3), dtype=np.uint8)).save(folder / "big.png")
    assert (
        main(
            [
                "project",
                "big.png",
                "--camera",
                str(calibration),
                "--bandwidth",
                "8",
                "--resize-calibration",
            ]
        )
        == 0
    )
    capsys.readouterr()
    broken = json.loads((shared_data / "cameras" / "woodscape_front.json").read_text())
    broken["intrinsic"].pop("k4")
    (folder / "broken.json").write_text(json.dumps(broken))
    assert main(["render", "sunrise.png", "--camera", "broken.json"]) == 2
    assert "missing key 'k4'" in capsys.readouterr().err
    assert main(["render", "sunrise.png", "--camera", str(calibration), "--orientation", "up"]) == 2
    assert "'A,B,G'" in capsys.readouterr().err
    Image.fromarray(np.zeros((10, 30, 3), dtype=np.uint8)).save(folder / "notpano.png")
    assert main(["render", "notpano.png", "--camera", str(calibration)]) == 2
    assert "(..., H, 2H)" in capsys.readouterr().err


def test_a_file_that_is_not_an_image_is_named_without_writing(small_setup, capsys):
    folder, calibration, _ = small_setup
    (folder / "notes.png").write_text("not pixels\n")
    before = sorted(folder.rglob("*"))
    for command in ("render", "project"):
        assert main([command, "notes.png", "--camera", str(calibration)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"equisphere {command}: error: ")
        assert "'notes.png'" in err and "expected an image file (PNG, JPEG, ...)" in err
    assert sorted(folder.rglob("*")) == before


@pytest.mark.parametrize("output", ["fv", "fv.png", "fv.npz", "fv.PNG"])
def test_project_output_with_a_known_suffix_is_the_prefix(small_setup, output, capsys):
    folder, calibration, _ = small_setup
    Image.open("sunrise.png").resize((160, 121)).save("frame.png")  # the calibration's size
    argv = ["project", "frame.png", "--camera", str(calibration), "--bandwidth", "8"]
    assert main([*argv, "--output", output]) == 0
    capsys.readouterr()
    written = sorted(p.name for p in folder.iterdir() if p.name.lower().startswith("fv"))
    assert written == ["fv.npz", "fv.png"]
    assert np.load(folder / "fv.npz")["signal"].shape == (3, 16, 16)
