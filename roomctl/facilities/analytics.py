"""Room-use analytics over a period: aggregate figures only, never who.

Rules (documented here once; the page and /metrics show the same figures):

- **Booked hours**: planned bookings (not walk-ins, not cancelled) inside the period, released ones included
  (they were booked). **Walk-in hours**: bookings of kind ``walkin``.
- **Used hours**: sessions (``started_at`` to ``ended_at``, or now while one runs) inside the period.
- **No-show rate**: planned bookings that were released because nobody checked in (status ``released``),
  divided by the planned bookings that have started by now.
- **Released slots re-used**: released bookings whose time overlaps a walk-in booking; the hours of overlap.
- **Utilisation per weekday and hour** (the heat map, room-local time): used hours in that weekday-hour,
  divided by how often that weekday-hour occurs in the period (1.0 = used every time).
- **Proposals validated**: proposals accepted by their group (status ``accepted``) with the verdict in the period.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from roomctl.facilities.period import Period

HOUR = timedelta(hours=1)
MIN_STEP = timedelta(minutes=1)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PLANNED_STATUSES = ("booked", "checked_in", "ended", "released")
"""Booking statuses that count as booked time (cancelled does not)."""


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def spread_hours(grid: list[list[float]], start: datetime, end: datetime, tz: ZoneInfo) -> None:
    """Add the hours of ``[start, end)`` to ``grid[weekday][hour]`` in local time."""
    cursor = start.astimezone(UTC)
    end = end.astimezone(UTC)
    while cursor < end:
        local = cursor.astimezone(tz)
        boundary = (local.replace(minute=0, second=0, microsecond=0) + HOUR).astimezone(UTC)
        boundary = min(max(boundary, cursor + MIN_STEP), end)
        grid[local.weekday()][local.hour] += (boundary - cursor).total_seconds() / 3600
        cursor = boundary


def hour_slots(period: Period, tz: ZoneInfo) -> list[list[float]]:
    """How many times each local weekday-hour occurs in the period (partial hours at the edges count partly)."""
    slots = [[0.0] * 24 for _ in WEEKDAYS]
    first = period.start.astimezone(tz).date()
    last = period.end.astimezone(tz).date()
    day: date = first
    while day <= last:
        start = datetime.combine(day, time(0), tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
        if period.start <= start and end <= period.end:
            for hour in range(24):
                slots[day.weekday()][hour] += 1
        else:
            spread_hours(slots, max(start, period.start), min(end, period.end), tz)
        day += timedelta(days=1)
    return slots


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def utilisation(db: sqlite_utils.Database, period: Period, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """The room-use figures for ``period`` (see the module's rules)."""
    lo, hi = period.start.isoformat(), period.end.isoformat()
    bookings = [
        {**r, "start": _instant(r["start_utc"]), "end": _instant(r["end_utc"])}
        for r in db.query(
            "select id, start_utc, end_utc, status, kind from bookings where start_utc < ? and end_utc > ? "
            "and status != 'cancelled'",
            [hi, lo],
        )
    ]
    planned = [b for b in bookings if b["kind"] != "walkin" and b["status"] in PLANNED_STATUSES]
    walkins = [b for b in bookings if b["kind"] == "walkin"]
    booked_grid = [[0.0] * 24 for _ in WEEKDAYS]
    used_grid = [[0.0] * 24 for _ in WEEKDAYS]
    booked_seconds = 0.0
    for booking in planned:
        booked_seconds += period.clip(booking["start"], booking["end"])
        spread_hours(booked_grid, max(booking["start"], period.start), min(booking["end"], period.end), tz)
    walkin_seconds = sum(period.clip(b["start"], b["end"]) for b in walkins)
    started = [b for b in planned if b["start"] <= now]
    released = [b for b in started if b["status"] == "released"]
    reused = 0
    reused_seconds = 0.0
    for booking in released:
        overlap = sum(
            max((min(booking["end"], w["end"]) - max(booking["start"], w["start"])).total_seconds(), 0.0) for w in walkins
        )
        if overlap > 0:
            reused += 1
            reused_seconds += min(overlap, (booking["end"] - booking["start"]).total_seconds())

    session_lengths: list[float] = []
    used_seconds = 0.0
    for row in db.query(
        "select started_at, ended_at from sessions where started_at < ? and coalesce(ended_at, ?) > ?", [hi, now.isoformat(), lo]
    ):
        start, end = _instant(row["started_at"]), _instant(row["ended_at"]) or now
        assert start is not None
        if end <= start:
            continue
        clipped = period.clip(start, end)
        if clipped <= 0:
            continue
        used_seconds += clipped
        session_lengths.append((end - start).total_seconds())
        spread_hours(used_grid, max(start, period.start), min(end, period.end), tz)

    proposals = 0
    if "proposals" in db.table_names():
        proposals = int(
            db.execute(
                "select count(*) from proposals where status = 'accepted' and decided_at >= ? and decided_at < ?", [lo, hi]
            ).fetchone()[0]
        )
    slots = hour_slots(period, tz)
    heat = [[_ratio(used_grid[d][h], slots[d][h]) for h in range(24)] for d in range(7)]
    per_weekday = [
        {
            "weekday": WEEKDAYS[d],
            "booked_hours": round(sum(booked_grid[d]), 2),
            "used_hours": round(sum(used_grid[d]), 2),
            "utilisation": _ratio(sum(used_grid[d]), sum(slots[d])),
        }
        for d in range(7)
    ]
    empty = not bookings and not session_lengths and not proposals
    return {
        "period": period.as_dict(tz),
        "empty": empty,
        "summary": {
            "booked_hours": round(booked_seconds / 3600, 2),
            "used_hours": round(used_seconds / 3600, 2),
            "walkin_hours": round(walkin_seconds / 3600, 2),
            "used_share_of_booked": _ratio(used_seconds, booked_seconds),
            "bookings": len(planned),
            "walkins": len(walkins),
            "sessions": len(session_lengths),
            "no_shows": len(released),
            "no_show_rate": _ratio(len(released), len(started)),
            "released_reused": reused,
            "released_reused_hours": round(reused_seconds / 3600, 2),
            "average_session_minutes": round(sum(session_lengths) / len(session_lengths) / 60, 1) if session_lengths else None,
            "proposals_validated": proposals,
        },
        "per_weekday": per_weekday,
        "heatmap": {
            "weekdays": list(WEEKDAYS),
            "hours": list(range(24)),
            "utilisation": heat,
            "used_hours": [[round(v, 3) for v in row] for row in used_grid],
            "booked_hours": [[round(v, 3) for v in row] for row in booked_grid],
        },
    }


def utilisation_csv(report: dict[str, Any]) -> str:
    """The report as CSV: the summary (metric,value), then the heat map (weekday,hour,...)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["metric", "value"])
    writer.writerow(["period_start", report["period"]["start"]])
    writer.writerow(["period_end", report["period"]["end"]])
    for key, value in report["summary"].items():
        writer.writerow([key, "" if value is None else value])
    writer.writerow([])
    writer.writerow(["weekday", "hour", "booked_hours", "used_hours", "utilisation"])
    heat = report["heatmap"]
    for d, weekday in enumerate(heat["weekdays"]):
        for h in heat["hours"]:
            value = heat["utilisation"][d][h]
            writer.writerow([weekday, h, heat["booked_hours"][d][h], heat["used_hours"][d][h], "" if value is None else value])
    return out.getvalue()
