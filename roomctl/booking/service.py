"""The booking service: the agenda on the screens, releasing no-shows, walk-ins, enrol-by-tap, extend and end early.

Other capabilities call into :class:`BookingService` (``room.service(BookingService)``):

- access asks :meth:`BookingService.enrol_by_tap` first on every tap (an admin may be waiting for a badge) and
  :meth:`BookingService.walk_in` when a member taps outside any booking;
- the session's tablet commands call :meth:`BookingService.extend` and :meth:`BookingService.end_early`;
- the proposal capability asks :meth:`BookingService.member_names` for the names it removes.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any

from roomctl.access.events import AccessGranted
from roomctl.booking.enrol import EnrolDesk
from roomctl.booking.ical import FeedCache
from roomctl.booking.release import ReleaseReport, release_due
from roomctl.booking.repository import Booking, BookingRepository, Member
from roomctl.booking.scheduler import Scheduler
from roomctl.booking.series_store import SeriesStore
from roomctl.core.room import Room
from roomctl.errors import ConflictError

log = logging.getLogger(__name__)

AGENDA_REFRESH_SECONDS = 30.0
"""How often the screen's agenda is refreshed and no-shows are released (the next booking moves as time passes)."""


class BookingService:
    """Owns the room's bookings while it runs."""

    name = "booking"

    def __init__(self, room: Room) -> None:
        self.room = room
        self.repo = BookingRepository(room.db)
        self.scheduler = Scheduler(room.db, room.settings)
        self.series = SeriesStore(self.scheduler)
        self.enrolment = EnrolDesk(self.repo, room.settings.door.master_badges)
        self.feeds = FeedCache(room.db, room.settings)
        self.last_pass: datetime | None = None
        self._agenda = room.screen.claim("booking", owner=self.name)
        self._occupancy = room.status.claim("occupancy", owner=self.name)
        self._next_booking = room.status.claim("next_booking", owner=self.name)
        room.on(AccessGranted, lambda event: self.refresh())

    async def start(self) -> None:
        """Release what is due, publish the agenda now and keep doing both."""
        self.tick()
        self.room.every(AGENDA_REFRESH_SECONDS, self.tick, name="booking-agenda")

    async def stop(self) -> None:
        """Nothing to release: every change is written when it happens."""

    def tick(self) -> ReleaseReport:
        """Release bookings whose check-in window closed unused, then refresh the agenda."""
        now = self.room.clock.now()
        report = release_due(self.series, now)
        self.last_pass = now
        self.refresh()
        return report

    # -- what the screens show ------------------------------------------------------------------------------

    def agenda(self, now: datetime) -> dict[str, Any]:
        """Today's bookings in the room's time zone, the current and the next one (with group names)."""
        tz = self.room.settings.room.tz
        local = now.astimezone(tz)
        day_start = datetime.combine(local.date(), time(0), tz)
        today = self.repo.overlapping(day_start, datetime.combine(local.date() + timedelta(days=1), time(0), tz))
        upcoming = self.repo.next_after(now)
        names = {g.id: g.name for g in self.repo.groups()}

        def view(booking: Any) -> dict[str, Any]:
            return {**booking.as_dict(), "group": names.get(booking.group_id, "?")}

        current = next((b for b in today if b.start <= now < b.end), None)
        following = upcoming if upcoming and upcoming != current and upcoming.start > now else None
        if following is None and current is not None:
            following = self.repo.next_after(current.end)
        return {
            "today": [view(b) for b in today],
            "current": view(current) if current else None,
            "next": view(following) if following else None,
            "free": current is None,
            "free_until": following.start.isoformat() if current is None and following else None,
        }

    def refresh(self) -> None:
        """Recompute the agenda and publish it.

        Screen part ``booking`` (today, current, next); status parts ``occupancy`` (``booked``, and ``until``
        when a booking runs) and ``next_booking`` (start, end and status of the next booking that has not
        started: never the running one, never names).
        """
        agenda = self.agenda(self.room.clock.now())
        self._agenda.set(agenda)
        current, upcoming = agenda["current"], agenda["next"]
        self._occupancy.set({"booked": current is not None, "until": current["end"] if current else None})
        self._next_booking.set({k: upcoming[k] for k in ("start", "end", "status")} if upcoming else None)

    def member_names(self, *, first_group: int | None = None) -> list[str]:
        """Every member's name, active or not (facilitators are members), those of ``first_group`` first.

        What the proposal capability removes before text leaves the room.
        """
        return self.repo.names(first_group=first_group)

    def current(self, now: datetime) -> Booking | None:
        """The booking running at ``now`` (its group holds the room), or ``None``."""
        return next((b for b in self.repo.overlapping(now, now + timedelta(seconds=1)) if b.start <= now < b.end), None)

    # -- hooks for other capabilities -----------------------------------------------------------------------

    def enrol_by_tap(self, uid: str, now: datetime) -> Member | None:
        """If an admin armed enrol-by-tap, enroll this (normalised) UID and return the member it was for.

        ``None`` means the tap is an ordinary request to enter. A returned member means the tap was used for
        enrolment (enrolled or refused, see ``GET /api/v1/enrolment``) and the door stays shut.
        """
        return self.enrolment.take(uid, now)

    def walk_in(self, member: Member, now: datetime) -> Booking | None:
        """Start an ad-hoc booking for a member who taps on a free room, or ``None`` when none may start.

        One starts when walk-ins are on, the member belongs to exactly one group that fits the room, the room is
        open, and nothing is booked (and no closure starts) within ``walk_in_lead_minutes``. It lasts
        ``walk_in_minutes`` or until the next booking, closure or closing time.
        """
        if not self.room.settings.booking.walk_in:
            return None
        release_due(self.series, now)
        groups = [g for g in self.repo.groups() if member.id in g.member_ids]
        if len(groups) != 1:
            log.info("no walk-in for member %d: member of %d groups", member.id, len(groups))
            return None
        group = groups[0]
        if self.scheduler.rules.group_size(group) > self.room.settings.room.capacity:
            return None
        slot = self.scheduler.walk_in_slot(now)
        if slot is None:
            return None
        try:
            booking = self.scheduler.insert(group.id, slot[0], slot[1], now=now, kind="walkin")
        except ConflictError:
            return None
        log.info("walk-in booking %d for group %d until %s", booking.id, group.id, booking.end.isoformat())
        self.refresh()
        return booking

    def extend(self, booking_id: int, minutes: int, now: datetime) -> Booking:
        """Make a running booking longer (409 when the room is not free after it)."""
        booking = self.scheduler.extend(booking_id, minutes, now=now)
        self.refresh()
        return booking

    def end_early(self, booking_id: int, now: datetime) -> Booking:
        """End a running booking now, freeing the rest of its slot."""
        booking = self.scheduler.end_early(booking_id, now=now)
        self.refresh()
        return booking

