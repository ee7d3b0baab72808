"""The player's WebSocket loop against a local websockets server feeding screen states and an HTTP sink."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from websockets.asyncio.server import ServerConnection, serve

from kiosk.clip_player import ClipPlayer
from kiosk.player import REPORT_PATH, ClipRequest, PlayerConfig, PlayerLoop, read_token
from tests.media_helpers import CLIP_SECONDS, sample_clip

TOKEN = "rct_test-kiosk-token"


class ReportSink:
    """A tiny HTTP server recording the JSON bodies POSTed to the player report route."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []
        self.headers: list[str] = []
        self.paths: list[str] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                sink.paths.append(self.path)
                sink.headers.append(self.headers.get("authorization", ""))
                sink.reports.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ScreenServer:
    """Serves the screen state the way roomctl's /ws does: the snapshot on connect, then every change."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] = {"version": 0}
        self.clients: set[ServerConnection] = set()
        self.paths: list[str] = []
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        self.paths.append(ws.request.path if ws.request else "")
        self.clients.add(ws)
        try:
            await ws.send(json.dumps(self.snapshot))
            await ws.wait_closed()
        finally:
            self.clients.discard(ws)

    async def push(self, clip: dict[str, Any] | None) -> None:
        self.snapshot = {"version": self.snapshot["version"] + 1, "session": {"phase": "step", "clip": clip}}
        for ws in list(self.clients):
            await ws.send(json.dumps(self.snapshot))

    async def drop_clients(self) -> None:
        for ws in list(self.clients):
            await ws.close()


@pytest.fixture
def sink() -> Iterator[ReportSink]:
    running = ReportSink()
    yield running
    running.close()


@pytest.fixture
async def screen() -> AsyncIterator[ScreenServer]:
    state = ScreenServer()
    async with serve(state.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        state.url = f"ws://127.0.0.1:{port}/ws"
        yield state


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)


def last_report(sink: ReportSink) -> dict[str, Any]:
    return sink.reports[-1] if sink.reports else {}


async def test_follows_screen_state_and_reports(sink: ReportSink, screen: ScreenServer, tmp_path: Path) -> None:
    clip = str(sample_clip())
    runner = PlayerLoop(PlayerConfig(url=sink.url, token=TOKEN, ws_url=screen.url, dummy=True))
    task = asyncio.create_task(runner.run())
    try:
        await eventually(lambda: len(screen.clients) == 1)
        assert screen.paths[0] == f"/ws?token={TOKEN}"
        assert sink.reports == [], "no clip, nothing to report"

        await screen.push({"src": clip, "state": "playing", "restart": 0, "step": "analyse"})
        await eventually(lambda: last_report(sink).get("state") == "playing" and last_report(sink)["position_ms"] > 0)
        report = last_report(sink)
        assert report["clip"] == clip and report["step"] == "analyse" and report["restart"] == 0
        assert abs(report["length_ms"] - CLIP_SECONDS * 1000) <= 100
        assert report["error"] is None

        await screen.push({"src": clip, "state": "paused", "restart": 0, "step": "analyse"})
        await eventually(lambda: last_report(sink).get("state") == "paused")
        paused_at = len(sink.reports)
        held = last_report(sink)["position_ms"]
        await asyncio.sleep(1.3)
        assert len(sink.reports) == paused_at, "a paused clip is reported once, not every second"
        assert runner.player.status().position_ms == held

        await screen.push({"src": clip, "state": "playing", "restart": 0, "step": "analyse"})
        await eventually(lambda: last_report(sink).get("state") == "ended", timeout=CLIP_SECONDS + 3)
        # Resumed where it was paused, not from the start (libvlc may report the resume at the held position
        # itself, and a 2 s clip can end before the next report a second later).
        resumed = [r for r in sink.reports[paused_at:] if r["state"] == "playing"]
        assert resumed and all(r["position_ms"] >= held for r in resumed), (held, resumed)

        await screen.push({"src": clip, "state": "playing", "restart": 1, "step": "analyse"})
        await eventually(lambda: last_report(sink).get("restart") == 1 and last_report(sink)["state"] == "playing")

        # A lost connection is re-made; the same snapshot again does not restart the clip.
        before = runner.player.status().position_ms
        await screen.drop_clients()
        await eventually(lambda: len(screen.paths) == 2 and len(screen.clients) == 1)
        await asyncio.sleep(0.3)
        assert runner.player.status().state in ("playing", "ended")
        assert runner.player.status().position_ms >= before

        await screen.push({"src": str(tmp_path / "missing.mp4"), "state": "playing", "restart": 0, "step": "probleem"})
        await eventually(lambda: last_report(sink).get("state") == "error")
        assert last_report(sink)["step"] == "probleem" and "does not exist" in last_report(sink)["error"]

        await screen.push(None)
        await eventually(lambda: runner.player.clip is None)
        assert runner.player.status().state == "idle"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert set(sink.headers) == {f"Bearer {TOKEN}"}
    assert set(sink.paths) == {REPORT_PATH}


async def test_keeps_retrying_until_roomctl_is_up(sink: ReportSink) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    later = ScreenServer()
    runner = PlayerLoop(PlayerConfig(url=sink.url, token=TOKEN, ws_url=f"ws://127.0.0.1:{port}/ws", dummy=True))
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.sleep(1.0)
        assert runner.connections == 0 and not task.done(), "a refused connection must not end the player"
        async with serve(later.handler, "127.0.0.1", port):
            await eventually(lambda: runner.connections == 1, timeout=15)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_cancel_that_meets_a_wake_up_still_ends_the_report_loop(sink: ReportSink) -> None:
    """A change and the cancel in one loop turn: Python 3.11's ``asyncio.wait_for`` returned and lost the cancel."""
    player = ClipPlayer(dummy=True)
    runner = PlayerLoop(PlayerConfig(url=sink.url, token=TOKEN, dummy=True), player=player)
    try:
        async with httpx.AsyncClient(base_url=sink.url) as http:
            task = asyncio.create_task(runner._report_loop(http))
            await asyncio.sleep(0.1)
            assert not task.done()
            runner.notify()
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=5)
            assert done == {task}, "the report loop swallowed its cancellation"
            assert task.cancelled()
    finally:
        player.close()


def test_clip_request_from_screen() -> None:
    assert ClipRequest.from_screen({"version": 3}) is None
    assert ClipRequest.from_screen({"session": {"phase": "idle"}}) is None
    assert ClipRequest.from_screen({"session": {"clip": {"state": "playing"}}}) is None
    request = ClipRequest.from_screen({"session": {"clip": {"path": "/a.mp4", "state": "paused", "restart": 2}}})
    assert request == ClipRequest("/a.mp4", playing=False, restart=2, step=None)


def test_websocket_url_and_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = PlayerConfig(url="https://room.example:8443/", token="rct_a/b")
    assert config.websocket_url() == "wss://room.example:8443/ws?token=rct_a%2Fb"
    monkeypatch.delenv("ROOMCTL_KIOSK_TOKEN", raising=False)
    monkeypatch.delenv("ROOMCTL_KIOSK_TOKEN_FILE", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(click.ClickException, match="no kiosk token"):
        read_token()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    (tmp_path / "kiosk_token").write_text("rct_from_credential\n")
    assert read_token() == "rct_from_credential"
    monkeypatch.setenv("ROOMCTL_KIOSK_TOKEN", "rct_from_env")
    assert read_token() == "rct_from_env"
