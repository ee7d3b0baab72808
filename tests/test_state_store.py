"""The state store's messages: one encoding shared by every client, whole states, and deltas that add up."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from roomctl.core.state import StateStore
from roomctl.demo import DEMO_MEMBERS
from roomctl.errors import StateError
from tests.conftest import LiveRoom, wait_for

WS_WAIT_SECONDS = 30


def applied(state: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """What a client has after ``message`` (the rule ``applyScreenMessage`` in common.js follows)."""
    if "delta" not in message:
        return message
    result = {**state, "version": message["version"]}
    for part, value in message["delta"].items():
        if value is None:
            result.pop(part, None)
        else:
            result[part] = value
    return result


def test_a_write_is_copied_and_only_a_changed_value_counts() -> None:
    store = StateStore("screen")
    part = store.claim("session", owner="session")
    view: dict[str, Any] = {"step": {"id": "intro"}, "plan": [1, 2]}
    part.set(view)
    view["step"]["id"] = "changed after the write"
    assert store.get("session") == {"step": {"id": "intro"}, "plan": [1, 2]}
    store.get("session")["plan"].append(3)
    assert part.get() == {"step": {"id": "intro"}, "plan": [1, 2]}, "a reader's copy is its own"
    part.set({"step": {"id": "intro"}, "plan": (1, 2)})
    assert store.version == 1, "the same JSON again is no change"


def test_a_value_that_is_not_json_or_a_reserved_name_is_refused() -> None:
    store = StateStore("screen")
    part = store.claim("probe", owner="test")
    with pytest.raises(StateError, match="JSON-able"):
        part.set({"when": {1, 2}})
    assert store.version == 0 and store.get("probe") is None
    for name in ("version", "delta"):
        with pytest.raises(StateError, match="messages use it"):
            store.claim(name, owner="test")


def test_every_client_gets_the_same_text_until_the_next_change() -> None:
    store = StateStore("screen")
    store.claim("room", owner="core").set({"name": "Zaal 1"})
    followers = [store.follower(delta=True) for _ in range(3)]
    first = [f.next_message() for f in followers]
    assert first[0] is first[1] is first[2]
    assert json.loads(first[0]) == {"version": 1, "room": {"name": "Zaal 1"}} == store.snapshot()
    store.claim("session", owner="session").set({"index": 1})
    second = [f.next_message() for f in followers]
    assert second[0] is second[1] is second[2]
    assert json.loads(second[0]) == {"version": 2, "delta": {"session": {"index": 1}}}
    assert json.loads(followers[0].next_message()) == {"version": 2, "delta": {}}, "nothing changed: an empty delta"


def test_deltas_add_up_to_the_whole_state_for_fast_and_slow_clients() -> None:
    store = StateStore("screen")
    room, session, captions = (store.claim(n, owner="test") for n in ("room", "session", "captions"))
    fast, slow, whole = store.follower(delta=True), store.follower(delta=True), store.follower(delta=False)
    states = {"fast": applied({}, json.loads(fast.next_message())), "slow": applied({}, json.loads(slow.next_message()))}
    changes: list[tuple[Any, Any]] = [
        (room, {"name": "Zaal 1"}), (session, {"index": 0}), (captions, {"segments": ["goedemorgen"]}),
        (session, {"index": 1}), (captions, None), (session, {"index": 2, "note": "ü"}), (captions, {"segments": []}),
        (room, None),
    ]  # fmt: skip
    for n, (part, value) in enumerate(changes):
        part.set(value)
        states["fast"] = applied(states["fast"], json.loads(fast.next_message()))
        assert states["fast"] == store.snapshot()
        if n % 3 == 2:  # the slow client misses states in between
            states["slow"] = applied(states["slow"], json.loads(slow.next_message()))
            assert states["slow"] == store.snapshot()
        assert json.loads(whole.next_message()) == store.snapshot()
    states["slow"] = applied(states["slow"], json.loads(slow.next_message()))
    assert states["slow"] == store.snapshot() == {"version": len(changes), "session": {"index": 2, "note": "ü"},
                                                  "captions": {"segments": []}}  # fmt: skip


def test_a_filtered_follower_sees_only_its_parts() -> None:
    store = StateStore("screen")
    store.claim("room", owner="core").set({"name": "Zaal 1"})
    secret = store.claim("pairing", owner="session")
    secret.set({"pin": "123456"})
    follower = store.follower(delta=True, parts={"room"})
    assert json.loads(follower.next_message()) == {"version": 2, "room": {"name": "Zaal 1"}}
    secret.set({"pin": "654321"})
    assert json.loads(follower.next_message()) == {"version": 3, "delta": {}}


async def test_watchers_hear_once_per_turn_after_the_change_that_woke_them() -> None:
    store = StateStore("screen")
    session, door = store.claim("session", owner="session"), store.claim("door", owner="access")
    heard: list[int] = []
    unwatch = store.watch(lambda: heard.append(store.version))
    session.set({"index": 1})
    door.set({"open": True})
    assert heard == [], "watchers run after the callback that changed the state, not inside it"
    await asyncio.sleep(0)
    assert heard == [2], "two changes in one turn wake a watcher once, at the newest version"
    door.set({"open": True})  # no change
    await asyncio.sleep(0)
    assert heard == [2]
    unwatch()
    session.set({"index": 2})
    await asyncio.sleep(0)
    assert heard == [2]


async def test_ws_with_delta_sends_the_whole_state_then_changed_parts(live_room: LiveRoom) -> None:
    base = live_room.url.replace("http", "ws")
    token = live_room.tokens["kiosk"]
    async with websockets.connect(f"{base}/ws?delta=true&token={token}") as socket:
        first = json.loads(await socket.recv())
        assert "delta" not in first and first["room"]
        async with httpx.AsyncClient(base_url=live_room.url) as client:
            tap = await client.post("/api/v1/door/taps", json={"uid": DEMO_MEMBERS[1][1]}, headers=live_room.headers("reader"))
            assert tap.status_code < 300
        state = first
        async with asyncio.timeout(WS_WAIT_SECONDS):
            while state.get("session") is None:
                message = json.loads(await socket.recv())
                assert "delta" in message and set(message) == {"now", "version", "delta"}
                assert "room" not in message["delta"], "an unchanged part is not sent again"
                state = applied(state, message)
        assert state["session"]["step"]["id"] == "arrival"
        screen = live_room.room.screen
        async with asyncio.timeout(WS_WAIT_SECONDS):
            while state["version"] != screen.version:
                state = applied(state, json.loads(await socket.recv()))
        assert {k: v for k, v in state.items() if k != "now"} == screen.snapshot(), "the deltas add up to the whole state"


async def test_the_pages_ask_for_deltas_and_apply_them_like_the_server_means(live_room: LiveRoom, browser: Any) -> None:
    page = await browser.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await page.goto(f"{live_room.url}/kiosk#token={live_room.tokens['kiosk']}")
    await page.wait_for_selector("[data-testid=tap-hint]")
    assert sockets and all("delta=true" in url for url in sockets)
    steps = [
        {"version": 3, "room": {"name": "Zaal 1"}, "session": {"index": 0}, "captions": {"segments": ["a"]}},
        {"version": 5, "delta": {"session": {"index": 1}}},
        {"version": 6, "delta": {"captions": None, "proposal": {"state": "writing"}}},
        {"version": 6, "delta": {}},
        {"version": 2, "room": {"name": "Zaal 2"}},  # a whole state (after a reconnect) replaces everything
    ]
    states = await page.evaluate(
        """async (steps) => {
            const { applyScreenMessage } = await import("/static/common.js");
            let state = {};
            return steps.map((message) => (state = applyScreenMessage(state, message)));
        }""",
        steps,
    )
    expected: list[dict[str, Any]] = []
    state: dict[str, Any] = {}
    for message in steps:
        state = applied(state, message)
        expected.append(state)
    assert states == expected
    assert states[2] == {"version": 6, "room": {"name": "Zaal 1"}, "session": {"index": 1}, "proposal": {"state": "writing"}}
    await page.close()


async def test_a_client_that_leaves_is_let_go_without_a_change(live_room: LiveRoom) -> None:
    screen = live_room.room.screen
    before = len(screen._watchers)
    url = live_room.url.replace("http", "ws") + f"/ws?token={live_room.tokens['kiosk']}"
    version = screen.version
    async with websockets.connect(url) as socket:
        await socket.recv()
        await wait_for(lambda: len(screen._watchers) == before + 1)
    await wait_for(lambda: len(screen._watchers) == before)
    assert screen.version == version, "nothing changed meanwhile: the push loop noticed the close itself"
