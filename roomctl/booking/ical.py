"""The room's bookings as an iCalendar feed (RFC 5545), for the room or one group.

Each booking is one VEVENT with a stable UID (``booking-<id>@<room>.<site>.roomctl``), times in UTC and a
SEQUENCE that grows when the booking is moved, extended or ended, so calendar clients update in place. DTSTAMP
is when the booking was last written, so the same data gives the same bytes: :class:`FeedCache` keeps built
feeds until a booking, closure or group changes (building one with the icalendar library costs ~0.2 ms an
event; calendar clients poll often).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlite_utils

from roomctl import __version__
from roomctl.booking.closures import Closure
from roomctl.booking.repository import ACTIVE_STATUSES, Booking, from_db, to_db
from roomctl.config import Settings

PRODID = f"-//roomctl//roomctl {__version__}//NL"
CACHE_ENTRIES = 32
"""Built feeds kept (room and group feeds over a few ranges)."""


def booking_uid(booking_id: int, settings: Settings) -> str:
    """The VEVENT UID of a booking."""
    return f"booking-{booking_id}@{settings.room.id}.{settings.room.site}.roomctl"


def feed(
    bookings: list[tuple[Booking, int, datetime]],
    closures: list[Closure],
    *,
    group_names: dict[int, str],
    settings: Settings,
    now: datetime,
    title: str,
) -> bytes:
    """The calendar.

    Args:
        bookings: Bookings with their SEQUENCE and when they were last written (DTSTAMP).
        closures: Closures to show as all-day or timed events (transparent to free/busy).
        group_names: Group names by id (the events' SUMMARY).
        settings: For the room's name, id and time zone.
        now: DTSTAMP of the closures.
        title: The calendar's display name.
    """
    import icalendar  # imported when a feed is built: not needed to start the room

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", title)
    calendar.add("x-wr-timezone", settings.room.timezone)
    for booking, sequence, stamp in bookings:
        event = icalendar.Event()
        event.add("uid", booking_uid(booking.id, settings))
        event.add("dtstamp", stamp)
        event.add("dtstart", booking.start)
        event.add("dtend", booking.end)
        event.add("summary", group_names.get(booking.group_id, f"Groep {booking.group_id}"))
        event.add("location", settings.room.name)
        event.add("status", "CONFIRMED")
        event.add("sequence", sequence)
        event.add("categories", [booking.kind])
        if booking.series_id is not None:
            event.add("x-roomctl-series", str(booking.series_id))
        calendar.add_component(event)
    for closure in closures:
        event = icalendar.Event()
        event.add("uid", f"closure-{closure.id}@{settings.room.id}.{settings.room.site}.roomctl")
        event.add("dtstamp", now)
        event.add("dtstart", closure.start)
        event.add("dtend", closure.end)
        event.add("summary", f"Gesloten: {closure.summary}")
        event.add("transp", "TRANSPARENT")
        event.add("categories", ["closure"])
        calendar.add_component(event)
    return calendar.to_ical()


class FeedCache:
    """Builds feeds from the database and keeps them until the data they show changes."""

    def __init__(self, db: sqlite_utils.Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._built: dict[tuple[Any, ...], bytes] = {}

    def fingerprint(self) -> tuple[Any, ...]:
        """Changes whenever a booking, closure or group name that a feed shows changes."""
        bookings = self.db.execute(
            "select count(*), max(id), max(coalesce(updated_at, created_at)), total(sequence) from bookings"
        ).fetchone()
        closures = self.db.execute("select count(*), max(id), max(imported_at) from closures").fetchone()
        groups = self.db.execute("select group_concat(id || ':' || name, '|') from groups").fetchone()
        return (*bookings, *closures, *groups)

    def build(self, *, group: int | None, since: datetime, until: datetime, closures: list[Closure], title: str,
              group_names: dict[int, str], now: datetime) -> bytes:
        """The feed of ``[since, until)`` for the room or one group, from the cache when nothing changed."""
        key = (group, since, until, title, self.fingerprint())
        cached = self._built.get(key)
        if cached is not None:
            return cached
        marks = ",".join("?" for _ in ACTIVE_STATUSES)
        sql = (
            f"select * from bookings where status in ({marks}) and start_utc < ? and end_utc > ?"  # noqa: S608
            + (" and group_id = ?" if group is not None else "")
            + " order by start_utc"
        )
        params: list[Any] = [*ACTIVE_STATUSES, to_db(until), to_db(since), *([group] if group is not None else [])]
        rows = [dict(r) for r in self.db.query(sql, params)]
        items = [
            (Booking.from_row(r), r["sequence"], from_db(r["updated_at"] or r["created_at"]) or now) for r in rows
        ]
        body = feed(items, closures, group_names=group_names, settings=self.settings, now=now, title=title)
        if len(self._built) >= CACHE_ENTRIES:
            self._built.clear()
        self._built[key] = body
        return body
