"""Releasing bookings nobody used: no check-in by the end of the check-in window frees the room.

A released occurrence records a no-show. When a series collects ``no_show_threshold`` no-shows in a row it is
flagged (the group's facilitator sees it through the API); with ``no_show_cancels_series`` the rest of the
series is cancelled as well.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from roomctl.booking.repository import Booking, to_db
from roomctl.booking.series_store import SeriesStore

log = logging.getLogger(__name__)


@dataclass
class ReleaseReport:
    """What one release pass did."""

    released: list[int] = field(default_factory=list)
    flagged: list[int] = field(default_factory=list)
    cancelled: dict[int, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.released)


def release_due(series: SeriesStore, now: datetime) -> ReleaseReport:
    """Release every booking whose check-in window has closed without a check-in.

    Each release, its no-show and any flag or cancellation it causes are written in one transaction.
    """
    settings = series.scheduler.settings.booking
    cutoff = now - timedelta(minutes=settings.checkin_after_minutes)
    db = series.db
    rows = list(
        db.query("select * from bookings where status = 'booked' and start_utc < ? order by start_utc", [to_db(cutoff)])
    )
    report = ReleaseReport()
    for row in rows:
        booking = Booking.from_row(row)
        with db.atomic():
            db.execute(
                "update bookings set status = 'released', updated_at = ? where id = ? and status = 'booked'",
                [to_db(now), booking.id],
            )
            db.execute(
                "insert or ignore into no_shows (booking_id, series_id, group_id, start_utc, recorded_at) "
                "values (?, ?, ?, ?, ?)",
                [booking.id, booking.series_id, booking.group_id, to_db(booking.start), to_db(now)],
            )
        report.released.append(booking.id)
        log.info("booking %d released: nobody checked in by %s (no-show)", booking.id, cutoff.isoformat())
        if booking.series_id is not None:
            _check_series(series, booking.series_id, now, report)
    return report


def _check_series(series: SeriesStore, series_id: int, now: datetime, report: ReleaseReport) -> None:
    settings = series.scheduler.settings.booking
    streak = series.no_show_streak(series_id, now)
    if streak < settings.no_show_threshold:
        return
    row = series.row(series_id)
    if row["flagged_at"] is None:
        with series.db.atomic():
            series.db.execute("update series set flagged_at = ? where id = ?", [to_db(now), series_id])
        report.flagged.append(series_id)
        log.warning("series %d flagged: %d no-shows in a row", series_id, streak)
    if settings.no_show_cancels_series and row["cancelled_at"] is None:
        report.cancelled[series_id] = series.cancel_rest(series_id, now=now)
        log.warning("series %d: rest cancelled after %d no-shows (%d occurrences)", series_id, streak, report.cancelled[series_id])
