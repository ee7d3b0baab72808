"""``roomctl doctor``: is this room able to work, and if not, what to do about it.

Each check says what it found and, when something is wrong, how to fix it. Critical checks (configuration,
database, GPIO, the clock) make the exit status non-zero: without them the door cannot decide or open. The
others (broker, reader, audio, speech model, live captions, LLM key) degrade the room but leave the door working.
The live-captions check runs a 10-second self-test clip through the configured model (10 to 60 s).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from roomctl.config import DEFAULT_CONFIG_PATH, Settings, load_settings
from roomctl.errors import RoomctlError

BROKER_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Finding:
    """The outcome of one check."""

    name: str
    ok: bool
    message: str
    critical: bool = False


def _check(name: str, critical: bool, fn: Callable[[], str]) -> Finding:
    try:
        return Finding(name, True, fn(), critical)
    except RoomctlError as exc:
        return Finding(name, False, exc.detail, critical)
    except Exception as exc:  # a check that crashes is a finding, not a crash of the doctor
        return Finding(name, False, f"{type(exc).__name__}: {exc}", critical)


def _database(settings: Settings) -> str:
    from roomctl.store import open_database
    from roomctl.store.migrations import applied

    path = settings.storage.database_path
    db = open_database(path)
    return f"{path} is usable ({len(applied(db))} migrations applied)"


def _broker(settings: Settings) -> str:
    if not settings.mqtt.enabled:
        return "MQTT is disabled in the configuration; other rooms and Home Assistant will not see this room"
    try:
        with socket.create_connection((settings.mqtt.host, settings.mqtt.port), timeout=BROKER_TIMEOUT_SECONDS):
            pass
    except OSError as exc:
        raise RoomctlError(
            f"no MQTT broker at {settings.mqtt.host}:{settings.mqtt.port} ({exc.strerror or exc}); "
            "start mosquitto (`systemctl start mosquitto`) or fix [mqtt] host/port"
        ) from None
    return f"broker reachable at {settings.mqtt.host}:{settings.mqtt.port}"


def _gpio(settings: Settings) -> str:
    from roomctl.access.gpio import make_pin_factory

    factory = make_pin_factory(settings.gpio)
    kind = type(factory).__name__
    if settings.gpio.factory == "mock":
        return f'{kind}: every pin is simulated (set [gpio] factory = "lgpio" on the Pi)'
    factory.close()
    return f"{kind} opened the GPIO chip"


def _speech_model(settings: Settings) -> str:
    from roomctl.speech.models import resolve_model

    return f"model {settings.speech.model} at {resolve_model(settings)}"


def _live_captions(settings: Settings) -> str:
    """Run the 10-second self-test clip through the configured model: will live captions keep up here?"""
    from roomctl.speech.selftest import run_selftest

    result = run_selftest(settings)
    if result.enabled and not result.keeps_up:
        raise RoomctlError(result.summary)
    return result.summary


def _llm_key(settings: Settings) -> str:
    from roomctl.secrets import read_secret

    provider = settings.llm.provider
    if provider != "anthropic":
        found = "a key is set (not shown)" if read_secret("openai_api_key") else "no key (a LAN server usually needs none)"
        return f"proposals from the {provider} provider at {settings.llm.base_url or 'its default'}: {found}"
    if read_secret("anthropic_api_key") is None:
        raise RoomctlError(
            "no Anthropic API key: proposals wait until one is set; set ROOMCTL_ANTHROPIC_API_KEY or the systemd "
            "credential anthropic_api_key"
        )
    return "an Anthropic API key is set (not shown)"


def _audio(settings: Settings) -> str:
    if settings.speech.source == "simulated":
        return "simulated audio source (WAV files): no microphone needed"
    from roomctl.ops.pi_checks import check_audio

    _, ok, message = check_audio()
    if not ok:
        raise RoomctlError(message)
    return message


def findings(settings: Settings) -> list[Finding]:
    """Every check for ``settings`` (the configuration itself was checked by loading it)."""
    from roomctl.access.secure.keys import describe_master_key
    from roomctl.ops.pi_checks import check_clock, check_disk, check_display, check_keypad, check_reader

    result = [
        _check("database", True, lambda: _database(settings)),
        _check("gpio", True, lambda: _gpio(settings)),
        _check("broker", False, lambda: _broker(settings)),
        _check("audio", False, lambda: _audio(settings)),
        _check("speech model", False, lambda: _speech_model(settings)),
        _check("live captions", False, lambda: _live_captions(settings)),
        _check("llm key", False, lambda: _llm_key(settings)),
        _check("badge master key", False, lambda: describe_master_key(settings)),
    ]
    for check, critical in ((check_clock, True), (check_disk, True), (check_reader, False)):
        name, ok, message = check(settings)
        result.append(Finding(name, ok, message, critical))
    keypad = check_keypad(settings)
    if keypad is not None:
        result.append(Finding(*keypad, False))
    name, ok, message = check_display()
    result.append(Finding(name, ok, message, False))
    return result


def run_doctor(config: Path | None) -> int:
    """Print every finding; return 0 when the room can work, 1 when it cannot."""
    if config is None and DEFAULT_CONFIG_PATH.exists():
        config = DEFAULT_CONFIG_PATH
    try:
        settings = load_settings(config)
    except RoomctlError as exc:
        click.echo(f"FAIL  config: {exc.detail}")
        return 1
    click.echo(f"ok    config: {config or 'built-in defaults'} is valid")
    all_findings = findings(settings)
    for finding in all_findings:
        label = "ok  " if finding.ok else ("FAIL" if finding.critical else "warn")
        click.echo(f"{label}  {finding.name}: {finding.message}")
    failed = [f for f in all_findings if f.critical and not f.ok]
    if failed:
        click.echo(f"the room cannot work: fix {', '.join(f.name for f in failed)}")
        return 1
    click.echo("the room can work" + ("" if all(f.ok for f in all_findings) else " (with the warnings above)"))
    return 0
