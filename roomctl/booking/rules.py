"""The room's rules for a booking: end after start, opening hours, a maximum length, not in the past, capacity.

Overlaps and closures are conflicts with other things in the database (409); these rules are about the booking
itself (422), and each broken rule is named with what to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from roomctl.booking.repository import Group
from roomctl.booking.series import WEEKDAYS
from roomctl.config import Settings
from roomctl.errors import ValidationError

PAST_GRACE = timedelta(minutes=5)
"""A booking may start this little before now (a form filled in at 10:00 and sent at 10:02)."""
END_OF_DAY = "24:00"


def _parse(text: str) -> time | None:
    """``"09:30"`` → 09:30; ``"24:00"`` → ``None`` (the end of the day)."""
    if text == END_OF_DAY:
        return None
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class OpeningHours:
    """Local opening ranges per weekday (0 = Monday)."""

    ranges: dict[int, list[tuple[time, time | None]]]

    @classmethod
    def from_settings(cls, hours: dict[str, str]) -> OpeningHours:
        """From ``[room] opening_hours`` (already validated by the settings)."""
        ranges: dict[int, list[tuple[time, time | None]]] = {}
        for index, day in enumerate(WEEKDAYS):
            parts = [p for p in hours.get(day, "").replace(" ", "").split(",") if p]
            ranges[index] = [(_parse(p.split("-")[0]) or time(0), _parse(p.split("-")[1])) for p in parts]
        return cls(ranges)

    def intervals(self, day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
        """The day's open intervals as zone-aware local datetimes."""
        found = []
        for start, end in self.ranges[day.weekday()]:
            opened = datetime.combine(day, start, tz)
            closed = datetime.combine(day + timedelta(days=1), time(0), tz) if end is None else datetime.combine(day, end, tz)
            found.append((opened, closed))
        return found

    def open_interval(self, start: datetime, end: datetime, tz: ZoneInfo) -> bool:
        """Whether ``[start, end)`` lies inside open hours (ranges that touch across midnight join)."""
        local_start = start.astimezone(tz)
        day = local_start.date() - timedelta(days=1)
        merged: list[list[datetime]] = []
        while day <= end.astimezone(tz).date():
            for opened, closed in self.intervals(day, tz):
                if merged and merged[-1][1] >= opened:
                    merged[-1][1] = max(merged[-1][1], closed)
                else:
                    merged.append([opened, closed])
            day += timedelta(days=1)
        return any(opened <= start and end <= closed for opened, closed in merged)

    def closing_after(self, instant: datetime, tz: ZoneInfo) -> datetime | None:
        """When the open interval holding ``instant`` ends (``None`` if the room is closed then)."""
        horizon = instant + timedelta(days=8)
        closing: datetime | None = None
        probe = instant
        while probe < horizon:
            local = probe.astimezone(tz)
            inside = [
                closed
                for day in (local.date() - timedelta(days=1), local.date())
                for opened, closed in self.intervals(day, tz)
                if opened <= probe < closed
            ]
            if not inside:
                break
            closing = probe = max(inside)
        return closing

    def describe(self, day: date) -> str:
        """The day's hours as text, e.g. ``07:00-22:00`` or ``closed``."""
        parts = [f"{s.strftime('%H:%M')}-{e.strftime('%H:%M') if e else END_OF_DAY}" for s, e in self.ranges[day.weekday()]]
        return ", ".join(parts) or "closed"


class BookingRules:
    """Checks a proposed booking against the room's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tz = settings.room.tz
        self.hours = OpeningHours.from_settings({str(k): v for k, v in settings.room.opening_hours.items()})
        self.max_length = timedelta(minutes=settings.booking.max_booking_minutes)

    def problems(self, start: datetime, end: datetime, now: datetime) -> list[str]:
        """Every broken rule for ``[start, end)``, as sentences saying what to change (empty: fine)."""
        found = []
        if end <= start:
            return ["the end must follow the start"]
        if end - start > self.max_length:
            found.append(f"a booking lasts at most {self.settings.booking.max_booking_minutes} minutes")
        if start < now - PAST_GRACE:
            found.append("the start lies in the past; choose a later time")
        if not self.hours.open_interval(start, end, self.tz):
            local = start.astimezone(self.tz)
            found.append(
                f"{local.strftime('%Y-%m-%d %H:%M')}-{end.astimezone(self.tz).strftime('%H:%M')} is outside the opening "
                f"hours ({WEEKDAYS[local.weekday()]} {self.hours.describe(local.date())}, {self.tz.key})"
            )
        return found

    def check(self, start: datetime, end: datetime, now: datetime) -> None:
        """Raise when a rule is broken.

        Raises:
            ValidationError: With every broken rule in ``problems``.
        """
        found = self.problems(start, end, now)
        if found:
            raise ValidationError("; ".join(found), problems=found)

    def group_size(self, group: Group) -> int:
        """People who come: the members and the facilitator if not a member."""
        extra = 1 if group.facilitator_id is not None and group.facilitator_id not in group.member_ids else 0
        return len(group.member_ids) + extra

    def check_capacity(self, group: Group) -> None:
        """Raise when the group does not fit the room.

        Raises:
            ValidationError: More people than ``[room] capacity``.
        """
        size = self.group_size(group)
        capacity = self.settings.room.capacity
        if size > capacity:
            raise ValidationError(
                f"group {group.name!r} has {size} people but the room holds {capacity}; make the group smaller",
                field="group_id",
            )
