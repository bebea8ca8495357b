"""Training configuration: a YAML file with four sections, read into dataclasses.

A config file has the sections ``model``, ``data``, ``trainer`` and ``optim``
(each optional; missing keys take the defaults below). Unknown sections and
keys are rejected with the list of the expected ones, and every value is
checked against its field's type. Command-line overrides ``section.key=value``
(``model.options.width=20`` for a model option) are parsed as YAML values and
applied on top of the file.

Examples
--------
>>> config = config_from_dict({"optim": {"lr": 0.01}}, overrides=["trainer.max_epochs=3"])
>>> config.optim.lr, config.trainer.max_epochs, config.model.name
(0.01, 3, 'planar-cnn')
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "TrainerConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "save_config",
]


class ConfigError(ValueError):
    """A config file or override that does not fit the schema."""


@dataclass
class ModelConfig:
    """Which registered model to build (``equisphere.models.available_models()``)."""

    name: str = "planar-cnn"
    # Keyword options of the model factory; bandwidth, in_channels and n_classes
    # come from the data when the factory takes them and they are not set here.
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """The data set and how it is fed."""

    task: Literal["classification", "segmentation"] = "classification"
    bandwidth: int = 30
    train_rotation: Literal["NR", "R"] = "NR"
    test_rotation: Literal["NR", "R"] = "R"
    # Source images (classification) or spheres (segmentation) per split; None takes all.
    train_size: int | None = None
    test_size: int | None = None
    # Training samples held out for validation: val_size of them (0: no validation),
    # or when val_size is None, val_fraction of them.
    val_size: int | None = None
    val_fraction: float = 0.1
    # Folder with the raw IDX files; None uses the data built into the package.
    source: str | None = None
    cache_dir: str | None = None
    seed: int = 0
    batch_size: int = 32
    num_workers: int = 0
    # "rotation" rotates every training sphere by a fresh uniform random rotation.
    augment: Literal["none", "rotation"] = "none"
    # Further keyword options of the data module, e.g. objects or object_size for
    # segmentation (equisphere.training.datamodules).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainerConfig:
    """Passed to ``lightning.Trainer`` (see its documentation for each field)."""

    name: str = "run"
    runs_dir: str = "runs"
    seed: int = 0
    max_epochs: int = 10
    accelerator: str = "auto"
    devices: int | str | list[int] = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    # "16-mixed" and "bf16-mixed" are used only where CUDA is present.
    precision: Literal["32-true", "16-mixed", "bf16-mixed", "64-true"] = "32-true"
    progress_bar: bool = True
    log_every_n_steps: int = 10
    limit_train_batches: int | float = 1.0
    limit_val_batches: int | float = 1.0
    gradient_clip_val: float | None = None
    deterministic: bool = False
    save_top_k: int = 1


@dataclass
class OptimConfig:
    """Optimizer and learning-rate schedule."""

    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    scheduler: Literal["none", "cosine"] = "none"


@dataclass
class Config:
    """A whole training config."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


_SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "data": DataConfig,
    "trainer": TrainerConfig,
    "optim": OptimConfig,
}


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Read a YAML config file, apply ``section.key=value`` overrides, check everything.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ConfigError
        On YAML syntax errors, unknown sections or keys, values of the wrong type.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {error}") from None
    if raw is None:
        raise ConfigError(
            f"config file {str(path)!r} is empty; expected sections {', '.join(_SECTIONS)}"
        )
    try:
        config_from_dict(raw)  # the file alone, so that its own errors are named as its
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    try:
        return config_from_dict(raw, overrides)
    except ConfigError as error:
        raise ConfigError(f"command-line override: {error}") from None


def config_from_dict(raw: Mapping[str, Any], overrides: Iterable[str] = ()) -> Config:
    """Build a checked :class:`Config` from nested mappings plus overrides."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a mapping of sections at the top level, got {raw!r}")
    raw = apply_overrides(raw, overrides)
    unknown = [key for key in raw if key not in _SECTIONS]
    if unknown:
        raise ConfigError(f"unknown section {unknown[0]!r}; expected one of {', '.join(_SECTIONS)}")
    sections = {}
    for name, cls in _SECTIONS.items():
        values = raw.get(name) or {}
        if not isinstance(values, Mapping):
            raise ConfigError(f"expected section {name!r} to be a mapping, got {values!r}")
        sections[name] = _build_section(cls, name, values)
    config = Config(**sections)
    _check_ranges(config)
    return config


# (section, key) -> (smallest allowed value, whether the bound itself is allowed)
_LOWER_BOUNDS: dict[tuple[str, str], tuple[float, bool]] = {
    ("data", "bandwidth"): (1, True),
    ("data", "train_size"): (1, True),
    ("data", "test_size"): (1, True),
    ("data", "val_size"): (0, True),
    ("data", "val_fraction"): (0, True),
    ("data", "batch_size"): (1, True),
    ("data", "num_workers"): (0, True),
    ("trainer", "max_epochs"): (1, True),
    ("trainer", "num_nodes"): (1, True),
    ("trainer", "log_every_n_steps"): (1, True),
    ("trainer", "save_top_k"): (-1, True),
    ("optim", "lr"): (0, True),
    ("optim", "weight_decay"): (0, True),
    ("optim", "momentum"): (0, True),
}


def _check_ranges(config: Config) -> None:
    for (section, key), (bound, inclusive) in _LOWER_BOUNDS.items():
        value = getattr(getattr(config, section), key)
        if value is None:
            continue
        if not math.isfinite(value) or value < bound or (value == bound and not inclusive):
            relation = ">=" if inclusive else ">"
            raise ConfigError(f"expected {section}.{key} {relation} {bound}, got {value!r}")
    if config.data.val_fraction >= 1:
        raise ConfigError(f"expected data.val_fraction below 1, got {config.data.val_fraction!r}")
    if config.optim.momentum >= 1:
        raise ConfigError(f"expected optim.momentum below 1, got {config.optim.momentum!r}")


def apply_overrides(raw: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A deep copy of ``raw`` with each ``a.b.c=value`` set (``value`` read as YAML)."""
    result = _deep_copy(raw)
    for override in overrides:
        key, sep, text = override.partition("=")
        path = key.strip().split(".")
        if not sep or len(path) < 2 or not all(path):
            raise ConfigError(
                f"expected an override of the form section.key=value, got {override!r}"
            )
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        node = result
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"cannot set {key!r}: {part!r} holds {child!r}, not a mapping")
            node = child
        node[path[-1]] = value
    return result


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain nested dict of ``config`` (YAML-serialisable)."""
    return dataclasses.asdict(config)


def save_config(config: Config, path: str | Path) -> None:
    """Write ``config`` as YAML; refuses to overwrite an existing file."""
    path = Path(path)
    with path.open("x") as file:
        yaml.safe_dump(config_to_dict(config), file, sort_keys=False)


def _build_section(cls: type, section: str, values: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in hints:
            raise ConfigError(
                f"unknown key {key!r} in section {section!r}; expected one of {', '.join(names)}"
            )
    checked = {
        key: _check_value(value, hints[key], f"{section}.{key}") for key, value in values.items()
    }
    return cls(**checked)


def _check_value(value: Any, annotation: Any, where: str) -> Any:
    """``value`` converted to ``annotation`` where that is lossless, else ``ConfigError``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"expected {where} to be one of {choices}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in args:
            try:
                return _check_value(value, option, where)
            except ConfigError as error:
                errors.append(error)
        names = " or ".join(_type_name(a) for a in args)
        raise ConfigError(f"expected {where} to be {names}, got {value!r}")
    if annotation is type(None):
        if value is not None:
            raise ConfigError(f"expected {where} to be null, got {value!r}")
        return value
    if annotation is Any:
        return value
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected {where} to be a mapping, got {value!r}")
        return dict(value)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"expected {where} to be a list, got {value!r}")
        return [_check_value(item, args[0], f"{where}[{i}]") for i, item in enumerate(value)]
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"expected {where} to be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"expected {where} to be an integer, got {value!r}")
        return value
    if annotation is float:
        # YAML 1.1 reads "1e-3" as a string; accept anything float() reads exactly.
        if isinstance(value, bool):
            raise ConfigError(f"expected {where} to be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"expected {where} to be a number, got {value!r}") from None
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"expected {where} to be a string, got {value!r}")
        return value
    raise TypeError(f"config field {where} has an unsupported annotation {annotation!r}")


def _type_name(annotation: Any) -> str:
    if annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    if origin is not None:
        return getattr(origin, "__name__", str(annotation))
    return getattr(annotation, "__name__", str(annotation))


def _deep_copy(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in raw.items()}
