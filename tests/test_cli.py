"""The command line: every command has help; bad input ends in one clear sentence and a non-zero exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from roomctl.cli import cli

ROOMCTL = [sys.executable, "-m", "roomctl"]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ROOMCTL, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def assert_one_clear_sentence(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr + result.stdout
    message = result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in message, message


def test_every_command_has_help() -> None:
    def walk(group: object, prefix: str) -> list[str]:
        missing = []
        for name, command in getattr(group, "commands", {}).items():
            if not (command.help or command.short_help):
                missing.append(f"{prefix} {name}")
            missing.extend(walk(command, f"{prefix} {name}"))
        return missing

    assert walk(cli, "roomctl") == []
    assert {"demo", "serve", "init", "doctor", "models", "tap", "token", "videoframes"} <= set(cli.commands)


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    result = run("init", "-c", "roomctl.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "roomctl.toml").read_text().startswith("# roomctl configuration")
    again = run("init", "-c", "roomctl.toml", cwd=tmp_path)
    assert_one_clear_sentence(again, "exists already", "--force")


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "roomctl.toml"
    path.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n[mqtt]\nenabled = false\n{extra}')
    return path


def test_invalid_config(tmp_path: Path) -> None:
    path = _config(tmp_path, "[door]\nunlock_seconds = -1\n")
    assert_one_clear_sentence(run("serve", "-c", str(path), cwd=tmp_path), "door.unlock_seconds = -1", "greater than 0")


def test_unknown_role(tmp_path: Path) -> None:
    path = _config(tmp_path)
    result = run("token", "create", "--role", "wizard", "-c", str(path), cwd=tmp_path)
    assert_one_clear_sentence(result, "unknown role 'wizard'", "admin, facilitator")


def test_token_is_printed_once_and_only_its_hash_stored(tmp_path: Path) -> None:
    path = _config(tmp_path)
    result = run("token", "create", "--role", "kiosk", "--label", "beamer", "-c", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("rct_")
    listing = run("token", "list", "-c", str(path), cwd=tmp_path)
    assert "kiosk" in listing.stdout and "beamer" in listing.stdout and token not in listing.stdout
    assert token.encode() not in (tmp_path / "data" / "roomctl.db").read_bytes()


def test_port_already_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = _config(tmp_path, f"[server]\nport = {port}\n")
        assert_one_clear_sentence(run("serve", "-c", str(path), cwd=tmp_path), f"port {port}", "already in use")


def test_database_that_is_not_sqlite(tmp_path: Path) -> None:
    path = _config(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "roomctl.db").write_text("not a database\n" * 200)
    assert_one_clear_sentence(run("serve", "-c", str(path), cwd=tmp_path), "not a usable SQLite database")


def test_missing_mosquitto_binary(tmp_path: Path) -> None:
    result = run("demo", "--dir", "var", "--port", "0", cwd=tmp_path, env={"ROOMCTL_MOSQUITTO": str(tmp_path / "nope")})
    assert_one_clear_sentence(result, "not an executable mosquitto broker")


def test_tap_without_a_running_demo(tmp_path: Path) -> None:
    assert_one_clear_sentence(run("tap", "04A1B2C3", cwd=tmp_path), "no running demo found")


@pytest.mark.parametrize("broken", ["", "[storage]\ndata_dir = 5\n"])
def test_doctor_reports_and_fails_when_the_room_cannot_work(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "roomctl.toml"
    path.write_text(broken or f'[storage]\ndata_dir = "{tmp_path / "data"}"\n[gpio]\nfactory = "lgpio"\n')
    result = run("doctor", "-c", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "FAIL" in result.stdout


def test_doctor_passes_a_working_simulated_room(tmp_path: Path) -> None:
    result = run("doctor", "-c", str(_config(tmp_path)), cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    for name in ("config", "database", "gpio", "broker", "audio", "speech model", "llm key", "clock", "disk"):
        assert f"  {name}:" in result.stdout
    assert "the room can work" in result.stdout
