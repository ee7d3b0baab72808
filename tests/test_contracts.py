"""The contracts between capabilities: explicit wiring, typed services and events, one owner per part."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pkgutil
import re
import typing
from datetime import timedelta
from pathlib import Path

import pytest

import roomctl
from roomctl.api.app import create_app
from roomctl.booking.repository import BookingRepository
from roomctl.booking.service import BookingService
from roomctl.config import Settings
from roomctl.core.clock import ManualClock, RunningClock
from roomctl.core.events import Event
from roomctl.core.room import Room
from roomctl.demo import seed
from roomctl.errors import StateError
from roomctl.facilities.service import FacilitiesService
from roomctl.runtime import API_PREFIX, CAPABILITIES, build_room, capability_name
from roomctl.session.events import SessionEnded, SessionStarted, StepChanged
from roomctl.session.service import SessionService
from roomctl.store.migrations import all_migrations
from tests.clock_helpers import INSTANTS
from tests.session_helpers import command, group_id, running_room

ROOMCTL = Path(roomctl.__file__).resolve().parent

SCREEN_OWNERS = {
    "room": "core",
    "devices": "devices",
    "booking": "booking",
    "door": "access",
    "alarms": "access",
    "session": "session",
    "pairing": "session",
    "continuity": "session",
    "resources": "session",
    "guests": "session",
    "recording": "speech",
    "captions": "speech",
    "proposal": "proposal",
    "proposal_writer": "proposal",
}
"""Every part of the screen state and the capability that writes it."""

STATUS_OWNERS = {
    "devices": "devices",
    "occupancy": "booking",
    "next_booking": "booking",
    "door": "access",
    "alarms": "access",
    "phase": "session",
    "recording": "speech",
    "heartbeat": "facilities",
}
"""Every part of the room status (published on MQTT) and the capability that writes it."""


def test_capabilities_are_modules_exporting_install_router_and_migrations() -> None:
    names = [capability_name(c) for c in CAPABILITIES]
    assert names == ["devices", "booking", "access", "session", "speech", "proposal", "facilities", "trajectory", "ops"]
    for capability in CAPABILITIES:
        assert callable(capability.install)
        assert capability.router is None or capability.router.prefix == "", "routers are mounted under /api/v1 once"
        assert isinstance(capability.MIGRATIONS, list)
    from roomctl.store import schema

    expected = [m.name for m in schema.MIGRATIONS] + [m.name for c in CAPABILITIES for m in c.MIGRATIONS]
    assert [m.name for m in all_migrations()] == expected
    for migration in all_migrations():
        prefix = migration.name.split("_")[0]
        assert prefix in {*names, "core"}, f"{migration.name} is not named after its capability"


def test_every_part_has_the_one_owner_it_is_documented_with(settings: Settings) -> None:
    room = build_room(settings, ManualClock(INSTANTS["midday"]))
    assert room.screen.owners == SCREEN_OWNERS
    assert room.status.owners == STATUS_OWNERS
    for store, owners in ((room.screen, SCREEN_OWNERS), (room.status, STATUS_OWNERS)):
        for part, owner in owners.items():
            intruder = "facilities" if owner != "facilities" else "booking"
            with pytest.raises(StateError, match=f"belongs to {owner}"):
                store.claim(part, owner=intruder)


def test_a_service_is_found_by_its_type(settings: Settings) -> None:
    room = build_room(settings, ManualClock(INSTANTS["midday"]))
    booking: BookingService = room.service(BookingService)
    assert isinstance(booking, BookingService)
    assert room.find_service(SessionService) is room.service(SessionService)
    bare = Room(settings, room.db)
    with pytest.raises(StateError, match="BookingService is not running"):
        bare.service(BookingService)
    assert bare.find_service(BookingService) is None


def _event_classes() -> list[type[Event]]:
    found: list[type[Event]] = []
    for module in pkgutil.walk_packages([str(ROOMCTL)], "roomctl."):
        if module.name.endswith(".events"):
            mod = importlib.import_module(module.name)
            found += [c for c in vars(mod).values() if isinstance(c, type) and issubclass(c, Event) and c is not Event]
    return found


TEXT_IDS = frozenset({"step_id", "question_id"})
"""Ids that are names from a videoframe or the kader (``brainstorm``, ``q3``); every other id is a row's integer."""


def test_an_id_has_one_type_in_every_event() -> None:
    classes = _event_classes()
    assert len(classes) > 10
    types: dict[str, set[object]] = {}
    for cls in classes:
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            if field.name.endswith("_id"):
                bare = {a for a in typing.get_args(hints[field.name]) if a is not type(None)} or {hints[field.name]}
                types.setdefault(field.name, set()).update(bare)
    assert "session_id" in types and "group_id" in types
    for name, found in types.items():
        assert found == ({str} if name in TEXT_IDS else {int}), f"{name} has the types {found}"


def test_no_capability_reaches_another_by_name_or_through_a_screen_part() -> None:
    offenders = []
    for path in ROOMCTL.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"\.service\(\s*[\"']", r"services\.get\(", r"\.screen\.get\(", r"\.status\.get\(",
                        r"APIRouter\([^)]*prefix="):  # fmt: skip
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(ROOMCTL)}: {pattern}")
    assert offenders == []


PROPOSAL_MAY_IMPORT = frozenset({
    "roomctl.booking.service", "roomctl.session.service", "roomctl.session.guests", "roomctl.session.events",
    "roomctl.speech.service", "roomctl.devices.bus",
})  # fmt: skip
"""What the proposal capability, which decides what text leaves the room, may import from other capabilities:
their services (``GuestService`` lives in ``session.guests``), their events, and the bus its ``install`` takes."""


def test_the_proposal_capability_reaches_the_others_only_through_their_services_and_events() -> None:
    others = {capability_name(c) for c in CAPABILITIES} - {"proposal"}
    reached = set()
    for path in (ROOMCTL / "proposal").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            reached |= {(path.name, n) for n in names if n.split(".")[:2] in [["roomctl", o] for o in others]}
    assert reached, "the proposal capability asks the others for names and transcripts: the walk found no import"
    assert {(f, n) for f, n in reached if n not in PROPOSAL_MAY_IMPORT} == set()


def test_api_routes_live_under_one_prefix(settings: Settings) -> None:
    app = create_app(build_room(settings, ManualClock(INSTANTS["midday"])), manage_room=False)
    from roomctl.api.app import walk_routes

    outside = {path for path, _ in walk_routes(app) if not path.startswith(API_PREFIX)}
    core_and_pages = {"/healthz", "/metrics", "/ws", "/", "/{page}", "/static/{name}", "/static/kiosk/{name}"}
    assert outside - core_and_pages - {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"} == set()


def test_next_booking_is_always_the_next_one_not_the_running_one(settings: Settings) -> None:
    clock = ManualClock(INSTANTS["midday"])
    room = build_room(settings, clock)
    seed(room)
    repo = BookingRepository(room.db)
    now = clock.now()
    later = repo.add_booking(repo.groups()[0].id, now + timedelta(hours=2), now + timedelta(hours=3), now=now)
    booking, facilities = room.service(BookingService), room.service(FacilitiesService)
    seen = []
    for _ in range(3):
        booking.refresh()
        facilities.heartbeat()
        seen.append(room.status.get("next_booking"))
    assert seen == [{"start": later.start.isoformat(), "end": later.end.isoformat(), "status": "booked"}] * 3
    assert room.status.get("occupancy")["booked"] is True


async def test_the_session_announces_its_life_in_typed_events(settings: Settings) -> None:
    clock = RunningClock(INSTANTS["midday"])
    seen: list[Event] = []
    async with running_room(settings, clock) as room:
        for kind in (SessionStarted, StepChanged, SessionEnded):
            room.on(kind, seen.append)
        await command(room, "start", group_id=group_id(room))
        await command(room, "next")
        await command(room, "end")
        await room.dispatch(Event(source="test"))  # everything posted before has been handled
    kinds = [type(e).__name__ for e in seen]
    assert kinds[0] == "SessionStarted" and kinds[-1] == "SessionEnded"
    steps = [e for e in seen if isinstance(e, StepChanged)]
    assert [s.index for s in steps] == [0, 1]
    assert all(isinstance(e.session_id, int) and e.session_id == seen[0].session_id for e in seen)  # type: ignore[attr-defined]
    assert steps[1].step_id and steps[1].kind
