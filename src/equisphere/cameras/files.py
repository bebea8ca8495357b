"""Shared helpers for reading calibration files: key checks with helpful errors."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

__all__ = ["CalibrationError", "read_mapping"]


class CalibrationError(ValueError):
    """A calibration file that cannot be read: says which file, which key, what was expected."""


def read_mapping(path: str | Path) -> tuple[dict, Path]:
    """Parse a JSON or YAML file whose top level is a mapping (OpenCV YAML tags included)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"calibration file {str(path)!r} not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise CalibrationError(f"{path}: not valid JSON ({error})") from None
    else:
        data = _load_yaml(text, path)
    if not isinstance(data, dict):
        raise CalibrationError(
            f"{path}: expected a mapping at the top level, got {type(data).__name__}"
        )
    return data, path


class _OpenCVLoader(yaml.SafeLoader):
    """SafeLoader that also understands OpenCV's ``!!opencv-matrix`` tag."""


def _opencv_constructor(type_id: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict:
        return {"type_id": type_id, **loader.construct_mapping(node, deep=True)}

    return construct


for _type_id in ("opencv-matrix", "opencv-nd-matrix"):
    _OpenCVLoader.add_constructor(f"tag:yaml.org,2002:{_type_id}", _opencv_constructor(_type_id))


def _load_yaml(text: str, path: Path) -> object:
    lines = text.splitlines()
    if lines and lines[0].startswith("%YAML"):
        lines = lines[1:]  # OpenCV writes "%YAML:1.0" or "%YAML 1.2"; PyYAML accepts neither
    try:
        return yaml.load("\n".join(lines), Loader=_OpenCVLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as error:
        raise CalibrationError(f"{path}: not valid YAML ({error})") from None


def where(path: Path, section: str) -> str:
    return f"{path}" + (f" [{section}]" if section else "")


def require(mapping: Mapping, key: str, path: Path, section: str = "") -> object:
    """``mapping[key]``, or a ``CalibrationError`` naming the key and close matches."""
    if not isinstance(mapping, Mapping):
        raise CalibrationError(
            f"{where(path, section)}: expected a mapping, got {type(mapping).__name__}"
        )
    if key not in mapping:
        close = difflib.get_close_matches(key, [str(k) for k in mapping], n=1)
        hint = f" (found {close[0]!r}: misspelt?)" if close else ""
        raise CalibrationError(
            f"{where(path, section)}: missing key {key!r}{hint}; keys present: {sorted(mapping)}"
        )
    return mapping[key]


def reject_unknown(mapping: Mapping, allowed: Iterable[str], path: Path, section: str = "") -> None:
    """Raise for keys outside ``allowed``, suggesting the closest allowed name."""
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise CalibrationError(
                f"{where(path, section)}: unknown key {key!r}{hint} (expected keys: {allowed})"
            )


_YAML_SPECIALS = {".nan": math.nan, ".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf}


def number(value: object, key: str, path: Path, section: str = "") -> float:
    """A finite float from a number or a numeric string (old WoodScape files use strings)."""
    if isinstance(value, bool):
        raise CalibrationError(
            f"{where(path, section)}: expected {key!r} to be a number, got {value!r}"
        )
    if isinstance(value, str) and value.strip().lower() in _YAML_SPECIALS:
        value = _YAML_SPECIALS[value.strip().lower()]  # OpenCV writes NaN as ".Nan"
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CalibrationError(
            f"{where(path, section)}: expected {key!r} to be a number, got {value!r}"
        ) from None
    if not math.isfinite(result):
        raise CalibrationError(
            f"{where(path, section)}: expected {key!r} to be finite, got {value!r}"
        )
    return result


def numbers(
    value: object, key: str, path: Path, length: int | None, section: str = ""
) -> list[float]:
    """A list of finite floats (optionally of a given length)."""
    if isinstance(value, Mapping) and value.get("type_id") in ("opencv-matrix", "opencv-nd-matrix"):
        value = value.get("data")
    if not isinstance(value, (list, tuple)):
        value = [value]
    flat: list[object] = []
    for item in value:
        flat.extend(item if isinstance(item, (list, tuple)) else [item])
    result = [number(v, key, path, section) for v in flat]
    if length is not None and len(result) != length:
        raise CalibrationError(
            f"{where(path, section)}: expected {length} numbers for {key!r}, got {len(result)}"
        )
    return result
