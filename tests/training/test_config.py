"""Config files: sections, strict keys, typed values, command-line overrides."""

from __future__ import annotations

import re

import pytest

from equisphere.training.config import (
    Config,
    ConfigError,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_file_values_and_overrides_reach_the_dataclasses(tmp_path):
    path = write(
        tmp_path,
        "model:\n  name: planar-cnn\n  options: {width: 12}\n"
        "data:\n  bandwidth: 10\n  train_size: 500\n"
        "optim:\n  lr: 1.0e-2\n",
    )
    config = load_config(
        path,
        [
            "optim.lr=1e-3",
            "model.options.width=20",
            "model.options.depth=2",
            "trainer.devices=2",
            "data.source=null",
            "trainer.precision=bf16-mixed",
        ],
    )
    assert config.model.options == {"width": 20, "depth": 2}
    assert config.optim.lr == 1e-3  # YAML 1.1 reads "1e-3" as text; the float field reads it
    assert config.data.bandwidth == 10 and config.data.train_size == 500
    assert config.trainer.devices == 2 and config.trainer.precision == "bf16-mixed"
    assert config.trainer.max_epochs == 10  # default kept


def test_unknown_key_names_the_section_and_the_expected_keys(tmp_path):
    path = write(tmp_path, "trainer:\n  max_epoch: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "unknown key 'max_epoch' in section 'trainer'; expected one of name, runs_dir" in message
    assert "max_epochs" in message and str(path) in message


def test_unknown_section_and_bad_values_are_rejected():
    with pytest.raises(
        ConfigError, match="unknown section 'optimizer'; expected one of model, data"
    ):
        config_from_dict({"optimizer": {}})
    with pytest.raises(ConfigError, match="expected data.bandwidth to be an integer, got '30'"):
        config_from_dict({"data": {"bandwidth": "30"}})
    with pytest.raises(
        ConfigError, match="expected data.task to be one of 'classification', 'segm"
    ):
        config_from_dict({"data": {"task": "detection"}})
    with pytest.raises(ConfigError, match="expected trainer.progress_bar to be true or false"):
        config_from_dict({}, ["trainer.progress_bar=maybe"])
    with pytest.raises(ConfigError, match="expected optim.lr to be a number, got 'fast'"):
        config_from_dict({}, ["optim.lr=fast"])
    with pytest.raises(ConfigError, match="expected trainer.gradient_clip_val to be float or null"):
        config_from_dict({"trainer": {"gradient_clip_val": [1]}})
    with pytest.raises(ConfigError, match="of the form section.key=value, got 'lr=0.1'"):
        config_from_dict({}, ["lr=0.1"])
    with pytest.raises(ConfigError, match="unknown key 'bogus' in section 'model'"):
        config_from_dict({}, ["model.bogus=1"])


def test_invalid_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "model: [unclosed\n"))
    with pytest.raises(FileNotFoundError, match="nothing.yaml"):
        load_config(tmp_path / "nothing.yaml")


def test_saved_config_round_trips_and_is_never_overwritten(tmp_path):
    config = config_from_dict({"model": {"options": {"width": 7}}}, ["trainer.devices=[0, 1]"])
    assert config.trainer.devices == [0, 1]
    save_config(config, tmp_path / "saved.yaml")
    assert load_config(tmp_path / "saved.yaml") == config
    assert config_from_dict(config_to_dict(config)) == config
    with pytest.raises(FileExistsError):
        save_config(Config(), tmp_path / "saved.yaml")
    assert load_config(tmp_path / "saved.yaml") == config


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.max_epochs=-1", "expected trainer.max_epochs >= 1, got -1"),
        ("trainer.max_epochs=0", "expected trainer.max_epochs >= 1, got 0"),
        ("optim.lr=-1", "expected optim.lr >= 0, got -1"),
        ("optim.lr=.nan", "expected optim.lr >= 0, got nan"),
        ("data.bandwidth=0", "expected data.bandwidth >= 1, got 0"),
        ("data.batch_size=0", "expected data.batch_size >= 1, got 0"),
        ("data.train_size=-5", "expected data.train_size >= 1, got -5"),
        ("data.val_fraction=1.0", "expected data.val_fraction below 1, got 1.0"),
        ("optim.momentum=1.5", "expected optim.momentum below 1, got 1.5"),
    ],
)
def test_values_out_of_range_are_rejected(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict({}, [override])


def test_empty_file_and_override_errors_are_named_as_such(tmp_path):
    with pytest.raises(ConfigError, match="is empty; expected sections model, data"):
        load_config(write(tmp_path, "# nothing but a comment\n"))
    path = write(tmp_path, "trainer:\n  max_epochs: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["trainer.max_epoch=5"])
    assert str(info.value).startswith("command-line override: unknown key 'max_epoch'")
    assert str(path) not in str(info.value)
