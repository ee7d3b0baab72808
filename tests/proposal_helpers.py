"""Helpers for the proposal tests and bench: a room with the proposal capability against the fake API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from roomctl.booking.service import BookingService
from roomctl.config import Settings
from roomctl.core.clock import Clock
from roomctl.core.room import Room
from roomctl.proposal import capability as proposal
from roomctl.proposal.service import ProposalService
from roomctl.runtime import install_capabilities
from roomctl.session.guests import GuestService
from roomctl.store import open_database

GOOD_PROPOSAL: dict[str, Any] = {
    "title": "Overdracht tussen diensten verbeteren",
    "situation_summary": "Bij de wisseling van dienst gaat informatie over cliënten verloren.",
    "problem": "Er is geen vaste vorm voor de overdracht, waardoor afspraken worden vergeten.",
    "steps": [
        {
            "role": "teamleider",
            "action": "Een korte overdrachtskaart opstellen met vijf vaste vragen.",
            "effort": "2 uur eenmalig",
            "expected_effect": "Minder vergeten afspraken bij de overdracht.",
        },
        {
            "role": "verpleegkundige",
            "action": "De kaart twee weken gebruiken en knelpunten noteren.",
            "effort": "5 minuten per dienst",
            "expected_effect": "Ervaring met de kaart en verbeterpunten.",
        },
    ],
    "risks": ["De kaart wordt als extra administratie gezien."],
    "learning_needs": ["Gestructureerd overdragen (SBAR)."],
    "open_questions": ["Wie beheert de kaart na de proefperiode?"],
}

MEMBERS = ["Anna de Vries", "Pieter van den Berg", "Fatima El Amrani"]
OTHER_MEMBER = "Zoë Janssen"

TRANSCRIPT = (
    "Anna zegt dat de overdracht 's ochtends vaak rommelig is. Pieter van den Berg vindt dat er een vaste lijst "
    "moet komen. ANNA DE VRIES: dan moet de teamleider dat regelen. Fatima stelt voor om het twee weken te "
    "proberen. Annabel van de andere afdeling doet het al zo. De Berg-methode noemde niemand."
)


def seed_group(room: Room, names: list[str] = MEMBERS, *, group_name: str = "Team Oost") -> int:
    """Members, a group with them, one member outside it; return the group id."""
    now = datetime(2026, 11, 29, 9, tzinfo=UTC).isoformat()
    db = room.db
    with db.atomic():
        db.execute("insert into groups (name, created_at) values (?, ?)", [group_name, now])
        group_id = int(db.execute("select last_insert_rowid()").fetchone()[0])
        for name in names:
            db.execute("insert into members (name, created_at) values (?, ?)", [name, now])
            member_id = int(db.execute("select last_insert_rowid()").fetchone()[0])
            db.execute("insert into group_members (group_id, member_id) values (?, ?)", [group_id, member_id])
        db.execute("insert into members (name, created_at) values (?, ?)", [OTHER_MEMBER, now])
    return group_id


def build_room(settings: Settings, clock: Clock | None = None) -> Room:
    """A room with the proposal capability and the services it asks for names (booking's and the guests').

    The database has every migration. Without the session service (which would install the default videoframe,
    ffmpeg and all, beside every test) a request names its group; without speech it brings its transcript.
    """
    room = Room(settings, open_database(settings.storage.database_path), clock)
    room.add_service(BookingService(room))
    room.add_service(GuestService(room))
    install_capabilities(room, [proposal])
    return room


def service(room: Room) -> ProposalService:
    """The room's proposal service."""
    found: ProposalService = room.service(ProposalService)
    return found


@asynccontextmanager
async def running(room: Room, *, backoff: float = 0.05) -> AsyncIterator[ProposalService]:
    """Start the room (fast backoff), yield its proposal service, stop it."""
    svc = service(room)
    svc.outbox.backoff_base = backoff
    svc.outbox.key_poll = 0.1
    await room.start()
    try:
        yield svc
    finally:
        await room.stop()


def sent_text(body: dict[str, Any]) -> str:
    """Everything a request body carries, as one string (to search for names)."""
    return json.dumps(body, ensure_ascii=False)


def seed_sessions(room: Room, group_id: int, session_ids: Iterable[int]) -> None:
    """Sessions of ``group_id`` with these ids (a proposal needs an existing session of the caller's group)."""
    now = room.clock.now().isoformat()
    with room.db.atomic():
        for session_id in session_ids:
            room.db.execute(
                "insert into sessions (id, group_id, videoframe_id, videoframe_version, started_at, ended_at, state, "
                "updated_at) values (?, ?, 'vf', '1', ?, ?, '{}', ?)", [session_id, group_id, now, now, now])  # fmt: skip
