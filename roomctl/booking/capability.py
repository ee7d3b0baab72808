"""Installs booking: the screen's view of today's bookings and the next one."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any

from roomctl.access.events import AccessGranted
from roomctl.booking.repository import BookingRepository
from roomctl.core.room import Room

log = logging.getLogger(__name__)

AGENDA_REFRESH_SECONDS = 30.0
"""How often the screen's agenda is refreshed (the next booking moves as time passes)."""


class BookingService:
    """Keeps the screen's ``booking`` part (today's bookings, the next one) up to date."""

    name = "booking"

    def __init__(self, room: Room) -> None:
        self.room = room
        self.repo = BookingRepository(room.db)
        room.on(AccessGranted, lambda event: self.refresh())

    async def start(self) -> None:
        """Publish the agenda now and keep refreshing it."""
        self.refresh()
        self.room.spawn(self._refresh_forever(), name="booking-agenda")

    async def stop(self) -> None:
        """Nothing to release."""

    async def _refresh_forever(self) -> None:
        import asyncio

        while True:
            await asyncio.sleep(AGENDA_REFRESH_SECONDS)
            self.refresh()

    def agenda(self, now: datetime) -> dict[str, Any]:
        """Today's bookings in the room's time zone and the next one (with group names)."""
        tz = self.room.settings.room.tz
        local = now.astimezone(tz)
        day_start = datetime.combine(local.date(), time(0), tz)
        today = self.repo.between(day_start, day_start + timedelta(days=1))
        upcoming = self.repo.next_after(now)
        names = {g.id: g.name for g in self.repo.groups()}

        def view(booking: Any) -> dict[str, Any]:
            return {**booking.as_dict(), "group": names.get(booking.group_id, "?")}

        current = next((b for b in today if b.start <= now < b.end), None)
        return {
            "today": [view(b) for b in today],
            "current": view(current) if current else None,
            "next": view(upcoming) if upcoming and upcoming is not current and upcoming.start > now else None,
        }

    def refresh(self) -> None:
        """Recompute the agenda and publish it."""
        agenda = self.agenda(self.room.clock.now())
        self.room.screen.set("booking", agenda)
        self.room.status.set("occupancy", {"booked": agenda["current"] is not None})


def install(room: Room) -> None:
    """Add the booking service."""
    room.add_service(BookingService(room))
