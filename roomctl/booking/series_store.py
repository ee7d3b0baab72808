"""Weekly series in the database: create (all-or-nothing or partial), preview, cancel or move this-and-following.

A series and all its occurrences are written in one transaction: a crash halfway leaves no half series.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from roomctl.booking.repository import ACTIVE_STATUSES, Booking, to_db
from roomctl.booking.scheduler import Scheduler
from roomctl.booking.series import SeriesSpec, occurrences, spec_from_row, to_rrule
from roomctl.errors import ConflictError, NotFoundError, StateError, ValidationError

log = logging.getLogger(__name__)


@dataclass
class Occurrence:
    """One proposed occurrence and what stands in its way."""

    start: datetime
    end: datetime
    problems: list[str] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def free(self) -> bool:
        """Bookable as it is."""
        return not self.problems and not self.conflicts

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        out: dict[str, Any] = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.problems:
            out["problems"] = self.problems
        if self.conflicts:
            out["conflicts"] = self.conflicts
        return out


class SeriesStore:
    """Weekly series and their occurrences."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.db = scheduler.db
        self.tz = scheduler.rules.tz

    def plan(self, spec: SeriesSpec, *, now: datetime, ignore: frozenset[int] = frozenset()) -> list[Occurrence]:
        """Every occurrence of ``spec`` with its broken rules and conflicts."""
        planned = []
        for start, end, problem in occurrences(spec, self.tz):
            item = Occurrence(start, end, [problem] if problem else [])
            item.problems.extend(self.scheduler.rules.problems(start, end, now))
            item.conflicts = self.scheduler.conflicts(start, end, ignore=ignore)
            planned.append(item)
        return planned

    def create(
        self, group_id: int, spec: SeriesSpec, *, now: datetime, allow_partial: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        """Book a weekly series.

        Args:
            group_id: The group.
            spec: The series.
            now: The current instant.
            allow_partial: Book the free occurrences and report the rest instead of refusing.
            dry_run: Only report what would be booked and what stands in the way.

        Raises:
            ValidationError: Unknown group, too large a group, or (all-or-nothing) occurrences break rules.
            ConflictError: (All-or-nothing) occurrences overlap bookings or closures; every one is named.
        """
        group = self.scheduler.known_group(group_id)
        self.scheduler.rules.check_capacity(group)
        if spec.duration > self.scheduler.rules.max_length:
            limit = self.scheduler.settings.booking.max_booking_minutes
            raise ValidationError(f"an occurrence lasts at most {limit} minutes; shorten duration_minutes", field="duration_minutes")
        rrule = to_rrule(spec, self.tz)
        with self.db.atomic():
            planned = self.plan(spec, now=now)
            free = [o for o in planned if o.free]
            blocked = [o for o in planned if not o.free]
            report = {
                "group_id": group_id,
                "rrule": rrule,
                "spec": spec.as_dict(),
                "occurrences": [o.as_dict() for o in free],
                "skipped": [o.as_dict() for o in blocked],
                "conflicts": [{**c, "occurrence_start": o.start.isoformat()} for o in blocked for c in o.conflicts],
                "problems": [{"start": o.start.isoformat(), "problems": o.problems} for o in blocked if o.problems],
            }
            if dry_run:
                return {**report, "dry_run": True}
            if blocked and not allow_partial:
                self._refuse(blocked, report)
            if not free:
                raise ConflictError("no occurrence of this series is free; choose other times", **report)
            series_id = self._insert_series(group_id, spec, rrule, now)
            try:
                self.db.table("bookings").insert_all(
                    [
                        {
                            "group_id": group_id,
                            "series_id": series_id,
                            "start_utc": to_db(o.start),
                            "end_utc": to_db(o.end),
                            "status": "booked",
                            "kind": "series",
                            "created_at": to_db(now),
                            "updated_at": to_db(now),
                        }
                        for o in free
                    ]
                )
            except sqlite3.IntegrityError:
                raise ConflictError("the room was booked by someone else at the same moment; reload and try again") from None
        log.info("series %d for group %d: %d booked, %d skipped", series_id, group_id, len(free), len(blocked))
        return {**report, "series": self.get(series_id), "booked": [b.as_dict() for b in self.occurrences_of(series_id)]}

    def _refuse(self, blocked: list[Occurrence], report: dict[str, Any]) -> None:
        with_problems = [o for o in blocked if o.problems]
        if with_problems:
            first = with_problems[0]
            raise ValidationError(
                f"{len(with_problems)} occurrence(s) break the room's rules, e.g. {first.start.isoformat()}: "
                f"{first.problems[0]}; change the series or book with allow_partial",
                **report,
            )
        named = "; ".join(
            f"{o.start.isoformat()} clashes with " + ", ".join(f"{c.get('group') or c.get('summary')} {c['start']} to {c['end']}" for c in o.conflicts)
            for o in blocked
        )
        raise ConflictError(f"{len(blocked)} occurrence(s) are not free: {named}", **report)

    def _insert_series(self, group_id: int, spec: SeriesSpec, rrule: str, now: datetime, split_from: int | None = None) -> int:
        table = self.db.table("series")
        table.insert(
            {
                "group_id": group_id,
                "rrule": rrule,
                "timezone": self.tz.key,
                "slots": json.dumps([s.as_dict() for s in spec.slots]),
                "duration_minutes": int(spec.duration.total_seconds() // 60),
                "first_date": spec.first_date.isoformat(),
                "last_date": spec.last_date.isoformat(),
                "created_at": to_db(now),
                "split_from": split_from,
            }
        )
        return int(table.last_pk)  # type: ignore[arg-type]

    # -- reading --------------------------------------------------------------------------------------------

    def row(self, series_id: int) -> dict[str, Any]:
        """The ``series`` row.

        Raises:
            NotFoundError: No such series.
        """
        rows = list(self.db.query("select * from series where id = ?", [series_id]))
        if not rows:
            raise NotFoundError(f"series {series_id} does not exist")
        return dict(rows[0])

    def occurrences_of(self, series_id: int) -> list[Booking]:
        """Every occurrence row of a series, in time order."""
        rows = self.db.query("select * from bookings where series_id = ? order by start_utc", [series_id])
        return [Booking.from_row(r) for r in rows]

    def no_show_streak(self, series_id: int, now: datetime) -> int:
        """Consecutive released (no-show) occurrences up to now, newest first."""
        streak = 0
        rows = self.db.query(
            "select status from bookings where series_id = ? and start_utc <= ? and status != 'cancelled' "
            "order by start_utc desc",
            [series_id, to_db(now)],
        )
        for row in rows:
            if row["status"] != "released":
                break
            streak += 1
        return streak

    def get(self, series_id: int, now: datetime | None = None) -> dict[str, Any]:
        """A series with its rule, counts and flag."""
        row = self.row(series_id)
        counts = {
            r["status"]: r["n"]
            for r in self.db.query("select status, count(*) as n from bookings where series_id = ? group by status", [series_id])
        }
        return {
            "id": row["id"],
            "group_id": row["group_id"],
            "rrule": row["rrule"],
            "timezone": row["timezone"],
            **spec_from_row(row).as_dict(),
            "created_at": row["created_at"],
            "cancelled_at": row["cancelled_at"],
            "flagged_at": row["flagged_at"],
            "flagged": row["flagged_at"] is not None,
            "split_from": row["split_from"],
            "counts": counts,
            "no_shows": counts.get("released", 0),
            "no_show_streak": self.no_show_streak(series_id, now) if now else None,
        }

    def listing(self, *, group_ids: set[int] | None, flagged_only: bool, now: datetime) -> list[dict[str, Any]]:
        """Series, newest first, optionally of some groups or only the flagged ones."""
        rows = list(
            self.db.query(
                "select id, group_id from series where flagged_at is not null or not ? order by id desc", [flagged_only]
            )
        )
        return [self.get(r["id"], now) for r in rows if group_ids is None or r["group_id"] in group_ids]

    def clear_flag(self, series_id: int) -> dict[str, Any]:
        """Clear a no-show flag (the group talked about it)."""
        self.row(series_id)
        with self.db.atomic():
            self.db.execute("update series set flagged_at = null where id = ?", [series_id])
        return self.get(series_id)

    # -- this and following ---------------------------------------------------------------------------------

    def _following(self, booking: Booking) -> list[Booking]:
        if booking.series_id is None:
            raise ValidationError(f"booking {booking.id} is not part of a series; use scope=this", field="scope")
        placeholders = ",".join("?" for _ in ACTIVE_STATUSES)
        rows = self.db.query(
            f"select * from bookings where series_id = ? and start_utc >= ? and status in ({placeholders}) "  # noqa: S608
            "order by start_utc",
            [booking.series_id, to_db(booking.start), *ACTIVE_STATUSES],
        )
        return [Booking.from_row(r) for r in rows]

    def _has_earlier(self, booking: Booking) -> bool:
        return bool(
            list(
                self.db.query(
                    "select 1 from bookings where series_id = ? and start_utc < ? and status != 'cancelled' limit 1",
                    [booking.series_id, to_db(booking.start)],
                )
            )
        )

    def _truncate(self, series_id: int, before: datetime) -> None:
        """End a series just before ``before`` (its RRULE gets that UNTIL)."""
        row = self.row(series_id)
        spec = spec_from_row(row)
        last = (before - timedelta(seconds=1)).astimezone(self.tz).date()
        truncated = SeriesSpec(spec.slots, spec.duration, spec.first_date, max(last, spec.first_date))
        self.db.execute(
            "update series set rrule = ?, last_date = ? where id = ?",
            [to_rrule(truncated, self.tz, until=before - timedelta(seconds=1)), truncated.last_date.isoformat(), series_id],
        )

    def cancel_following(self, booking_id: int, *, now: datetime) -> list[Booking]:
        """Cancel an occurrence and every later one of its series.

        Raises:
            ValidationError: Not part of a series.
            StateError: It is over or not active.
        """
        booking = self.scheduler.active(booking_id)
        if booking.end <= now:
            raise StateError(f"booking {booking_id} is over; cancel from a later occurrence")
        targets = [b for b in self._following(booking) if b.end > now]
        assert booking.series_id is not None
        with self.db.atomic():
            self.db.conn.executemany(
                "update bookings set status = 'cancelled', sequence = sequence + 1, updated_at = ? where id = ?",
                [(to_db(now), b.id) for b in targets],
            )
            if self._has_earlier(booking):
                self._truncate(booking.series_id, booking.start)
            else:
                self.db.execute("update series set cancelled_at = ? where id = ?", [to_db(now), booking.series_id])
        log.info("series %d: %d occurrences cancelled from booking %d on", booking.series_id, len(targets), booking_id)
        return [self.scheduler.repo.booking(b.id) for b in targets]

    def move_following(self, booking_id: int, start: datetime, end: datetime, *, now: datetime) -> list[Booking]:
        """Move an occurrence and every later one of its series by the same wall-clock change.

        Raises:
            ValidationError: Not part of a series, or a moved occurrence would break a rule (all listed).
            ConflictError: Moved occurrences would overlap bookings or closures (all named).
            StateError: The occurrence has started.
        """
        booking = self.scheduler.active(booking_id)
        if booking.status != "booked" or booking.start <= now:
            raise StateError(f"booking {booking_id} has started; move a later occurrence")
        targets = self._following(booking)
        assert booking.series_id is not None
        delta = start.astimezone(self.tz).replace(tzinfo=None) - booking.start.astimezone(self.tz).replace(tzinfo=None)
        duration = end - start
        ids = frozenset(b.id for b in targets)
        moved: list[Occurrence] = []
        for target in targets:
            local = (target.start.astimezone(self.tz).replace(tzinfo=None) + delta).replace(tzinfo=self.tz)
            new_start = local.astimezone(self.tz)
            item = Occurrence(new_start, new_start + duration)
            item.problems = self.scheduler.rules.problems(item.start, item.end, now)
            item.conflicts = self.scheduler.conflicts(item.start, item.end, ignore=ids)
            moved.append(item)
        old = self.row(booking.series_id)
        old_spec = spec_from_row(old)
        new_spec = SeriesSpec(
            tuple(sorted({s.shifted(delta) for s in old_spec.slots})),
            duration,
            moved[0].start.astimezone(self.tz).date(),
            max(m.start.astimezone(self.tz).date() for m in moved),
        )
        with self.db.atomic():
            blocked = [m for m in moved if not m.free]
            if blocked:
                self._refuse(blocked, {"skipped": [m.as_dict() for m in blocked]})
            series_id = int(old["id"])
            if self._has_earlier(booking):
                self._truncate(series_id, booking.start)
                series_id = self._insert_series(old["group_id"], new_spec, to_rrule(new_spec, self.tz), now, split_from=series_id)
            else:
                self._update_spec(series_id, new_spec)
            self.db.conn.executemany("update bookings set status = 'moving' where id = ?", [(b.id,) for b in targets])
            self.db.conn.executemany(
                "update bookings set start_utc = ?, end_utc = ?, series_id = ?, status = 'booked', "
                "sequence = sequence + 1, updated_at = ? where id = ?",
                [(to_db(m.start), to_db(m.end), series_id, to_db(now), b.id) for m, b in zip(moved, targets, strict=True)],
            )
        log.info("series %s: %d occurrences moved by %s", old["id"], len(targets), delta)
        return [self.scheduler.repo.booking(b.id) for b in targets]

    def _update_spec(self, series_id: int, spec: SeriesSpec) -> None:
        self.db.execute(
            "update series set rrule = ?, slots = ?, duration_minutes = ?, first_date = ?, last_date = ? where id = ?",
            [
                to_rrule(spec, self.tz),
                json.dumps([s.as_dict() for s in spec.slots]),
                int(spec.duration.total_seconds() // 60),
                spec.first_date.isoformat(),
                spec.last_date.isoformat(),
                series_id,
            ],
        )

    def cancel_rest(self, series_id: int, *, now: datetime) -> int:
        """Cancel every future occurrence of a series and mark it cancelled (auto-cancel after no-shows)."""
        with self.db.atomic():
            cursor = self.db.execute(
                "update bookings set status = 'cancelled', sequence = sequence + 1, updated_at = ? "
                "where series_id = ? and status = 'booked' and start_utc > ?",
                [to_db(now), series_id, to_db(now)],
            )
            self.db.execute("update series set cancelled_at = ? where id = ?", [to_db(now), series_id])
        return int(cursor.rowcount)

