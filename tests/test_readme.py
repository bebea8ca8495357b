"""The README's Python example runs as written (with the shared WoodScape calibration)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_has_a_python_example():
    assert len(python_blocks(README.read_text())) == 1


def test_readme_python_example_runs(shared_data, monkeypatch):
    cameras = shared_data / "cameras"
    if not (cameras / "woodscape_front.json").exists():
        pytest.skip("shared WoodScape calibration not available")
    monkeypatch.chdir(cameras)  # the example reads woodscape_front.json from the working folder
    (block,) = python_blocks(README.read_text())
    namespace: dict = {}
    exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 (our own README)
    assert namespace["signal"].shape == (3, 60, 60)
    assert 0.0 < float(namespace["coverage"].mean()) < 1.0  # a fisheye sees part of the sphere
    assert namespace["report"].relative_error < 0.01
