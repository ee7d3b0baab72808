"""`roomctl demo`: one command runs the whole room; Ctrl-C leaves nothing behind; a second run reuses the data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from roomctl.devices.broker import free_port

READY_LINE = "roomctl demo is running"
START_TIMEOUT = 60.0


def start_demo(folder: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "roomctl", "demo", "--dir", str(folder), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("demo exited early:\n" + "".join(lines))
        lines.append(line)
        if "MQTT broker:" in line:
            return process, lines
    process.kill()
    raise AssertionError("demo did not get ready:\n" + "".join(lines))


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
        assert "granted" in tap.stdout and "Anna de Vries" in tap.stdout
        denied = subprocess.run(
            [sys.executable, "-m", "roomctl", "tap", "04DEADBEEF0000", "--dir", str(folder)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert denied.returncode != 0 and "denied: unknown" in denied.stdout
    finally:
        out = stop_demo(process)
    assert "roomctl demo stopped" in out
    assert not alive(broker_pid), "the demo's Mosquitto outlived it"
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
