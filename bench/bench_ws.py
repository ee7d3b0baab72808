"""Tablet command → kiosk update latency with many WebSocket clients connected.

Serves a seeded room with real uvicorn on a free port, starts a session, connects ``--clients`` WebSocket clients
to ``/ws`` (kiosk and facilitator tokens, as projector, player and tablets would), then sends ``--commands``
tablet commands (``next`` and ``previous`` in turn) over HTTP. For every command it measures, per client, the
time from sending the command to receiving the screen state that shows the new step, and prints p50/p99 over
all (client, command) pairs, and of the slowest client per command. With ``--captions`` the brainstorm is
being recorded meanwhile (Dutch espeak-ng speech through the simulated microphone, the ``base`` model, live
captions on): every caption update is one more screen state for every client.

    .venv/bin/python bench/bench_ws.py [--clients 50] [--commands 40] [--captions]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from websockets.asyncio.client import ClientConnection, connect

from roomctl.config import load_settings
from roomctl.devices.broker import free_port
from roomctl.speech.models import model_dir
from tests.conftest import LiveRoom, serving
from tests.speech_helpers import DUTCH_TEXT, DUTCH_VOICE, installed_model, speech_file

SETTLE_SECONDS = 0.05
"""Pause between commands, so each one is measured on its own."""
TIMEOUT_SECONDS = 10.0
"""Longest wait for a client to see a command's result."""
CAPTIONS_TIMEOUT_SECONDS = 120.0
"""Longest wait for the first live captions (the worker loads the model first)."""


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def wait_for_index(ws: ClientConnection, index: int, started: float) -> float:
    """Seconds from ``started`` until ``ws`` receives a screen state whose session is at ``index``."""
    while True:
        snapshot = json.loads(await ws.recv())
        session = snapshot.get("session") or {}
        if session.get("index") == index:
            return time.perf_counter() - started


async def record_with_captions(http: httpx.AsyncClient, live: LiveRoom) -> None:
    """Consent and start recording; return once the live captions show words."""
    (await http.post("/api/v1/session/recording/consent", json={})).raise_for_status()
    (await http.post("/api/v1/session/recording/start")).raise_for_status()
    deadline = time.perf_counter() + CAPTIONS_TIMEOUT_SECONDS
    while not (live.room.screen.get("captions") or {}).get("tentative"):
        if time.perf_counter() > deadline:
            raise SystemExit("no live captions appeared; is the base model installed (roomctl models install base)?")
        await asyncio.sleep(0.2)


async def run(clients: int, commands: int, captions: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="roomctl-bench-ws-") as tmp:
        overrides: dict[str, Any] = {"storage": {"data_dir": Path(tmp)}, "mqtt": {"enabled": False},
                                     "server": {"port": free_port()}}  # fmt: skip
        if captions:
            wav = speech_file(DUTCH_TEXT * 6, Path(tmp) / "brainstorm.wav", DUTCH_VOICE)
            overrides["speech"] = {"model": "base", "simulated_files": [str(wav)], "live_captions": True}
        settings = load_settings(None, overrides)
        if captions:
            installed_model("base", model_dir(settings))
        async with serving(settings) as live:
            headers = live.headers("facilitator")
            async with httpx.AsyncClient(base_url=live.url, headers=headers, timeout=TIMEOUT_SECONDS) as http:
                started = await http.post("/api/v1/session/commands", json={"command": "start"})
                started.raise_for_status()
                if captions:
                    await record_with_captions(http, live)
                roles = ["kiosk", "facilitator"]
                base = live.url.replace("http", "ws", 1)
                sockets = [
                    await connect(f"{base}/ws?token={live.tokens[roles[i % 2]]}", max_size=None) for i in range(clients)
                ]
                for ws in sockets:
                    await ws.recv()  # the state on connect
                each: list[float] = []
                slowest: list[float] = []
                http_only: list[float] = []
                index = 0
                for n in range(commands):
                    name = "next" if n % 2 == 0 else "previous"
                    index = index + 1 if name == "next" else index - 1
                    t0 = time.perf_counter()
                    waits = [asyncio.create_task(wait_for_index(ws, index, t0)) for ws in sockets]
                    response = await http.post("/api/v1/session/commands", json={"command": name})
                    http_only.append(time.perf_counter() - t0)
                    response.raise_for_status()
                    latencies = await asyncio.wait_for(asyncio.gather(*waits), TIMEOUT_SECONDS)
                    each.extend(latencies)
                    slowest.append(max(latencies))
                    await asyncio.sleep(SETTLE_SECONDS)
                for ws in sockets:
                    await ws.close()
                if captions:
                    await http.post("/api/v1/session/recording/stop")
            live.room.service("session").pairing.rotate()  # a state change lets the server notice closed sockets

    def ms(value: float) -> str:
        return f"{value * 1000:7.1f} ms"

    print(f"tablet command -> kiosk update, {clients} WebSocket clients, {commands} commands"
          + (", recording with live captions" if captions else ""))  # fmt: skip
    print(f"  every client   p50 {ms(statistics.median(each))}   p99 {ms(percentile(each, 0.99))}   n={len(each)}")
    print(f"  slowest client p50 {ms(statistics.median(slowest))}   p99 {ms(percentile(slowest, 0.99))}")
    print(f"  HTTP answer    p50 {ms(statistics.median(http_only))}   p99 {ms(percentile(http_only, 0.99))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--commands", type=int, default=40)
    parser.add_argument("--captions", action="store_true", help="record with live captions meanwhile")
    args = parser.parse_args()
    asyncio.run(run(args.clients, args.commands, args.captions))


if __name__ == "__main__":
    main()
