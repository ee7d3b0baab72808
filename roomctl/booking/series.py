"""Weekly series: what a group asks for (weekdays, start times, a duration, a span of weeks) as RRULEs.

A series is stored as an RFC 5545 recurrence set (``DTSTART;TZID=...`` plus one ``RRULE`` per distinct start
time) and expanded in the room's local time zone with python-dateutil, so 09:00 stays 09:00 on both sides of a
daylight-saving change. Each occurrence then becomes a row in ``bookings`` with the series' id.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from roomctl.errors import ValidationError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names as the API takes them (Monday is 0, like :meth:`date.weekday`)."""
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_SLOTS = 21
"""At most this many weekly slots (three a day)."""
REFERENCE_MONDAY = date(2024, 1, 1)
"""A Monday, for moving slots by a wall-clock delta."""


@dataclass(frozen=True, order=True)
class Slot:
    """One weekly start: a weekday (0 = Monday) and a local start time."""

    weekday: int
    start: time

    def as_dict(self) -> dict[str, str]:
        """JSON-able form: ``{"weekday": "mon", "start": "09:00"}``."""
        return {"weekday": WEEKDAYS[self.weekday], "start": self.start.strftime("%H:%M")}

    def shifted(self, delta: timedelta) -> Slot:
        """The slot moved by a wall-clock ``delta`` (it may land on another weekday)."""
        moved = datetime.combine(REFERENCE_MONDAY + timedelta(days=self.weekday), self.start) + delta
        return Slot(moved.weekday(), moved.time())


@dataclass(frozen=True)
class SeriesSpec:
    """A weekly series in local terms.

    Attributes:
        slots: The weekly starts.
        duration: How long each occurrence lasts.
        first_date: The first local day of the series.
        last_date: The last local day (inclusive).
    """

    slots: tuple[Slot, ...]
    duration: timedelta
    first_date: date
    last_date: date

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "slots": [s.as_dict() for s in self.slots],
            "duration_minutes": int(self.duration.total_seconds() // 60),
            "first_date": self.first_date.isoformat(),
            "last_date": self.last_date.isoformat(),
        }


def parse_weekday(value: object) -> int:
    """``"mon"``, ``"MO"`` or ``"monday"`` → 0.

    Raises:
        ValidationError: Not a weekday.
    """
    index = _DAY_NAMES.get(str(value).strip().lower())
    if index is None:
        raise ValidationError(f"{value!r} is not a weekday; use one of: {', '.join(WEEKDAYS)}", field="weekday")
    return index


_DAY_NAMES = {
    name: index
    for index, names in enumerate(
        zip(WEEKDAYS, RRULE_DAYS, ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), strict=True)
    )
    for name in (names[0], names[1].lower(), names[2])
}


def parse_local_time(value: object) -> time:
    """``"09:00"`` → 09:00.

    Raises:
        ValidationError: Not HH:MM on the 24-hour clock.
    """
    text = str(value).strip()
    try:
        hours, minutes = text.split(":")
        parsed = time(int(hours), int(minutes))
    except ValueError:
        raise ValidationError(f"start time {value!r} is not HH:MM (24-hour clock), e.g. 09:00", field="start") from None
    if len(hours) != 2 or len(minutes) != 2:
        raise ValidationError(f"start time {value!r} is not HH:MM (24-hour clock), e.g. 09:00", field="start")
    return parsed


def make_spec(
    slots: Sequence[tuple[object, object]],
    duration_minutes: int,
    first_date: date,
    *,
    weeks: int | None,
    until: date | None,
    max_weeks: int,
) -> SeriesSpec:
    """Check what was asked for and build the spec.

    Raises:
        ValidationError: No or too many slots, an unknown weekday, a bad time, both or neither of ``weeks`` and
            ``until``, a span over ``max_weeks``, or slots whose occurrences would overlap each other.
    """
    if not slots:
        raise ValidationError("a series needs at least one weekday with a start time", field="slots")
    if len(slots) > MAX_SLOTS:
        raise ValidationError(f"a series has at most {MAX_SLOTS} weekly slots", field="slots")
    parsed = tuple(sorted({Slot(parse_weekday(day), parse_local_time(start)) for day, start in slots}))
    if duration_minutes <= 0:
        raise ValidationError("duration_minutes must be positive", field="duration_minutes")
    if (weeks is None) == (until is None):
        raise ValidationError("give either weeks (how many weeks) or until (the last date), not both", field="weeks")
    if weeks is not None:
        if not 1 <= weeks <= max_weeks:
            raise ValidationError(f"a series lasts 1 to {max_weeks} weeks, not {weeks}", field="weeks")
        last = first_date + timedelta(weeks=weeks) - timedelta(days=1)
    else:
        assert until is not None
        if until < first_date:
            raise ValidationError("until must not lie before first_date", field="until")
        if until >= first_date + timedelta(weeks=max_weeks):
            raise ValidationError(f"a series lasts at most {max_weeks} weeks; choose an earlier until", field="until")
        last = until
    duration = timedelta(minutes=duration_minutes)
    _check_slots_apart(parsed, duration)
    return SeriesSpec(parsed, duration, first_date, last)


def _check_slots_apart(slots: tuple[Slot, ...], duration: timedelta) -> None:
    week = timedelta(days=7)
    starts = [timedelta(days=s.weekday, hours=s.start.hour, minutes=s.start.minute) for s in slots]
    for index, start in enumerate(starts):
        following = starts[index + 1] if index + 1 < len(starts) else starts[0] + week
        if (len(starts) > 1 or duration >= week) and following - start < duration:
            raise ValidationError(
                f"occurrences of {slots[index].as_dict()} would run into the next one; shorten the duration",
                field="duration_minutes",
            )


def first_start(spec: SeriesSpec) -> datetime:
    """The naive local start of the first occurrence on or after ``first_date``."""
    candidates = []
    for slot in spec.slots:
        offset = (slot.weekday - spec.first_date.weekday()) % 7
        candidates.append(datetime.combine(spec.first_date + timedelta(days=offset), slot.start))
    return min(candidates)


def to_rrule(spec: SeriesSpec, tz: ZoneInfo, *, until: datetime | None = None) -> str:
    """The recurrence set as RFC 5545 text: ``DTSTART;TZID=...`` and one ``RRULE`` per start time.

    Args:
        spec: The series.
        tz: The room's time zone.
        until: Stop before this instant instead of at the end of ``last_date`` (a truncated series).
    """
    end = until or datetime.combine(spec.last_date + timedelta(days=1), time(0), tz) - timedelta(seconds=1)
    until_text = end.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    by_time: dict[time, list[int]] = defaultdict(list)
    for slot in spec.slots:
        by_time[slot.start].append(slot.weekday)
    lines = [f"DTSTART;TZID={tz.key}:{first_start(spec).strftime('%Y%m%dT%H%M%S')}"]
    for start, days in sorted(by_time.items()):
        lines.append(
            "RRULE:FREQ=WEEKLY;BYDAY=" + ",".join(RRULE_DAYS[d] for d in sorted(days))
            + f";BYHOUR={start.hour};BYMINUTE={start.minute};BYSECOND=0;UNTIL={until_text}"
        )
    return "\n".join(lines)


def expand_rrule(text: str) -> list[datetime]:
    """The local, zone-aware starts of a stored recurrence set, in order."""
    rules = rrulestr(text, forceset=True, tzids=ZoneInfo)
    return list(rules)


def occurrences(spec: SeriesSpec, tz: ZoneInfo) -> list[tuple[datetime, datetime, str | None]]:
    """Every occurrence as ``(start_utc, end_utc, problem)``; ``problem`` names a local time that does not exist.

    A start that falls in the hour skipped when clocks go forward does not exist on the wall clock; it is
    reported rather than silently moved.
    """
    found: list[tuple[datetime, datetime, str | None]] = []
    for local in expand_rrule(to_rrule(spec, tz)):
        start = local.astimezone(UTC)
        problem = None
        if start.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
            problem = f"{local.strftime('%Y-%m-%d %H:%M')} does not exist in {tz.key} (clocks go forward)"
        found.append((start, start + spec.duration, problem))
    return found


def spec_from_row(row: dict[str, Any]) -> SeriesSpec:
    """The spec stored with a ``series`` row."""
    slots = tuple(Slot(parse_weekday(s["weekday"]), parse_local_time(s["start"])) for s in json.loads(row["slots"]))
    return SeriesSpec(
        slots, timedelta(minutes=row["duration_minutes"]), date.fromisoformat(row["first_date"]),
        date.fromisoformat(row["last_date"]),
    )
