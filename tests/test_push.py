"""The WebSocket push loop: a change reaches every client cheaply, and a quiet feed is still sent again."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from roomctl.api import core_routes, push
from tests.conftest import LiveRoom

CLIENTS = 5
CHANGES = 10
WS_WAIT_SECONDS = 30


async def _connect(live_room: LiveRoom, count: int) -> list[Any]:
    url = live_room.url.replace("http", "ws") + f"/ws?delta=true&token={live_room.tokens['kiosk']}"
    sockets = [await websockets.connect(url) for _ in range(count)]
    for socket in sockets:
        await socket.recv()  # the state on connect
    return sockets


async def test_a_change_reaches_every_client_without_a_timer_per_client(live_room: LiveRoom) -> None:
    part = live_room.room.screen.claim("test_counter", owner="test")
    sockets = await _connect(live_room, CLIENTS)
    loop = asyncio.get_running_loop()
    scheduled: list[float] = []
    call_at = loop.call_at

    def counting_call_at(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        scheduled.append(when)
        return call_at(when, callback, *args, **kwargs)

    try:
        async with asyncio.timeout(WS_WAIT_SECONDS):  # scheduled before counting starts
            loop.call_at = counting_call_at  # type: ignore[method-assign]
            for n in range(CHANGES):
                part.set({"n": n})
                for socket in sockets:
                    while json.loads(await socket.recv())["delta"].get("test_counter") != {"n": n}:
                        pass
    finally:
        loop.call_at = call_at  # type: ignore[method-assign]
        for socket in sockets:
            await socket.close()
    # One timeout per wait schedules at least CLIENTS * CHANGES timers (51 here before); the loops' own timers
    # are rescheduled only when they fire, every RECHECK_SECONDS (a few each even on a slow machine).
    assert len(scheduled) < CLIENTS * CHANGES // 2, f"{len(scheduled)} timers for {CHANGES} changes to {CLIENTS} clients"


async def test_a_quiet_feed_is_sent_again_and_then_the_change(
    live_room: LiveRoom, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core_routes, "WS_PING_SECONDS", 0.3)
    monkeypatch.setattr(push, "RECHECK_SECONDS", 0.2)
    part = live_room.room.screen.claim("test_quiet", owner="test")
    (socket,) = await _connect(live_room, 1)
    try:
        version = live_room.room.screen.version
        async with asyncio.timeout(WS_WAIT_SECONDS):
            again = json.loads(await socket.recv())
        assert again["version"] == version and again["delta"] == {}, "nothing changed: the same version, no parts"
        part.set({"quiet": False})
        async with asyncio.timeout(WS_WAIT_SECONDS):
            while "test_quiet" not in (message := json.loads(await socket.recv()))["delta"]:
                pass
        assert message["delta"]["test_quiet"] == {"quiet": False}
        assert message["version"] == live_room.room.screen.version
    finally:
        await socket.close()
