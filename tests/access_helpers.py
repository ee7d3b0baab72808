"""Helpers for the door access tests: a started room at a fixed time, taps, relay activations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from roomctl.access.decisions import Decision
from roomctl.access.events import Tap
from roomctl.access.service import AccessService
from roomctl.config import Settings
from roomctl.core.clock import Clock, ManualClock
from roomctl.core.room import Room

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_OPEN = dict.fromkeys(WEEKDAYS, "00:00-24:00")
TUESDAY_10 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
"""10:00 in Amsterdam on a Tuesday: inside the default opening hours."""
MEMBER_UID = "04A1B2C3D4E501"
OTHER_MEMBER_UID = "04A1B2C3D4E502"
FACILITATOR_UID = "04A1B2C3D4E505"
MASTER_UID = "0A0B0C0D"


def room_sections(**extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Config sections for an always-open room with a master badge and a short held-open limit."""
    sections: dict[str, dict[str, Any]] = {
        "room": {"opening_hours": ALWAYS_OPEN},
        "door": {"master_badges": [MASTER_UID], "held_open_alarm_seconds": 0.3},
        "llm": {"enabled": False},
    }
    for name, values in extra.items():
        sections.setdefault(name, {}).update(values)
    return sections


@asynccontextmanager
async def running_room(settings: Settings, *, clock: Clock | None = None, seed: bool = True) -> AsyncIterator[Room]:
    """Build (migrations, capabilities), seed like the demo, start; stop at the end."""
    from roomctl.demo import seed as seed_demo
    from roomctl.runtime import build_room

    room = build_room(settings, clock)
    if seed:
        seed_demo(room)
    await room.start()
    try:
        yield room
    finally:
        await room.stop()


def manual_clock(start: datetime = TUESDAY_10) -> ManualClock:
    """A clock at ``start``."""
    return ManualClock(start)


async def tap(room: Room, uid: Any, reader: str = "test") -> Decision:
    """Tap ``uid`` through the room's event queue and return the decision."""
    decision: Decision = await room.dispatch(Tap(source="test", uid=uid, reader=reader))
    return decision


def relay_activations(room: Room) -> int:
    """How many times the strike relay pin went high (from the mock pin's state history)."""
    pin = room.service(AccessService).door.relay.pin
    return sum(1 for state in pin.states[1:] if state.state)


def audit_rows(room: Room, kind: str | None = None) -> list[dict[str, Any]]:
    """Audit rows, oldest first."""
    sql = "select * from audit" + (" where kind = ?" if kind else "") + " order by id"
    return [dict(r) for r in room.db.query(sql, [kind] if kind else [])]


def advance(clock: Any, seconds: float) -> None:
    """Move a ManualClock on."""
    assert isinstance(clock, ManualClock)
    clock.advance(seconds)


def later(instant: datetime, **delta: float) -> datetime:
    """``instant`` plus a timedelta."""
    return instant + timedelta(**delta)


def component(room: Room, name: str) -> dict[str, Any]:
    """One component of the room's health report."""
    components: dict[str, dict[str, Any]] = room.health.report()["components"]  # type: ignore[assignment]
    return components[name]
