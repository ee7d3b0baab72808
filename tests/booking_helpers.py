"""Helpers for the booking tests: a room on a manual clock behind a TestClient, people and groups, table counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from roomctl.api.app import create_app
from roomctl.api.tokens import create_token
from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.core.room import Room
from roomctl.runtime import build_room
from tests.conftest import role_tokens

AMS = ZoneInfo("Europe/Amsterdam")
MONDAY_0800 = datetime(2027, 2, 1, 7, 0, tzinfo=UTC)
"""Monday 1 February 2027, 08:00 in Amsterdam: the tests' "now"."""
TABLES = ("members", "badges", "groups", "group_members", "bookings", "series", "no_shows", "closures")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A zone-aware Amsterdam time."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS)


@dataclass
class People:
    """Members and groups made for a test."""

    members: dict[str, int]
    groups: dict[str, int]
    uids: dict[str, str]


def make_people(room: Room) -> People:
    """Six members with badges; group A (Anna, Bram, Chantal; facilitator Eva), group B (Daan, Femke)."""
    repo = BookingRepository(room.db)
    now = room.clock.now()
    members, uids = {}, {}
    for index, name in enumerate(("Anna", "Bram", "Chantal", "Daan", "Eva", "Femke"), start=1):
        member = repo.add_member(name, now=now)
        uid = f"04A1B2C3D4E6{index:02d}"
        repo.enroll_badge(member.id, uid, now=now)
        members[name], uids[name] = member.id, uid
    group_a = repo.add_group("Groep A", [members["Anna"], members["Bram"], members["Chantal"]], facilitator_id=members["Eva"], now=now)
    group_b = repo.add_group("Groep B", [members["Daan"], members["Femke"]], now=now)
    return People(members, {"A": group_a.id, "B": group_b.id}, uids)


@dataclass
class Api:
    """A started room behind a TestClient, with a token per role."""

    client: TestClient
    room: Room
    clock: ManualClock
    tokens: dict[str, str]
    people: People

    def h(self, role: str = "admin") -> dict[str, str]:
        """Authorization header for a role (or a named extra token)."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def post(self, path: str, body: Any = None, role: str = "admin", **kw: Any) -> Any:
        """POST JSON."""
        return self.client.post(path, json=body, headers=self.h(role), **kw)

    def counts(self) -> dict[str, int]:
        """Rows per booking table (to prove a refused request changed nothing)."""
        return {t: self.room.db.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}

    def snapshot(self) -> list[tuple[Any, ...]]:
        """Every booking row (status and times included)."""
        return [tuple(r) for r in self.room.db.execute("select * from bookings order by id").fetchall()]

    def facilitator_token(self, member: str) -> str:
        """A facilitator token bound to a member; stored under ``"fac:<member>"``."""
        key = f"fac:{member}"
        self.tokens[key] = create_token(
            self.room.db, "facilitator", label="test", now=self.clock.now(), member_id=self.people.members[member]
        )[1]
        return key


@contextmanager
def booking_api(
    make_settings: Callable[..., Settings], start: datetime = MONDAY_0800, **sections: dict[str, Any]
) -> Iterator[Api]:
    """A room at ``start`` on a manual clock, with :func:`make_people`, served by a TestClient."""
    sections.setdefault("llm", {"enabled": False})
    clock = ManualClock(start)
    room = build_room(make_settings(**sections), clock)
    people = make_people(room)
    tokens = role_tokens(room)
    with TestClient(create_app(room)) as client:
        yield Api(client, room, clock, tokens, people)


def series_body(group_id: int, **overrides: Any) -> dict[str, Any]:
    """Mon/Wed/Fri 09:00 for one hour, four weeks from 8 February 2027."""
    body: dict[str, Any] = {
        "group_id": group_id,
        "slots": [{"weekday": d, "start": "09:00"} for d in ("mon", "wed", "fri")],
        "duration_minutes": 60,
        "first_date": "2027-02-08",
        "weeks": 4,
    }
    body.update(overrides)
    return body
