"""The configuration: one TOML file, ROOMCTL_* overrides, clear errors, a commented default from `init`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from roomctl.config import load_settings
from roomctl.config_template import render
from roomctl.errors import ConfigError


def test_defaults_and_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "roomctl.toml"
    path.write_text('[room]\nname = "Zaal 3"\n[mqtt]\nport = 1884\n')
    settings = load_settings(path)
    assert settings.room.name == "Zaal 3"
    assert settings.mqtt.port == 1884
    assert settings.room.timezone == "Europe/Amsterdam"
    monkeypatch.setenv("ROOMCTL_MQTT__PORT", "1999")
    monkeypatch.setenv("ROOMCTL_ROOM__NAME", "Uit de omgeving")
    overridden = load_settings(path)
    assert overridden.mqtt.port == 1999
    assert overridden.room.name == "Uit de omgeving"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[mqtt]\nport = 70000\n", "mqtt.port = 70000"),
        ('[room]\ntimezone = "Mars/Olympus"\n', "room.timezone = 'Mars/Olympus'"),
        ("[room]\ncapacity = 0\n", "room.capacity = 0"),
        ('[gpio]\nfactory = "pigpio"\n', "'mock', 'lgpio' or 'auto'"),
        ("[door]\nunlok_seconds = 3\n", "door.unlok_seconds"),
        ("[nonsense]\na = 1\n", "nonsense"),
        ("[room\nname=", "not valid TOML"),
        ('[llm]\napi_key = "sk-ant-secret"\n', "secrets do not belong in the config file"),
        ('[mqtt]\npassword = "pw"\n', "secrets do not belong"),
    ],
)
def test_invalid_values_name_key_value_and_what_is_allowed(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "roomctl.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert expected in error.value.detail
    assert str(path) in error.value.detail


def test_invalid_environment_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOMCTL_SERVER__PORT", "http")
    with pytest.raises(ConfigError, match=r"server.port = 'http'"):
        load_settings()


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="roomctl init"):
        load_settings(tmp_path / "absent.toml")


def test_default_file_is_commented_and_loads_back(tmp_path: Path) -> None:
    text = render()
    assert "# IANA time zone" in text
    assert "ROOMCTL_MQTT__PORT" in text
    data = tomllib.loads(text)
    assert {"room", "server", "storage", "mqtt", "gpio", "door"} <= set(data)
    path = tmp_path / "roomctl.toml"
    path.write_text(text)
    settings = load_settings(path)
    assert settings.model_dump() == load_settings().model_dump()
