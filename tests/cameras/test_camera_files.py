"""Calibration files: WoodScape (current and older layout), OpenCV YAML/JSON, the own format."""

import json
import math

import numpy as np
import pytest
import torch

from equisphere.cameras import (
    CAMERA_MODELS,
    CalibrationError,
    CameraRig,
    DoubleSphereCamera,
    KannalaBrandtCamera,
    MountedCamera,
    PinholeCamera,
    RadialPolyCamera,
    UnifiedCamera,
    forward_looking,
    load_calibration,
    load_rig,
    save_calibration,
)

F64 = torch.float64

# The older WoodScape layout of the same front camera (as published in valeoai/WoodScape#76).
LEGACY_FRONT = {
    "cam_name": "FV",
    "extrinsic": {
        "rot__x_deg": "67.11",
        "rot_z1_deg": "90.56",
        "rot_z2_deg": "0.5",
        "pointx_mm": "-809.4",
        "pointy_mm": "0.0",
        "pointz_mm": "657.8",
    },
    "intrinsic": {
        "fisheyeAmt1": "339.749",
        "fisheyeAmt2": "-31.988",
        "fisheyeAmt3": "48.275",
        "fisheyeAmt4": "-7.201",
        "opt_axis_x_rot_deg": "0",
        "opt_axis_z1_rot_deg": "0",
        "opt_axis_z2_rot_deg": "0",
        "image_flip_x_bool": "false",
        "image_flip_y_bool": "false",
        "cam_aspect": "1.0",
        "source_image_x_res": "1280.0",
        "source_image_y_res": "966.0",
        "cxoffs_pix": "3.942",
        "cyoffs_pix": "-3.093",
    },
}


@pytest.fixture
def woodscape(shared_data):
    return json.loads((shared_data / "cameras" / "woodscape_front.json").read_text())


def write_json(path, data):
    path.write_text(json.dumps(data))
    return path


def test_woodscape_front_camera_and_extrinsics(shared_data):
    mounted = load_calibration(shared_data / "cameras" / "woodscape_front.json")
    assert isinstance(mounted.camera, RadialPolyCamera) and mounted.name == "FV"
    assert mounted.camera.coefficients == (339.749, -31.988, 48.275, -7.201)
    assert mounted.translation == pytest.approx((3.7484, 0.0, 0.66017))
    axis = mounted.optical_axis()
    # Forward and about 23.4 degrees down in the vehicle frame (x forward, z up).
    assert float(axis[0]) > 0.9 and abs(float(axis[1])) < 0.01
    assert math.degrees(math.asin(-float(axis[2]))) == pytest.approx(23.4, abs=0.05)
    # Camera x (right) points to the vehicle's right (-y), camera y (down) mostly down.
    R = mounted.rotation()
    assert float(R[1, 0]) < -0.99 and float(R[2, 1]) < -0.9


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["intrinsic"].update(k_3=d["intrinsic"].pop("k3")), "'k_3'; did you mean 'k3'"),
        (lambda d: d["intrinsic"].pop("cx_offset"), "missing key 'cx_offset'"),
        (lambda d: d["intrinsic"].update(cx_ofset=d["intrinsic"].pop("cx_offset")), "cx_ofset"),
        (lambda d: d["intrinsic"].update(k2=float("nan")), "'k2' to be finite"),
        (lambda d: d["intrinsic"].update(model="opencv_fisheye"), "radial_poly"),
        (lambda d: d["extrinsic"].update(quaternion=[0.1, 0.2, 0.3]), "4 numbers"),
        (lambda d: d["extrinsic"].update(quaternion=[1.0, 1.0, 0.0, 0.0]), "unit quaternion"),
        (lambda d: d.update(intrinsics=d.pop("intrinsic")), "intrinsic"),
    ],
)
def test_woodscape_bad_keys_get_clear_errors(tmp_path, woodscape, edit, message):
    edit(woodscape)
    with pytest.raises(CalibrationError, match=message):
        load_calibration(write_json(tmp_path / "calib.json", woodscape))


def test_woodscape_misspelt_key_is_named_with_a_suggestion(tmp_path, woodscape):
    woodscape["intrinsic"]["aspect_ration"] = woodscape["intrinsic"].pop("aspect_ratio")
    with pytest.raises(CalibrationError) as info:
        load_calibration(write_json(tmp_path / "calib.json", woodscape))
    assert "'aspect_ratio'" in str(info.value) and "aspect_ration" in str(info.value)


def test_older_woodscape_layout_is_detected_and_its_intrinsics_convert(tmp_path, shared_data):
    path = write_json(tmp_path / "old.json", LEGACY_FRONT)
    with pytest.raises(CalibrationError, match="older WoodScape calibration layout"):
        load_calibration(path)
    converted = load_calibration(path, woodscape_legacy="intrinsics")
    current = load_calibration(shared_data / "cameras" / "woodscape_front.json")
    assert converted.camera == current.camera  # the same lens, read from either layout
    assert converted.world_from_camera is None and converted.name == "FV"


def test_older_woodscape_layout_with_flips_is_not_converted(tmp_path):
    data = json.loads(json.dumps(LEGACY_FRONT))
    data["intrinsic"]["image_flip_x_bool"] = "true"
    with pytest.raises(CalibrationError, match="image_flip_x_bool"):
        load_calibration(write_json(tmp_path / "old.json", data), woodscape_legacy="intrinsics")


def write_opencv(path, **entries):
    cv2 = pytest.importorskip("cv2")
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    for key, value in entries.items():
        storage.write(key, value)
    storage.release()
    return path


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_opencv_fisheye_file_matches_cv2_projection(tmp_path, suffix):
    cv2 = pytest.importorskip("cv2")
    K = np.array([[410.2, 0.0, 639.1], [0.0, 409.7, 401.3], [0.0, 0.0, 1.0]])
    D = np.array([[0.021], [-0.0042], [0.0011], [-0.00023]])
    path = write_opencv(tmp_path / f"fisheye{suffix}", K=K, D=D, image_width=1280, image_height=800)
    mounted = load_calibration(path)
    assert isinstance(mounted.camera, KannalaBrandtCamera)
    rays = torch.tensor([[0.2, -0.1, 1.0], [-0.7, 0.4, 0.5], [0.0, 0.0, 2.0]], dtype=F64)
    expected, _ = cv2.fisheye.projectPoints(rays.numpy()[None], np.zeros(3), np.zeros(3), K, D)
    np.testing.assert_allclose(mounted.camera.project(rays)[0].numpy(), expected[0], atol=1e-9)


def test_opencv_pinhole_and_omnidir_files(tmp_path):
    K = np.array([[500.0, 0.0, 319.5], [0.0, 500.0, 239.5], [0.0, 0.0, 1.0]])
    path = write_opencv(
        tmp_path / "pin.yaml",
        camera_matrix=K,
        distortion_coefficients=np.zeros((5, 1)),
        image_width=640,
        image_height=480,
    )
    assert isinstance(load_calibration(path).camera, PinholeCamera)
    path = write_opencv(
        tmp_path / "omni.yaml",
        K=K,
        D=np.zeros((1, 4)),
        xi=np.array([[1.3]]),
        image_size=np.array([640, 480]),
    )
    camera = load_calibration(path).camera
    assert isinstance(camera, UnifiedCamera) and camera.xi == pytest.approx(1.3)
    assert (camera.width, camera.height) == (640, 480)


@pytest.mark.parametrize(
    "entries, message",
    [
        (dict(camera_matrx=np.eye(3), image_width=10, image_height=10), "camera_matrx"),
        (dict(K=np.eye(3)), "image size"),
        (
            dict(K=np.eye(3), D=np.full((5, 1), 0.1), image_width=10, image_height=10),
            "not modelled",
        ),
        (
            dict(K=np.array([[1.0, 0, 1], [0, 1, 1], [1, 0, 1]]), image_width=10, image_height=10),
            "camera matrix",
        ),
        (dict(K=np.full((3, 3), np.nan), image_width=10, image_height=10), "finite"),
    ],
)
def test_opencv_bad_files_get_clear_errors(tmp_path, entries, message):
    path = write_opencv(tmp_path / "bad.yaml", **entries)
    with pytest.raises(CalibrationError, match=message):
        load_calibration(path)


def example_cameras():
    affine = dict(width=640, height=480, fx=250.0, fy=251.0, cx=320.2, cy=239.1)
    return [
        MountedCamera(
            PinholeCamera(**affine, skew=0.3), forward_looking().tolist(), (1.0, 0, 1.5), "a"
        ),
        MountedCamera(KannalaBrandtCamera(**affine, k1=0.1, k2=-0.02, k3=0.0, k4=0.001), name="b"),
        MountedCamera(RadialPolyCamera(**affine, coefficients=(300.0, -10.0, 2.0)), name="c"),
        MountedCamera(UnifiedCamera(**affine, xi=0.8, max_incidence=1.9), name="d"),
        MountedCamera(DoubleSphereCamera(**affine, xi=-0.1, alpha=0.55), name="e"),
    ]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_own_format_round_trip_for_every_model(tmp_path, suffix):
    for model, cls in CAMERA_MODELS.items():
        kwargs = dict(width=64, height=48, fx=30.0, fy=31.0, cx=31.7, cy=23.2)
        camera = cls(**kwargs, **({"coefficients": (30.0, 1.0)} if model == "radial_poly" else {}))
        path = save_calibration(tmp_path / f"{model}{suffix}", camera)
        assert load_calibration(path).camera == camera
    for mounted in example_cameras():
        path = save_calibration(tmp_path / f"{mounted.name}{suffix}", mounted)
        assert load_calibration(path) == mounted


def test_own_format_never_overwrites_without_being_asked(tmp_path):
    mounted = example_cameras()[0]
    path = save_calibration(tmp_path / "cam.yaml", mounted)
    before = path.read_text()
    with pytest.raises(FileExistsError, match="overwrite"):
        save_calibration(path, example_cameras()[1])
    assert path.read_text() == before
    save_calibration(path, example_cameras()[1], overwrite=True)
    assert load_calibration(path).name == "b"


def test_own_format_bad_entries(tmp_path):
    entry = {
        "name": "x",
        "model": "kannala_brandt",
        "image_size": [64, 48],
        "intrinsics": {
            "fx": 30,
            "fy": 30,
            "cx": 31.5,
            "cy": 23.5,
            "k1": 0,
            "k2": 0,
            "k3": 0,
            "k4": 0,
        },
    }

    def check(changed, message):
        path = tmp_path / "bad.json"
        path.write_text(json.dumps({"equisphere_calibration": 1, "cameras": [changed]}))
        with pytest.raises(CalibrationError, match=message):
            load_calibration(path)

    check({**entry, "model": "fisheye62"}, "unknown camera model")
    check({**entry, "intrinsics": {**entry["intrinsics"], "k5": 0.1}}, "unknown key 'k5'")
    check(
        {**entry, "intrinsics": {k: v for k, v in entry["intrinsics"].items() if k != "k4"}},
        "missing key 'k4'",
    )
    check({**entry, "intrinsics": {**entry["intrinsics"], "fx": "inf"}}, "finite")
    check({**entry, "image_size": [64.5, 48]}, "whole")
    check(
        {**entry, "world_from_camera": {"rotation": [[1, 0, 0], [0, 1, 0], [0, 0, -1]]}},
        "proper rotation",
    )
    check({**entry, "imagesize": [64, 48]}, "image_size")


def test_rigs_from_one_file_or_several(tmp_path, shared_data, woodscape):
    cameras = [
        example_cameras()[0],
        MountedCamera(example_cameras()[1].camera, np.eye(3), None, "b"),
    ]
    path = save_calibration(tmp_path / "rig.yaml", CameraRig(tuple(cameras)))
    rig = load_rig(path)
    assert rig.names == ["a", "b"] and rig["a"] == cameras[0]
    with pytest.raises(CalibrationError, match="2 cameras"):
        load_calibration(path)
    assert load_calibration(path, name="b") == rig["b"]

    rear = dict(woodscape, name="RV")
    rear["extrinsic"] = dict(woodscape["extrinsic"], quaternion=[0.0, 0.0, 1.0, 0.0])
    rig = load_rig(
        [shared_data / "cameras" / "woodscape_front.json", write_json(tmp_path / "rv.json", rear)]
    )
    assert rig.names == ["FV", "RV"] and len(rig) == 2
    with pytest.raises(ValueError, match="no extrinsics"):
        load_rig([save_calibration(tmp_path / "lone.yaml", example_cameras()[1].camera)])
    with pytest.raises(ValueError, match="distinct"):
        CameraRig((cameras[0], cameras[0]))


def test_missing_file_and_bad_syntax(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_calibration(tmp_path / "nope.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(CalibrationError, match="not valid JSON"):
        load_calibration(tmp_path / "broken.json")


@pytest.mark.xfail(
    strict=True,
    raises=CalibrationError,
    reason="the plumb-bob distortion (k1, k2, p1, p2, k3) of OpenCV pinhole files is not "
    "modelled: such files are refused rather than read",
)
def test_opencv_pinhole_with_plumb_bob_distortion(tmp_path):
    K = np.array([[500.0, 0.0, 319.5], [0.0, 500.0, 239.5], [0.0, 0.0, 1.0]])
    D = np.array([[-0.28], [0.07], [0.001], [-0.0005], [0.0]])
    path = write_opencv(
        tmp_path / "plumb.yaml",
        camera_matrix=K,
        distortion_coefficients=D,
        image_width=640,
        image_height=480,
    )
    assert isinstance(load_calibration(path).camera, PinholeCamera)
