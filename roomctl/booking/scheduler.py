"""Booking under the room's rules: single bookings, cancelling and moving, extending and ending early.

Every write checks and writes inside one transaction on the loop's thread, so two requests for the same slot
are decided one after the other: the first books, the second gets 409 naming the first. A trigger in the
database refuses overlaps as well, for writers that skip these checks.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from roomctl.booking.closures import ClosureStore
from roomctl.booking.repository import ACTIVE_STATUSES, Booking, BookingRepository, Group, to_db
from roomctl.booking.rules import BookingRules
from roomctl.config import Settings
from roomctl.errors import ConflictError, NotFoundError, StateError, ValidationError

log = logging.getLogger(__name__)

SCOPES = ("this", "following")
"""Which occurrences a change applies to: this one, or this one and the rest of its series."""


def as_instant(value: datetime, field: str) -> datetime:
    """Require an offset on a time from outside.

    Raises:
        ValidationError: ``value`` has no offset.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{field} needs an offset, e.g. 2027-03-01T09:00:00+01:00", field=field)
    return value


class Scheduler:
    """Books and changes bookings, checking rules (422) and conflicts (409)."""

    def __init__(self, db: sqlite_utils.Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.repo = BookingRepository(db)
        self.rules = BookingRules(settings)
        self.closures = ClosureStore(db)

    # -- lookups --------------------------------------------------------------------------------------------

    def known_group(self, group_id: int) -> Group:
        """The group a request names.

        Raises:
            ValidationError: No such group (the request must name another).
        """
        try:
            return self.repo.group(group_id)
        except NotFoundError:
            raise ValidationError(
                f"group {group_id} does not exist; pick one from GET /api/v1/groups", field="group_id"
            ) from None

    def conflicts(self, start: datetime, end: datetime, *, ignore: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
        """Active bookings and closures that overlap ``[start, end)``, each described (group, start, end)."""
        clashes = [b for b in self.repo.overlapping(start, end) if b.id not in ignore]
        names = {g.id: g.name for g in self.repo.groups()} if clashes else {}
        found: list[dict[str, Any]] = [
            {
                "kind": "booking",
                "booking_id": b.id,
                "group": names.get(b.group_id, str(b.group_id)),
                "group_id": b.group_id,
                "start": b.start.isoformat(),
                "end": b.end.isoformat(),
            }
            for b in clashes
        ]
        found.extend(
            {"kind": "closure", "closure_id": c.id, "summary": c.summary, "start": c.start.isoformat(), "end": c.end.isoformat()}
            for c in self.closures.overlapping(start, end)
        )
        return found

    def _raise_conflicts(self, conflicts: list[dict[str, Any]]) -> None:
        if not conflicts:
            return
        named = ", ".join(
            f"{c.get('group') or c.get('summary')} {c['start']} to {c['end']}" for c in conflicts
        )
        raise ConflictError(f"the room is not free then: {named}; choose another time", conflicts=conflicts)

    # -- single bookings ------------------------------------------------------------------------------------

    def book(self, group_id: int, start: datetime, end: datetime, *, now: datetime, kind: str = "single") -> Booking:
        """Book the room once for a group.

        Raises:
            ValidationError: Unknown group, the group does not fit, or a rule is broken (all named).
            ConflictError: Other bookings or closures overlap (all named).
        """
        start, end = as_instant(start, "start"), as_instant(end, "end")
        group = self.known_group(group_id)
        self.rules.check_capacity(group)
        self.rules.check(start, end, now)
        with self.db.atomic():
            self._raise_conflicts(self.conflicts(start, end))
            booking = self.insert(group_id, start, end, now=now, kind=kind)
        log.info("booked %s for group %d: %s-%s", kind, group_id, start.isoformat(), end.isoformat())
        return booking

    def insert(self, group_id: int, start: datetime, end: datetime, *, now: datetime, kind: str) -> Booking:
        """Write a booking without checking the room's rules (overlaps are still refused).

        Raises:
            ConflictError: It overlaps an active booking.
        """
        try:
            return self.repo.add_booking(group_id, start, end, now=now, kind=kind)
        except sqlite3.IntegrityError:
            raise ConflictError("the room was booked by someone else at the same moment; reload and choose again") from None

    def active(self, booking_id: int) -> Booking:
        """A booking that still holds the room.

        Raises:
            NotFoundError: No such booking.
            StateError: It was cancelled, released or ended.
        """
        booking = self.repo.booking(booking_id)
        if booking.status not in ACTIVE_STATUSES:
            raise StateError(f"booking {booking_id} is {booking.status}; only booked or checked-in bookings can change")
        return booking

    def cancel(self, booking_id: int, *, now: datetime) -> Booking:
        """Cancel one booking (one occurrence of a series).

        Raises:
            StateError: It is over already, or not active.
        """
        booking = self.active(booking_id)
        if booking.end <= now:
            raise StateError(f"booking {booking_id} is over; there is nothing to cancel")
        with self.db.atomic():
            self.db.execute(
                "update bookings set status = 'cancelled', sequence = sequence + 1, updated_at = ? where id = ?",
                [to_db(now), booking_id],
            )
        log.info("booking %d cancelled", booking_id)
        return self.repo.booking(booking_id)

    def move(self, booking_id: int, start: datetime, end: datetime, *, now: datetime) -> Booking:
        """Move one booking (one occurrence) to another time.

        Raises:
            StateError: It has started or is not active.
            ValidationError: A rule is broken at the new time.
            ConflictError: The new time is taken (all conflicts named).
        """
        start, end = as_instant(start, "start"), as_instant(end, "end")
        booking = self.active(booking_id)
        if booking.status != "booked" or booking.start <= now:
            raise StateError(f"booking {booking_id} has started; extend it or end it early instead of moving it")
        self.rules.check(start, end, now)
        with self.db.atomic():
            self._raise_conflicts(self.conflicts(start, end, ignore=frozenset({booking_id})))
            self.db.execute(
                "update bookings set start_utc = ?, end_utc = ?, sequence = sequence + 1, updated_at = ? where id = ?",
                [to_db(start), to_db(end), to_db(now), booking_id],
            )
        log.info("booking %d moved to %s-%s", booking_id, start.isoformat(), end.isoformat())
        return self.repo.booking(booking_id)

    # -- running bookings -----------------------------------------------------------------------------------

    def _running(self, booking_id: int, now: datetime) -> Booking:
        booking = self.active(booking_id)
        if not booking.start <= now < booking.end:
            raise StateError(
                f"booking {booking_id} runs {booking.start.isoformat()} to {booking.end.isoformat()}, not now; "
                "only a running booking can be extended or ended early"
            )
        return booking

    def extend(self, booking_id: int, minutes: int, *, now: datetime) -> Booking:
        """Make a running booking longer when the room is free after it.

        Raises:
            StateError: The booking is not running.
            ConflictError: Another booking or a closure follows, or the room closes (all named).
        """
        booking = self._running(booking_id, now)
        new_end = booking.end + timedelta(minutes=minutes)
        with self.db.atomic():
            self._raise_conflicts(self.conflicts(booking.end, new_end, ignore=frozenset({booking_id})))
            if not self.rules.hours.open_interval(booking.start, new_end, self.rules.tz):
                closing = self.rules.hours.closing_after(booking.start, self.rules.tz)
                raise ConflictError(
                    f"the room closes at {closing.isoformat() if closing else 'that time'}; extend by less",
                    closes=closing.isoformat() if closing else None,
                )
            self.db.execute(
                "update bookings set end_utc = ?, sequence = sequence + 1, updated_at = ? where id = ?",
                [to_db(new_end), to_db(now), booking_id],
            )
        log.info("booking %d extended by %d min", booking_id, minutes)
        return self.repo.booking(booking_id)

    def end_early(self, booking_id: int, *, now: datetime) -> Booking:
        """End a running booking now; the rest of its slot is free again.

        Raises:
            StateError: The booking is not running (cancel one that has not started).
        """
        booking = self._running(booking_id, now)
        end = max(now, booking.start + timedelta(seconds=1))
        with self.db.atomic():
            self.db.execute(
                "update bookings set end_utc = ?, status = 'ended', sequence = sequence + 1, updated_at = ? where id = ?",
                [to_db(end), to_db(now), booking_id],
            )
        log.info("booking %d ended early", booking_id)
        return self.repo.booking(booking_id)

    # -- walk-ins -------------------------------------------------------------------------------------------

    def walk_in_slot(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The ad-hoc slot a walk-in at ``now`` would get, or ``None`` when the room is not free for one."""
        settings = self.settings.booking
        start = now.replace(microsecond=0)
        lead = start + timedelta(minutes=settings.walk_in_lead_minutes)
        if self.repo.overlapping(start, max(lead, start + timedelta(seconds=1))) or self.closures.overlapping(start, lead):
            return None
        closing = self.rules.hours.closing_after(now, self.rules.tz)
        if closing is None:
            return None
        end = min((start + timedelta(minutes=settings.walk_in_minutes)).replace(second=0), closing)
        following = self.repo.next_after(start)
        if following is not None:
            end = min(end, following.start)
        upcoming = self.closures.upcoming(start)
        if upcoming:
            end = min(end, upcoming[0].start)
        if end - start < timedelta(minutes=MIN_WALK_IN_MINUTES):
            return None
        return start, end


MIN_WALK_IN_MINUTES = 15
"""A walk-in that could last less than this (the room closes soon) is not started."""
