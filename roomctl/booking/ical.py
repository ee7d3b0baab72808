"""The room's bookings as an iCalendar feed (RFC 5545), for the room or one group.

Each booking is one VEVENT with a stable UID (``booking-<id>@<room>.<site>.roomctl``), times in UTC and a
SEQUENCE that grows when the booking is moved, extended or ended, so calendar clients update in place.
"""

from __future__ import annotations

from datetime import datetime

import icalendar

from roomctl import __version__
from roomctl.booking.closures import Closure
from roomctl.booking.repository import Booking
from roomctl.config import Settings

PRODID = f"-//roomctl//roomctl {__version__}//NL"


def booking_uid(booking_id: int, settings: Settings) -> str:
    """The VEVENT UID of a booking."""
    return f"booking-{booking_id}@{settings.room.id}.{settings.room.site}.roomctl"


def feed(
    bookings: list[tuple[Booking, int]],
    closures: list[Closure],
    *,
    group_names: dict[int, str],
    settings: Settings,
    now: datetime,
    title: str,
) -> bytes:
    """The calendar.

    Args:
        bookings: Bookings with their SEQUENCE.
        closures: Closures to show as all-day or timed events (transparent to free/busy).
        group_names: Group names by id (the events' SUMMARY).
        settings: For the room's name, id and time zone.
        now: DTSTAMP.
        title: The calendar's display name.
    """
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", title)
    calendar.add("x-wr-timezone", settings.room.timezone)
    for booking, sequence in bookings:
        event = icalendar.Event()
        event.add("uid", booking_uid(booking.id, settings))
        event.add("dtstamp", now)
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
