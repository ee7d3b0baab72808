"""A reporting period: ``?start=&end=`` as dates (room-local days) or instants with an offset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from roomctl.errors import ValidationError

DEFAULT_DAYS = 30
"""Without a start, a period covers the last this many days."""
MAX_DAYS = 3700
"""The longest period (a little over ten years)."""


@dataclass(frozen=True)
class Period:
    """A half-open interval ``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        """Length in days."""
        return (self.end - self.start).total_seconds() / 86400

    def clip(self, start: datetime, end: datetime) -> float:
        """Seconds of ``[start, end)`` inside the period (0 if none)."""
        return max((min(end, self.end) - max(start, self.start)).total_seconds(), 0.0)

    def until(self, instant: datetime) -> Period:
        """The part of the period before ``instant`` (empty if the period starts later)."""
        end = min(self.end, max(instant, self.start))
        return Period(self.start, end)

    def as_dict(self, tz: ZoneInfo) -> dict[str, object]:
        """JSON form, in the room's local time."""
        return {
            "start": self.start.astimezone(tz).isoformat(),
            "end": self.end.astimezone(tz).isoformat(),
            "days": round(self.days, 2),
            "timezone": tz.key,
        }


def _parse(value: str, tz: ZoneInfo, *, is_end: bool, name: str) -> datetime:
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if is_end:
                day += timedelta(days=1)  # an end date includes that whole day
            return datetime.combine(day, time(0), tz).astimezone(UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{name} {text[:40]!r} is not a date (2026-01-31) or an instant with an offset (2026-01-31T09:00:00+01:00)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def parse_period(start: str | None, end: str | None, tz: ZoneInfo, now: datetime) -> Period:
    """The period asked for; without ``end`` it ends now, without ``start`` it covers :data:`DEFAULT_DAYS`.

    Raises:
        ValidationError: A value is not a date or instant, the end is not after the start, or the period is
            longer than :data:`MAX_DAYS` days.
    """
    end_at = _parse(end, tz, is_end=True, name="end") if end else now.astimezone(UTC)
    start_at = _parse(start, tz, is_end=False, name="start") if start else end_at - timedelta(days=DEFAULT_DAYS)
    if end_at <= start_at:
        raise ValidationError("the period's end must come after its start", start=start_at.isoformat(), end=end_at.isoformat())
    if (end_at - start_at) > timedelta(days=MAX_DAYS):
        raise ValidationError(f"a period may be at most {MAX_DAYS} days (about ten years); choose a shorter one")
    return Period(start_at, end_at)
