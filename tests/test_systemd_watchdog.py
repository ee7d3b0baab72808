"""The systemd watchdog: READY=1 once the room runs, WATCHDOG=1 only while the event queue moves.

systemd is not PID 1 here, so the test plays systemd's part: it binds the notify socket itself (a real
AF_UNIX datagram socket, as systemd does) and reads what the service sends.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from roomctl.config import load_settings
from roomctl.core.events import Event
from roomctl.core.room import Room
from roomctl.ops.watchdog import SystemdWatchdog, watchdog_interval
from roomctl.store import open_database

WATCHDOG_USEC = 200_000  # pings every 0.1 s


@dataclass(frozen=True)
class Hang(Event):
    """An event whose handler blocks."""


@pytest.fixture()
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.setblocking(False)
    yield sock
    sock.close()


def _room(tmp_path: Path) -> Room:
    settings = load_settings(None, overrides={"storage": {"data_dir": str(tmp_path / "data")}})
    return Room(settings, open_database(settings.storage.database_path))


def _drain(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


@pytest.fixture(autouse=True)
def _no_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def under_systemd(tmp_path: Path, notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch) -> socket.socket:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
    return notify_socket


async def test_ready_then_pings_then_stopping(tmp_path: Path, under_systemd: socket.socket) -> None:
    notify_socket = under_systemd
    room = _room(tmp_path)
    watchdog = SystemdWatchdog(room)
    room.add_service(watchdog)
    await room.start()
    try:
        first = _drain(notify_socket)
        assert first and first[0].startswith("READY=1")
        assert "STATUS=room hq/room1 running" in first[0]
        await asyncio.sleep(0.55)
        pings = _drain(notify_socket)
        assert pings.count("WATCHDOG=1") >= 3
    finally:
        await room.stop()
    assert _drain(notify_socket)[-1] == "STOPPING=1"


async def test_a_blocked_event_queue_stops_the_pings(tmp_path: Path, under_systemd: socket.socket) -> None:
    notify_socket = under_systemd
    room = _room(tmp_path)
    release = asyncio.Event()

    async def hang(_: Hang) -> None:
        await release.wait()

    room.on(Hang, hang)
    watchdog = SystemdWatchdog(room)
    room.add_service(watchdog)
    await room.start()
    try:
        await asyncio.sleep(0.35)
        assert "WATCHDOG=1" in _drain(notify_socket)
        room.post(Hang())
        await asyncio.sleep(0.15)  # a ping that was under way may still land
        _drain(notify_socket)
        await asyncio.sleep(0.6)
        assert "WATCHDOG=1" not in _drain(notify_socket), "pinged while the event queue was stuck"
        assert watchdog.missed >= 2
        release.set()
        await asyncio.sleep(0.45)
        assert "WATCHDOG=1" in _drain(notify_socket), "pings did not resume once the queue moved again"
    finally:
        release.set()
        await room.stop()


async def test_a_blocked_loop_stops_the_pings(tmp_path: Path, under_systemd: socket.socket) -> None:
    """A handler that blocks the loop for 0.8 s leaves a gap of that length between pings."""
    notify_socket = under_systemd
    notify_socket.setblocking(True)
    notify_socket.settimeout(0.1)
    arrivals: list[float] = []
    done = threading.Event()

    def receive() -> None:
        while not done.is_set():
            try:
                if notify_socket.recv(4096) == b"WATCHDOG=1":
                    arrivals.append(time.monotonic())
            except TimeoutError:
                continue

    receiver = threading.Thread(target=receive)
    receiver.start()
    room = _room(tmp_path)
    room.on(Hang, lambda _: time.sleep(0.8))
    room.add_service(SystemdWatchdog(room))
    await room.start()
    try:
        await asyncio.sleep(0.35)
        room.post(Hang())
        await asyncio.sleep(0.05)  # returns only after the handler let go of the loop
        await asyncio.sleep(0.35)
    finally:
        await room.stop()
        done.set()
        receiver.join()
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(arrivals) >= 4
    assert max(gaps) >= 0.7, f"pings kept coming while the loop was blocked: {gaps}"


async def test_silent_without_systemd(
    tmp_path: Path, notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
    room = _room(tmp_path)
    watchdog = SystemdWatchdog(room)
    room.add_service(watchdog)
    await room.start()
    await asyncio.sleep(0.3)
    await room.stop()
    assert not watchdog.active
    assert watchdog.pings == 0
    assert _drain(notify_socket) == []


async def test_an_unreachable_notify_socket_does_not_stop_the_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    room = _room(tmp_path)
    watchdog = SystemdWatchdog(room)
    room.add_service(watchdog)
    await room.start()
    await room.stop()
    assert not watchdog.active


def test_interval_follows_systemd() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "20000000"}, 42) == 10.0
    assert watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "42"}, 42) == 10.0
    assert watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "7"}, 42) is None
    assert watchdog_interval({}, 42) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}, 42) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}, 42) is None
