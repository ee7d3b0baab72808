"""The room core: one loop, events handled one at a time in order, threads hand events over safely."""

from __future__ import annotations

import asyncio
import gc
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

import kiosk
import roomctl
from roomctl.config import Settings
from roomctl.core import heap
from roomctl.core.events import Event
from roomctl.core.health import ComponentHealth
from roomctl.core.room import Room
from roomctl.errors import StateError
from roomctl.store import open_database
from tests.conftest import wait_for


@dataclass(frozen=True)
class Ping(Event):
    n: int = 0


@dataclass(frozen=True)
class SlowPing(Ping):
    pass


@pytest.fixture
async def room(settings: Settings) -> Room:
    room = Room(settings, open_database(":memory:"))
    await room.start()
    yield room
    await room.stop()


async def test_events_are_handled_in_order_one_at_a_time(room: Room) -> None:
    seen: list[tuple[str, int]] = []
    active = 0

    async def handler(event: Ping) -> None:
        nonlocal active
        active += 1
        assert active == 1, "two events handled at once"
        seen.append(("start", event.n))
        await asyncio.sleep(0.001 if isinstance(event, SlowPing) else 0)
        seen.append(("end", event.n))
        active -= 1

    room.on(Ping, handler)
    for n in range(20):
        room.post(SlowPing(n=n) if n % 3 == 0 else Ping(n=n))
    await wait_for(lambda: len(seen) == 40)
    assert [n for kind, n in seen if kind == "start"] == list(range(20))


async def test_dispatch_returns_the_decision_and_raises_refusals(room: Room) -> None:
    def decide(event: Ping) -> str:
        if event.n < 0:
            raise StateError("negative")
        return f"ok {event.n}"

    room.on(Ping, decide)
    assert await room.dispatch(Ping(n=3)) == "ok 3"
    with pytest.raises(StateError):
        await room.dispatch(Ping(n=-1))
    assert await room.dispatch(Ping(n=4)) == "ok 4", "a refused event must not stop the core"


async def test_threads_hand_events_over_with_post(room: Room) -> None:
    got: list[tuple[int, int]] = []
    loop_thread = threading.get_ident()
    room.on(Ping, lambda event: got.append((event.n, threading.get_ident())))
    threads = [threading.Thread(target=room.post, args=(Ping(n=i),)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    await wait_for(lambda: len(got) == 10)
    assert {thread_id for _, thread_id in got} == {loop_thread}
    assert sorted(n for n, _ in got) == list(range(10))


async def test_a_crashing_handler_is_logged_and_the_core_goes_on(room: Room, caplog: pytest.LogCaptureFixture) -> None:
    results: list[int] = []

    def handler(event: Ping) -> None:
        if event.n == 1:
            raise RuntimeError("bug")
        results.append(event.n)

    room.on(Ping, handler)
    for n in range(3):
        room.post(Ping(n=n))
    await wait_for(lambda: results == [0, 2])
    assert "handling Ping failed" in caplog.text


async def test_health_is_down_only_when_a_critical_component_is_down(room: Room) -> None:
    state = {"door": ComponentHealth("ok"), "mqtt": ComponentHealth("ok")}
    room.health.register("door", lambda: state["door"], critical=True)
    room.health.register("mqtt", lambda: state["mqtt"])
    assert room.health.report()["status"] == "ok"
    state["mqtt"] = ComponentHealth("down", "broker gone")
    assert room.health.report()["status"] == "degraded"
    state["door"] = ComponentHealth("down", "gpio gone")
    report = room.health.report()
    assert report["status"] == "down"
    assert report["components"]["door"] == {"status": "down", "detail": "gpio gone", "critical": True}


async def test_state_store_notifies_on_change_only(room: Room) -> None:
    snapshots: list[dict[str, object]] = []
    room.screen.subscribe(snapshots.append)
    part = room.screen.claim("probe", owner="test")
    part.set({"phase": "arrival"})
    part.set({"phase": "arrival"})
    part.set({"phase": "analysis"})
    part.set(None)
    assert [s.get("probe") for s in snapshots] == [{"phase": "arrival"}, {"phase": "analysis"}, None]
    assert snapshots[-1]["version"] == room.screen.version


async def test_a_part_has_one_owner(room: Room) -> None:
    part = room.screen.claim("probe", owner="session")
    with pytest.raises(StateError, match="belongs to session"):
        room.screen.claim("probe", owner="speech")
    part.set({"n": 1})
    assert room.screen.get("probe") == {"n": 1}
    assert room.screen.owners["probe"] == "session"


def test_no_loop_waits_with_asyncio_wait_for() -> None:
    """Python 3.11's ``asyncio.wait_for`` loses a cancel that meets the awaited thing's completion (fixed in 3.12).

    A loop that waits that way can outlive its cancel: the kiosk player's report loop once hung a shutdown.
    ``asyncio.timeout`` does not have that flaw.
    """
    offenders = []
    for package in (roomctl, kiosk):
        root = Path(package.__file__).resolve().parent
        offenders += [str(path.relative_to(root.parent)) for path in root.rglob("*.py")
                      if "asyncio.wait_for(" in path.read_text(encoding="utf-8")]  # fmt: skip
    assert offenders == []


def test_a_big_load_runs_without_collections_and_ends_frozen() -> None:
    """What ``heap.loading`` builds sets off no collection on the way (each would hold the room's loop)."""
    started: list[int] = []

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(on_collection)
    try:
        before = gc.get_freeze_count()
        with heap.loading("a test load"):
            assert not gc.isenabled()
            built = [[n] for n in range(200_000)]  # with the collector on, this sets off hundreds of collections
        assert gc.isenabled()
        assert started == []
        assert gc.get_freeze_count() - before >= len(built)
    finally:
        gc.callbacks.remove(on_collection)
