"""Room history for the facilities tests: bookings, sessions, presence and proposals written as the
capabilities write them (the repository for bookings, rows shaped like the session and proposal services')."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from roomctl.booking.repository import BookingRepository

AMS = ZoneInfo("Europe/Amsterdam")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in the first week of March 2026 (Monday the 2nd), Amsterdam time."""
    return datetime(2026, 3, day, hour, minute, tzinfo=AMS)


def add_session(db: sqlite_utils.Database, group_id: int, booking_id: int | None, start: datetime, end: datetime | None) -> int:
    """A session row as the session service writes it."""
    with db.atomic():
        table = db.table("sessions")
        table.insert(
            {
                "booking_id": booking_id,
                "group_id": group_id,
                "videoframe_id": "test",
                "videoframe_version": "1",
                "started_at": start.astimezone(AMS).isoformat(),
                "ended_at": end.astimezone(AMS).isoformat() if end else None,
                "state": "{}",
                "updated_at": (end or start).isoformat(),
            }
        )
        return int(table.last_pk)  # type: ignore[arg-type]


def add_presence(db: sqlite_utils.Database, session_id: int, member_id: int, first_seen: datetime) -> None:
    """A member seen at the door during a session."""
    with db.atomic():
        db.execute(
            "insert into session_presence (session_id, member_id, first_seen_at) values (?, ?, ?)",
            [session_id, member_id, first_seen.isoformat()],
        )


def add_proposal(db: sqlite_utils.Database, session_id: int, group_id: int, title: str, status: str, decided: datetime) -> int:
    """A proposal (with its outbox request) in ``status``."""
    content = {"title": title, "situation_summary": "s", "problem": "p", "steps": []}
    with db.atomic():
        requests = db.table("proposal_requests")
        requests.insert(
            {
                "idempotency_key": f"k-{session_id}-{title}",
                "session_id": session_id,
                "group_id": group_id,
                "kind": "ask",
                "body_json": "{}",
                "state": "done",
                "model": "test",
                "created_at": decided.isoformat(),
            }
        )
        version = db.execute("select coalesce(max(version), 0) + 1 from proposals where session_id = ?", [session_id]).fetchone()[0]
        proposals = db.table("proposals")
        proposals.insert(
            {
                "session_id": session_id,
                "group_id": group_id,
                "request_id": requests.last_pk,
                "version": version,
                "status": status,
                "content_json": json.dumps(content),
                "original_json": json.dumps(content),
                "language": "nl",
                "created_at": decided.isoformat(),
                "decided_at": decided.isoformat() if status != "draft" else None,
            }
        )
        return int(proposals.last_pk)  # type: ignore[arg-type]


@dataclass
class Week:
    """Ids of what :func:`seed_week` made."""

    members: list[int]
    group: int
    other_group: int
    bookings: dict[str, int]


def seed_week(db: sqlite_utils.Database, now: datetime) -> Week:
    """One week of use (see test_facilities.py for the figures it must give).

    - Mon 09:00-11:00 booked by the group, checked in; session 09:05-10:50; member 1 seen 09:05, member 2 09:35.
    - Wed 14:00-16:00 booked by the group, released (no-show); a walk-in of the other group 14:30-15:30 with a
      session 14:30-15:30.
    - Thu 10:00-11:00 cancelled.
    - Fri 09:00-10:00 booked by the group, checked in; session 09:00-09:45; member 1 seen 09:10.
    - Proposals of the group: one accepted on Friday, one draft, one accepted a month later.
    """
    repo = BookingRepository(db)
    members = [repo.add_member(name, now=now).id for name in ("Anna", "Bram", "Eva", "Femke")]
    group = repo.add_group("Team Balie", members[:2], facilitator_id=members[2], now=now).id
    other = repo.add_group("Team Post", [members[3]], facilitator_id=members[3], now=now).id
    ids: dict[str, Any] = {}
    ids["mon"] = repo.add_booking(group, local(2, 9), local(2, 11), now=now).id
    ids["wed"] = repo.add_booking(group, local(4, 14), local(4, 16), now=now).id
    ids["thu"] = repo.add_booking(group, local(5, 10), local(5, 11), now=now).id
    ids["fri"] = repo.add_booking(group, local(6, 9), local(6, 10), now=now).id
    with db.atomic():
        db.execute("update bookings set status = 'checked_in' where id in (?, ?)", [ids["mon"], ids["fri"]])
        db.execute("update bookings set status = 'released' where id = ?", [ids["wed"]])
        db.execute("update bookings set status = 'cancelled' where id = ?", [ids["thu"]])
    ids["walkin"] = repo.add_booking(other, local(4, 14, 30), local(4, 15, 30), now=now, kind="walkin").id
    mon = add_session(db, group, ids["mon"], local(2, 9, 5), local(2, 10, 50))
    add_presence(db, mon, members[0], local(2, 9, 5))
    add_presence(db, mon, members[1], local(2, 9, 35))
    add_session(db, other, ids["walkin"], local(4, 14, 30), local(4, 15, 30))
    fri = add_session(db, group, ids["fri"], local(6, 9), local(6, 9, 45))
    add_presence(db, fri, members[0], local(6, 9, 10))
    add_proposal(db, fri, group, "Minder wachttijd aan de balie", "accepted", local(6, 9, 40))
    add_proposal(db, mon, group, "Nog een concept", "draft", local(2, 10, 40))
    add_proposal(db, fri, group, "Later besluit", "accepted", local(6, 9, 40) + timedelta(days=30))
    return Week(members, group, other, ids)
