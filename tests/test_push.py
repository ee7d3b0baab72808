"""The WebSocket push loop: a change reaches every client cheaply, and a quiet feed is still sent again."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import websockets

from roomctl.api import core_routes, feeds, push
from tests.conftest import LiveRoom

CLIENTS = 5
CHANGES = 10
WS_WAIT_SECONDS = 30


async def _connect(live_room: LiveRoom, count: int, role: str = "kiosk") -> list[Any]:
    url = live_room.url.replace("http", "ws") + f"/ws?delta=true&token={live_room.tokens[role]}"
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
    url = live_room.url.replace("http", "ws") + f"/ws?delta=true&token={live_room.tokens['kiosk']}"
    socket = await websockets.connect(url)
    try:
        first = json.loads(await socket.recv())
        version = live_room.room.screen.version
        async with asyncio.timeout(WS_WAIT_SECONDS):
            again = json.loads(await socket.recv())
        assert again["version"] == version and again["delta"] == {}, "nothing changed: the same version, no parts"
        assert datetime.fromisoformat(again["now"]) - datetime.fromisoformat(first["now"]) >= timedelta(seconds=0.3), (
            "a message sent again carries the room's time then, not that of the change"
        )
        part.set({"quiet": False})
        async with asyncio.timeout(WS_WAIT_SECONDS):
            while "test_quiet" not in (message := json.loads(await socket.recv()))["delta"]:
                pass
        assert message["delta"]["test_quiet"] == {"quiet": False}
        assert message["version"] == live_room.room.screen.version
    finally:
        await socket.close()


async def test_the_clients_of_one_change_share_its_room_time_and_each_callers_scope(
    live_room: LiveRoom, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feeds, "SHARE_SECONDS", WS_WAIT_SECONDS)  # however slow this machine sends
    scopes: list[Any] = []
    compute_scope = feeds.compute_scope

    def counting(room: Any, principal: Any) -> Any:
        scopes.append(principal)
        return compute_scope(room, principal)

    monkeypatch.setattr(feeds, "compute_scope", counting)
    part = live_room.room.screen.claim("test_shared", owner="test")
    tablets, projectors = await _connect(live_room, CLIENTS, "facilitator"), await _connect(live_room, CLIENTS)
    try:
        for n in range(3):
            scopes.clear()
            part.set({"n": n})
            seen = []
            async with asyncio.timeout(WS_WAIT_SECONDS):
                for socket in tablets + projectors:
                    while "test_shared" not in (message := json.loads(await socket.recv()))["delta"]:
                        pass
                    seen.append(message)
            assert all(m["delta"]["test_shared"] == {"n": n} for m in seen)
            assert len({m["now"] for m in seen}) == 1, "every client of one change gets the same room time"
            assert len(scopes) == 1, f"the tablets' token was checked {len(scopes)} times for one change"
    finally:
        for socket in tablets + projectors:
            await socket.close()
