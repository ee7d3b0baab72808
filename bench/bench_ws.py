"""Tablet command → kiosk update latency with many WebSocket clients connected.

Serves a seeded room with real uvicorn on a free port, starts a session, connects ``--clients`` WebSocket clients
to ``/ws`` (kiosk and facilitator tokens, as projector, player and tablets would), then sends ``--commands``
tablet commands (``next`` and ``previous`` in turn) over HTTP. For every command it measures, per client, the
time from sending the command to receiving the screen state that shows the new step, and prints p50/p99 over
all (client, command) pairs, and of the slowest client per command.

    .venv/bin/python bench/bench_ws.py [--clients 50] [--commands 40]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from websockets.asyncio.client import ClientConnection, connect

from roomctl.config import load_settings
from roomctl.devices.broker import free_port
from roomctl.session.service import SessionService
from tests.conftest import serving

SETTLE_SECONDS = 0.05
"""Pause between commands, so each one is measured on its own."""
TIMEOUT_SECONDS = 10.0
"""Longest wait for a client to see a command's result."""


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


async def run(clients: int, commands: int) -> None:
    with tempfile.TemporaryDirectory(prefix="roomctl-bench-ws-") as tmp:
        settings = load_settings(None, {"storage": {"data_dir": Path(tmp)}, "mqtt": {"enabled": False},
                                        "server": {"port": free_port()}})  # fmt: skip
        async with serving(settings) as live:
            headers = live.headers("facilitator")
            async with httpx.AsyncClient(base_url=live.url, headers=headers, timeout=TIMEOUT_SECONDS) as http:
                started = await http.post("/api/v1/session/commands", json={"command": "start"})
                started.raise_for_status()
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
            live.room.service(SessionService).pairing.rotate()  # a state change lets the server notice closed sockets

    def ms(value: float) -> str:
        return f"{value * 1000:7.1f} ms"

    print(f"tablet command -> kiosk update, {clients} WebSocket clients, {commands} commands")
    print(f"  every client   p50 {ms(statistics.median(each))}   p99 {ms(percentile(each, 0.99))}   n={len(each)}")
    print(f"  slowest client p50 {ms(statistics.median(slowest))}   p99 {ms(percentile(slowest, 0.99))}")
    print(f"  HTTP answer    p50 {ms(statistics.median(http_only))}   p99 {ms(percentile(http_only, 0.99))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--commands", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(run(args.clients, args.commands))


if __name__ == "__main__":
    main()

