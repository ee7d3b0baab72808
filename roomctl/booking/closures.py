"""Closures and holidays: imported from an iCalendar file, they block the room on those dates.

An all-day event closes the room from local midnight to local midnight; a timed event closes it for its
time. A recurring event (a yearly holiday) is expanded up to a horizon. Importing the same file again
replaces the same closures (matched by UID and start) instead of adding them twice.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils
from dateutil.rrule import rrulestr

from roomctl.booking.repository import from_db, to_db
from roomctl.errors import NotFoundError, ValidationError

log = logging.getLogger(__name__)

MAX_ICS_BYTES = 2_000_000
"""Larger uploads are refused (a holiday calendar is a few kilobytes)."""
MAX_CLOSURES = 2000
"""At most this many closures per import (recurring events included)."""
MAX_CLOSURE_DAYS = 366
"""One closure lasts at most a year."""


@dataclass(frozen=True)
class Closure:
    """A period the room is closed."""

    uid: str
    summary: str
    start: datetime
    end: datetime
    all_day: bool
    id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "id": self.id,
            "uid": self.uid,
            "summary": self.summary,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "all_day": self.all_day,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Closure:
        """Build from a ``closures`` row."""
        start, end = from_db(row["start_utc"]), from_db(row["end_utc"])
        assert start is not None and end is not None
        return cls(row["uid"], row["summary"], start, end, bool(row["all_day"]), row["id"])


def _instant(value: date | datetime, tz: ZoneInfo) -> tuple[datetime, bool]:
    """A DTSTART/DTEND value as an aware instant, and whether it was a date (all day)."""
    if isinstance(value, datetime):
        return (value.replace(tzinfo=tz) if value.tzinfo is None else value), False
    return datetime.combine(value, time(0), tz), True


def parse_ics(data: bytes, tz: ZoneInfo, *, now: datetime, horizon: timedelta) -> list[Closure]:
    """The closures in an iCalendar file.

    Raises:
        ValidationError: Too large, not iCalendar, no events, an event without a start, an end before its
            start, or too many closures.
    """
    if len(data) > MAX_ICS_BYTES:
        raise ValidationError(f"the file is larger than {MAX_ICS_BYTES // 1000} kB; split it")
    import icalendar  # imported when a file is imported: not needed to start the room

    try:
        calendar = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as exc:
        raise ValidationError(f"not an iCalendar file (text/calendar, BEGIN:VCALENDAR ...): {exc}") from None
    events = list(calendar.walk("VEVENT"))
    if not events:
        raise ValidationError("the file holds no events (VEVENT); export the holidays as events")
    found: list[Closure] = []
    for event in events:
        summary = str(event.get("SUMMARY", "Gesloten"))[:200]
        if event.get("DTSTART") is None:
            raise ValidationError(f"event {summary!r} has no start (DTSTART)")
        start, all_day = _instant(event.decoded("DTSTART"), tz)
        if event.get("DTEND") is not None:
            end, _ = _instant(event.decoded("DTEND"), tz)
        elif event.get("DURATION") is not None:
            end = start + event.decoded("DURATION")
        else:
            end = start + timedelta(days=1) if all_day else start
        if end <= start:
            raise ValidationError(f"event {summary!r} ends before it starts ({start.isoformat()})")
        if end - start > timedelta(days=MAX_CLOSURE_DAYS):
            raise ValidationError(f"event {summary!r} lasts more than a year; split it")
        uid = str(event.get("UID") or hashlib.sha256(f"{summary}{start.isoformat()}".encode()).hexdigest()[:32])
        for instance in _instances(event, start, all_day, tz, now + horizon):
            local_end = instance + (end - start) if not all_day else _shift_days(instance, end, start, tz)
            found.append(Closure(uid, summary, instance.astimezone(UTC), local_end.astimezone(UTC), all_day))
            if len(found) > MAX_CLOSURES:
                raise ValidationError(f"the file expands to more than {MAX_CLOSURES} closures; shorten recurring events")
    return found


def _shift_days(instance: datetime, end: datetime, start: datetime, tz: ZoneInfo) -> datetime:
    days = (end.date() - start.date()).days
    return datetime.combine(instance.date() + timedelta(days=days), time(0), tz)


def _instances(event: Any, start: datetime, all_day: bool, tz: ZoneInfo, until: datetime) -> list[datetime]:
    """The starts of an event, its RRULE expanded up to ``until``."""
    rule = event.get("RRULE")
    if rule is None:
        return [start]
    naive = start.replace(tzinfo=None)
    try:
        text = rule.to_ical().decode()
        rules = rrulestr(text, dtstart=naive, ignoretz=True)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"event {event.get('SUMMARY')!r} has an RRULE dateutil cannot read: {exc}") from None
    limit = until.astimezone(start.tzinfo).replace(tzinfo=None)
    found: list[datetime] = []
    for occurrence in rules:
        if occurrence > limit or len(found) > MAX_CLOSURES:
            break
        found.append(occurrence.replace(tzinfo=start.tzinfo))
    return found


class ClosureStore:
    """The ``closures`` table."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def replace(self, closures: list[Closure], *, now: datetime) -> list[Closure]:
        """Store closures, replacing earlier imports of the same UID and start; return them with ids."""
        stored = []
        with self.db.atomic():
            for closure in closures:
                self.db.execute("delete from closures where uid = ? and start_utc = ?", [closure.uid, to_db(closure.start)])
                table = self.db.table("closures")
                table.insert(
                    {
                        "uid": closure.uid,
                        "summary": closure.summary,
                        "start_utc": to_db(closure.start),
                        "end_utc": to_db(closure.end),
                        "all_day": int(closure.all_day),
                        "imported_at": to_db(now),
                    }
                )
                stored.append(Closure(closure.uid, closure.summary, closure.start, closure.end, closure.all_day, int(table.last_pk)))  # type: ignore[arg-type]
        return stored

    def overlapping(self, start: datetime, end: datetime) -> list[Closure]:
        """Closures that overlap ``[start, end)``."""
        rows = self.db.query(
            "select * from closures where start_utc < ? and end_utc > ? order by start_utc", [to_db(end), to_db(start)]
        )
        return [Closure.from_row(r) for r in rows]

    def upcoming(self, since: datetime) -> list[Closure]:
        """Closures that end after ``since``, in time order."""
        return [Closure.from_row(r) for r in self.db.query("select * from closures where end_utc > ? order by start_utc", [to_db(since)])]

    def delete(self, closure_id: int) -> None:
        """Remove one closure.

        Raises:
            NotFoundError: No such closure.
        """
        with self.db.atomic():
            cursor = self.db.execute("delete from closures where id = ?", [closure_id])
        if cursor.rowcount == 0:
            raise NotFoundError(f"closure {closure_id} does not exist")
