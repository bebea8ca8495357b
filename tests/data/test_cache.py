import json
import zipfile

import numpy as np
import pytest

from equisphere import __version__
from equisphere.data import CacheError, default_cache_dir
from equisphere.data.cache import cache_key, load_or_build

OPTIONS = {"bandwidth": 30, "rotation": "R", "seed": 1}
SOURCES = {"images.gz": "abc", "labels.gz": "def"}


class Builder:
    def __init__(self, value=3):
        self.calls, self.value = 0, value

    def __call__(self):
        self.calls += 1
        return {"signals": np.full((4, 6, 6), self.value, np.uint8), "labels": np.arange(4)}


def test_built_once_then_reused(tmp_path):
    build = Builder()
    first, path = load_or_build("demo", OPTIONS, SOURCES, build, tmp_path)
    second, same_path = load_or_build("demo", OPTIONS, SOURCES, Builder(value=9), tmp_path)
    assert build.calls == 1 and path == same_path and path.parent == tmp_path
    np.testing.assert_array_equal(second["signals"], first["signals"])
    assert int(second["signals"][0, 0, 0]) == 3  # the stored set, not the second builder's
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left


def test_file_records_options_version_and_sources(tmp_path):
    _, path = load_or_build("demo", OPTIONS, SOURCES, Builder(), tmp_path)
    with np.load(path) as archive:
        header = json.loads(bytes(archive["__meta__"]).decode())
    assert header["options"] == OPTIONS and header["sources"] == SOURCES
    assert header["equisphere_version"] == __version__ and header["kind"] == "demo"
    assert header["arrays"]["signals"] == [[4, 6, 6], "|u1"]


@pytest.mark.parametrize(
    "change",
    [
        {"options": {**OPTIONS, "seed": 2}},
        {"options": {**OPTIONS, "rotation": "NR"}},
        {"sources": {**SOURCES, "labels.gz": "xyz"}},
        {"kind": "other"},
    ],
)
def test_other_options_give_another_file(tmp_path, change):
    arguments = {"kind": "demo", "options": OPTIONS, "sources": SOURCES, **change}
    _, first = load_or_build("demo", OPTIONS, SOURCES, Builder(), tmp_path)
    build = Builder(value=5)
    arrays, second = load_or_build(
        arguments["kind"], arguments["options"], arguments["sources"], build, tmp_path
    )
    assert second != first and build.calls == 1 and int(arrays["signals"][0, 0, 0]) == 5


def test_key_depends_on_version(monkeypatch):
    key = cache_key("demo", OPTIONS, SOURCES)
    monkeypatch.setattr("equisphere.data.cache.__version__", "99.0")
    assert cache_key("demo", OPTIONS, SOURCES) != key


def test_file_with_other_options_is_never_used(tmp_path):
    _, path = load_or_build("demo", OPTIONS, SOURCES, Builder(), tmp_path)
    other = {**OPTIONS, "seed": 7}
    # Put the file under the name the other options would use.
    path.rename(tmp_path / f"demo-{cache_key('demo', other, SOURCES)}.npz")
    with pytest.raises(
        CacheError, match=r"made with other settings \(options: file has .*'seed': 1"
    ):
        load_or_build("demo", other, SOURCES, Builder(), tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip"])
def test_damaged_file_is_reported_then_rebuilt_on_request(tmp_path, damage):
    _, path = load_or_build("demo", OPTIONS, SOURCES, Builder(), tmp_path)
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "garbage":
        raw = bytearray(b"not a zip file at all")
    else:
        # Flip a byte inside the signals array: the zip CRC catches it.
        offset = raw.find(bytes(np.full(16, 3, np.uint8)))
        assert offset > 0
        raw[offset + 5] ^= 0xFF
    path.write_bytes(bytes(raw))

    with pytest.raises(CacheError, match=f"{path.name}.* is damaged.*rebuild=True"):
        load_or_build("demo", OPTIONS, SOURCES, Builder(), tmp_path)
    build = Builder(value=4)
    arrays, same = load_or_build("demo", OPTIONS, SOURCES, build, tmp_path, rebuild=True)
    assert same == path and build.calls == 1 and int(arrays["signals"][1, 2, 3]) == 4
    again, _ = load_or_build("demo", OPTIONS, SOURCES, Builder(), tmp_path)
    assert int(again["signals"][1, 2, 3]) == 4


def test_missing_array_is_damage(tmp_path):
    _, path = load_or_build("demo", OPTIONS, SOURCES, Builder(), tmp_path)
    with pytest.raises(CacheError, match=r"missing arrays \['rotations'\]"):
        load_or_build("demo", OPTIONS, SOURCES, Builder(), tmp_path, required=("rotations",))
    assert zipfile.is_zipfile(path)


def test_default_folder_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EQUISPHERE_CACHE", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    _, path = load_or_build("demo", OPTIONS, SOURCES, Builder())
    assert path.parent == tmp_path / "here"
    monkeypatch.delenv("EQUISPHERE_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "equisphere")
