"""Helpers for the session tests: a seeded room on a ManualClock, and a videoframe with a clip-led step and a
break, installed from a generated package."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from roomctl.access.events import AccessGranted
from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.core.room import Room
from roomctl.demo import seed
from roomctl.runtime import build_room
from roomctl.session.events import SessionCommand
from roomctl.session.service import SessionService
from tests.media_helpers import base_manifest, sample_clip, write_package

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""A Monday morning: the ManualClock's start."""

MIXED_ID = "gemengd"
"""The videoframe of :func:`mixed_manifest`."""


def mixed_manifest() -> dict[str, Any]:
    """Intro clip (custom, clip-led), a one-minute break, an analysis step with a clip, a proposal, a validation."""
    return base_manifest(
        id=MIXED_ID,
        steps=[
            {"id": "intro", "kind": "custom", "title": {"nl": "Intro", "en": "Intro"}, "clip": "clips/a.mp4",
             "questions": [], "suggested_minutes": 2},
            {"id": "pauze", "kind": "break", "title": {"nl": "Pauze", "en": "Break"}, "suggested_minutes": 1},
            {"id": "analyse", "kind": "analysis", "title": {"nl": "Analyse", "en": "Analysis"},
             "clip": "clips/a.mp4", "questions": ["q1", "q2"], "suggested_minutes": 10},
            {"id": "voorstel", "kind": "proposal", "title": {"nl": "Voorstel", "en": "Proposal"},
             "questions": ["q8"], "suggested_minutes": 5},
            {"id": "validatie", "kind": "validation", "title": {"nl": "Validatie", "en": "Validation"},
             "questions": ["q9"], "suggested_minutes": 5},
        ],
    )  # fmt: skip


def install_mixed(room: Room, tmp: Path) -> None:
    """Install the mixed videoframe in the room's library."""
    package = write_package(tmp / "mixed-package", mixed_manifest(), {"clips/a.mp4": sample_clip()})
    session(room).library.install(package)


def session(room: Room) -> SessionService:
    """The room's session service."""
    service: SessionService = room.service(SessionService)
    return service


def group_id(room: Room) -> int:
    """The demo group's id."""
    return int(room.db.execute("select id from groups order by id limit 1").fetchone()[0])


def member_ids(room: Room) -> list[int]:
    """The demo members' ids."""
    return [int(r[0]) for r in room.db.execute("select id from members order by id").fetchall()]


async def command(room: Room, name: str, **args: Any) -> dict[str, Any]:
    """Dispatch a session command as the tablet would."""
    view: dict[str, Any] = await room.dispatch(SessionCommand(source="test", command=name, args=args))
    return view


async def arrive(room: Room, member: int | None = None) -> None:
    """A member of the demo group is let in (the access capability's event)."""
    member = member or member_ids(room)[0]
    await room.dispatch(AccessGranted(source="test", member_id=member, group_id=group_id(room), booking_id=None, first=True))


@asynccontextmanager
async def running_room(settings: Settings, clock: ManualClock, *, seeded: bool = True) -> AsyncIterator[Room]:
    """A room on ``clock``, started and stopped around the block."""
    room = build_room(settings, clock)
    if seeded:
        seed(room)
    await room.start()
    try:
        yield room
    finally:
        await room.stop()
