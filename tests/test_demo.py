"""`roomctl demo`: one command runs the whole room; Ctrl-C leaves nothing behind; a second run reuses the data."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from roomctl.config_template import render
from roomctl.devices.broker import free_port
from roomctl.devices.example import example_config

READY_LINE = "roomctl demo is running"
START_TIMEOUT = 60.0


def start_demo(folder: Path, port: int, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "roomctl", "demo", "--dir", str(folder), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=env,
    )
    lines: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("demo exited early:\n" + "".join(lines))
        lines.append(line)
        if "A guided tour" in line:
            return process, lines
    process.kill()
    raise AssertionError("demo did not get ready:\n" + "".join(lines))


def page_token(output: str, page: str) -> str:
    found = re.search(rf"/{page}#token=(rct_[A-Za-z0-9_-]+)", output)
    assert found, f"no {page} token in the banner"
    return found.group(1)


def poll(fetch: Callable[[], dict[str, Any]], timeout: float = 20.0) -> dict[str, Any]:
    """Ask the running demo (another process) until it answers something non-empty."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("the demo never answered")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def stop_demo(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    return out


def test_demo_runs_the_room_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    port = free_port()
    process, lines = start_demo(folder, port)
    try:
        output = "".join(lines)
        assert READY_LINE in output
        for page in ("/kiosk#token=rct_", "/tablet#token=rct_", "/facilities#token=rct_", "/admin#token=rct_"):
            assert page in output
        state = json.loads((folder / "demo.json").read_text())
        broker_pid = state["broker_pid"]
        assert alive(broker_pid)
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/healthz").json()["components"]["mqtt"]["status"] == "ok"
        assert httpx.get(f"{url}/kiosk").status_code == 200
        tap = subprocess.run(
            [sys.executable, "-m", "roomctl", "tap", "04A1B2C3D4E501", "--dir", str(folder)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert tap.returncode == 0, tap.stderr
        assert "granted" in tap.stdout and "Anna de Vries" not in tap.stdout, "a reader is never told whose badge it was"
        denied = subprocess.run(
            [sys.executable, "-m", "roomctl", "tap", "04DEADBEEF0000", "--dir", str(folder)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert denied.returncode != 0 and "denied: unknown" in denied.stdout

        # the demo's kiosk player plays the first step's clip and reports it back
        assert "Proposals: demo — no AI" in output and "Video player: libvlc, dummy outputs" in output
        player_pid = state["player_pid"]
        assert alive(player_pid)
        tablet = {"Authorization": "Bearer " + page_token(output, "tablet")}
        moved = httpx.post(f"{url}/api/v1/session/commands", json={"command": "next"}, headers=tablet)
        assert moved.status_code == 200 and moved.json()["step"]["clip"], moved.text

        def clip_progress() -> dict[str, Any]:
            progress = httpx.get(f"{url}/api/v1/session", headers=tablet).json().get("clip_progress") or {}
            # the player's first report may come before libvlc knows the clip's length (length_ms null)
            return progress if progress.get("length_ms") is not None or progress.get("state") == "error" else {}

        progress = poll(clip_progress)
        assert progress["state"] in ("playing", "ended") and progress["length_ms"] > 0, progress

        # a tour while this session runs is refused, and changes nothing
        refused = subprocess.run(
            [sys.executable, "-m", "roomctl", "demo", "--tour", "--dir", str(folder)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "a session is running" in refused.stderr and "end the session on the tablet" in refused.stderr
        after = httpx.get(f"{url}/api/v1/session", headers=tablet).json()
        assert after["index"] == 1 and after["id"] == moved.json()["id"]
    finally:
        out = stop_demo(process)
    assert "roomctl demo stopped" in out
    assert not alive(broker_pid), "the demo's Mosquitto outlived it"
    assert not alive(player_pid), "the demo's kiosk player outlived it"
    leftovers = subprocess.run(["pgrep", "-f", str(folder)], capture_output=True, text=True).stdout.split()
    assert leftovers == [], f"processes left behind: {leftovers}"
    assert not (folder / "demo.json").exists()

    # a second run reuses the data: same members, the first run's session and audit still there
    process, _ = start_demo(folder, port)
    try:
        import sqlite3

        db = sqlite3.connect(folder / "data" / "roomctl.db")
        assert db.execute("select count(*) from members").fetchone()[0] == 5
        assert db.execute("select count(*) from audit where kind = 'tap'").fetchone()[0] == 2
        assert db.execute("select count(*) from tokens where label = 'demo' and revoked_at is null").fetchone()[0] == 5
    finally:
        stop_demo(process)


def test_an_older_demo_folder_is_migrated_and_missing_tools_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    folder.mkdir()
    # a folder as the first demo wrote it: no version file, the example scenes without focus/presentation
    example = example_config()
    old_scenes = {k: v for k, v in example["scenes"]["scenes"].items() if k not in ("focus", "presentation")}
    old = render({
        "room": {"name": "Demo-leerruimte", "id": "demo"},
        "storage": {"data_dir": str(folder / "data")},
        "gpio": {"factory": "mock"},
        "reader": {"kind": "simulated"},
        "speech": {"source": "simulated"},
        "devices": {"entries": example["devices"]},
        "scenes": {**example["scenes"], "scenes": old_scenes},
    })  # fmt: skip
    (folder / "roomctl.toml").write_text(old, encoding="utf-8")
    # no espeak-ng and no ffmpeg on the PATH (Mosquitto stays reachable in /usr/sbin)
    env = {**os.environ, "PATH": "/usr/sbin"}
    process, lines = start_demo(folder, free_port(), env=env)
    try:
        output = "".join(lines)
        assert "migrated the demo folder from an older roomctl: added scene focus" in output
        assert "Missing espeak-ng: the simulated microphone stays silent" in output
        assert "Missing ffmpeg: the steps run without their clips" in output
        assert READY_LINE in output
    finally:
        stop_demo(process)
    with (folder / "roomctl.toml").open("rb") as handle:
        migrated = tomllib.load(handle)
    assert {"focus", "presentation", "arrival", "leave"} <= set(migrated["scenes"]["scenes"])
    assert migrated["speech"]["chunk_seconds"] == 10.0
    assert migrated["devices"] == example["devices"]
    assert (folder / "roomctl.toml.v1").read_text(encoding="utf-8") == old
    assert (folder / "demo-version").read_text().strip() == "2"
