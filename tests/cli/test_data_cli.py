import numpy as np
import pytest
from PIL import Image

from equisphere.cli.main import main


def test_generate_then_reuse(tmp_path, capsys):
    argv = ["data", "generate", "--setting", "NR/R", "--train-size", "40", "--test-size", "10",
            "--cache-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "train NR" in out and "test  R" in out and out.count("built") == 2
    files = sorted(tmp_path.glob("classification-*.npz"))
    assert len(files) == 2 and str(files[0]) in out
    assert "Ankle boot" in out  # the per-class table

    assert main(argv) == 0
    assert capsys.readouterr().out.count("cached") == 2
    assert sorted(tmp_path.glob("*.npz")) == files


def test_generate_segmentation_prints_frequencies(tmp_path, capsys):
    argv = ["data", "generate", "--task", "segmentation", "--train-size", "6", "--test-size", "3",
            "--objects", "1", "2", "--cache-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "class frequencies" in out and "background" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("background")]
    train, test = float(rows[0][1]), float(rows[0][2])
    assert 0.5 < train < 1 and 0.5 < test < 1


def test_sheet(tmp_path, capsys):
    output = tmp_path / "sheet.png"
    argv = ["data", "sheet", "--size", "4", "--count", "4", "--output", str(output),
            "--cache-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    with Image.open(output) as picture:
        assert picture.format == "PNG" and np.asarray(picture).std() > 10
    # An existing file is left alone unless --overwrite is given.
    before = output.read_bytes()
    assert main(argv) == 2
    assert "exists" in capsys.readouterr().err and output.read_bytes() == before
    assert main([*argv, "--overwrite"]) == 0


def test_segmentation_sheet(tmp_path):
    output = tmp_path / "seg.png"
    argv = ["data", "sheet", "--task", "segmentation", "--size", "2", "--count", "2",
            "--output", str(output), "--cache-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0 and output.stat().st_size > 10000


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "generate", "--source", "/no/such/folder"], "/no/such/folder"),
        (["data", "generate", "--setting", "NR"], "like 'NR/NR'"),
        (["data", "generate", "--train-rotation", "up"], "--train-rotation 'NR'"),
        (["data", "sheet", "--output", "x.jpg"], "end in .png"),
        (["data", "sheet", "--count", "0"], "expected 1 <= --count <= 64 samples"),
        (["data", "sheet", "--count", "100"], "<= 64 samples on one classification sheet, got 100"),
        (
            ["data", "sheet", "--task", "segmentation", "--count", "33"],
            "expected 1 <= --count <= 32 samples on one segmentation sheet, got 33",
        ),
        (["data"], "expected an action"),
    ],
)
def test_errors_are_clear(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--cache-dir", str(tmp_path)] if len(argv) > 1 else argv) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # refused before building data or drawing


def test_sheet_help_states_the_count_limit(capsys):
    with pytest.raises(SystemExit):
        main(["data", "sheet", "--help"])
    assert "at most 64, or 32 with --task segmentation" in " ".join(capsys.readouterr().out.split())


def test_bad_idx_file_is_named(tmp_path, capsys):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(b"this is not an IDX file")
    (folder / "train-labels-idx1-ubyte").write_bytes(b"nor is this")
    argv = ["data", "generate", "--source", str(folder), "--cache-dir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and "not an IDX file" in err
