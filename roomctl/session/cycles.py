"""Cycles: a group's week of sessions, and the kader questions and work situations it takes on that week.

A cycle is a calendar week (Monday 00:00 to the next Monday 00:00) in the room's time zone, so a week holding
a change to or from summer time is 167 or 169 hours long and a session late on Sunday evening local time
belongs to that week even when it is Monday in UTC. At the cycle's first session the group chooses, on the
tablet, the questions and work situations for the week (the ``cycle`` command); every other session of the
week opens with them (its chosen questions, and the first work situation as today's), and any session of the
week can change them. Each change is kept (``cycle_changes``), so a group's cycles are its history.

A week with a closure (holiday, maintenance) is still a cycle: its view says which days are closed and how
many of the group's sessions are still booked, and choosing for it works as in any week.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from roomctl.booking.closures import ClosureStore
from roomctl.booking.repository import BookingRepository, from_db, to_db
from roomctl.errors import NotFoundError, ValidationError
from roomctl.session.choices import MAX_CHOSEN_QUESTIONS, MAX_SITUATION_CHARS, clean_text_list
from roomctl.session.kader import KaderStore

log = logging.getLogger(__name__)

MAX_SITUATIONS = 8
"""Most work situations a group takes on in one week (four sessions, a few spare)."""
HISTORY_LIMIT = 520
"""Most cycles one history answer lists (ten years of weeks)."""
BOOKED_STATUSES = ("booked", "checked_in", "ended")
"""Bookings that count as the week's sessions (cancelled and released ones do not)."""


@dataclass(frozen=True)
class Cycle:
    """One group's week.

    Attributes:
        id: Row id.
        group_id: The group.
        week: ISO week in the room's zone, e.g. ``2026-W10``.
        starts_at: Monday 00:00 local, as a UTC instant.
        ends_at: The next Monday 00:00 local, as a UTC instant.
        questions: Kader question ids chosen for the week, in the kader's order.
        situations: Work situations chosen for the week.
        first_session_id: The week's first session, once one started.
    """

    id: int
    group_id: int
    week: str
    starts_at: datetime
    ends_at: datetime
    questions: tuple[str, ...]
    situations: tuple[str, ...]
    first_session_id: int | None

    @property
    def chosen(self) -> bool:
        """True once the group chose something for the week."""
        return bool(self.questions or self.situations)

    def as_dict(self, tz: ZoneInfo) -> dict[str, Any]:
        """JSON-able form, times in the room's zone."""
        return {
            "id": self.id,
            "group_id": self.group_id,
            "week": self.week,
            "starts_at": self.starts_at.astimezone(tz).isoformat(),
            "ends_at": self.ends_at.astimezone(tz).isoformat(),
            "questions": list(self.questions),
            "situations": list(self.situations),
            "first_session_id": self.first_session_id,
        }


def week_bounds(instant: datetime, tz: ZoneInfo) -> tuple[str, datetime, datetime]:
    """The ISO week holding ``instant`` in ``tz``: its key and its start and end as UTC-aware instants."""
    local = instant.astimezone(tz).date()
    monday = local - timedelta(days=local.weekday())
    return _week_of_monday(monday, tz)


def _week_of_monday(monday: date, tz: ZoneInfo) -> tuple[str, datetime, datetime]:
    year, week, _ = monday.isocalendar()
    start = datetime.combine(monday, time(0), tz).astimezone(UTC)
    end = datetime.combine(monday + timedelta(days=7), time(0), tz).astimezone(UTC)
    return f"{year}-W{week:02d}", start, end


def _from_row(row: dict[str, Any]) -> Cycle:
    start, end = from_db(row["starts_at"]), from_db(row["ends_at"])
    assert start is not None and end is not None
    return Cycle(
        id=int(row["id"]),
        group_id=int(row["group_id"]),
        week=row["week"],
        starts_at=start,
        ends_at=end,
        questions=tuple(json.loads(row["questions"])),
        situations=tuple(json.loads(row["situations"])),
        first_session_id=row["first_session_id"],
    )


class CycleStore:
    """The ``cycles`` and ``cycle_changes`` tables (event loop thread only)."""

    def __init__(self, db: sqlite_utils.Database, kader: KaderStore, tz: ZoneInfo, now: Callable[[], datetime]) -> None:
        self.db = db
        self.kader = kader
        self.tz = tz
        self.now = now

    def cycle(self, cycle_id: int) -> Cycle:
        """One cycle.

        Raises:
            NotFoundError: No such cycle.
        """
        rows = list(self.db.query("select * from cycles where id = ?", [cycle_id]))
        if not rows:
            raise NotFoundError(f"there is no cycle {cycle_id}")
        return _from_row(rows[0])

    def find(self, group_id: int, instant: datetime) -> Cycle | None:
        """The group's cycle of the week holding ``instant``, if it was opened."""
        week, _, _ = week_bounds(instant, self.tz)
        rows = list(self.db.query("select * from cycles where group_id = ? and week = ?", [group_id, week]))
        return _from_row(rows[0]) if rows else None

    def for_week(self, group_id: int, instant: datetime) -> Cycle:
        """The group's cycle of the week holding ``instant``, opened (empty) when it has none yet."""
        found = self.find(group_id, instant)
        if found is not None:
            return found
        week, start, end = week_bounds(instant, self.tz)
        stamp = self.now().isoformat()
        with self.db.atomic():
            self.db.execute(
                "insert or ignore into cycles (group_id, week, starts_at, ends_at, created_at, updated_at) "
                "values (?, ?, ?, ?, ?, ?)",
                [group_id, week, to_db(start), to_db(end), stamp, stamp],
            )
        found = self.find(group_id, instant)
        assert found is not None
        return found

    def attach_session(self, group_id: int, session_id: int, started: datetime) -> Cycle:
        """Put a new session in its week's cycle and open it with the week's choices.

        The first session of the week becomes the cycle's ``first_session_id``. Call inside the transaction
        that created the session.
        """
        cycle = self.for_week(group_id, started)
        with self.db.atomic():
            if cycle.first_session_id is None:
                self.db.execute("update cycles set first_session_id = ? where id = ?", [session_id, cycle.id])
            self.db.execute(
                "update sessions set cycle_id = ?, chosen_questions = ?, work_situation = ? where id = ?",
                [
                    cycle.id,
                    json.dumps(list(cycle.questions)) if cycle.questions else None,
                    cycle.situations[0] if cycle.situations else None,
                    session_id,
                ],
            )
        return self.cycle(cycle.id)

    def choose(self, cycle_id: int, args: dict[str, Any], session_id: int | None) -> Cycle:
        """Change the week's ``questions`` and/or ``situations`` (a missing key keeps what was chosen).

        Raises:
            ValidationError: Bad lists, texts too long (nothing changes).
            NotFoundError: An unknown question or cycle.
        """
        cycle = self.cycle(cycle_id)
        if "questions" not in args and "situations" not in args:
            raise ValidationError("give questions (kader question ids) and/or situations (work situations)")
        questions = (
            self.kader.ordered_ids(args["questions"], MAX_CHOSEN_QUESTIONS) if "questions" in args else list(cycle.questions)
        )
        situations = (
            clean_text_list("situations", args["situations"], MAX_SITUATIONS, MAX_SITUATION_CHARS)
            if "situations" in args
            else list(cycle.situations)
        )
        stamp = self.now().isoformat()
        with self.db.atomic():
            self.db.execute(
                "update cycles set questions = ?, situations = ?, updated_at = ? where id = ?",
                [json.dumps(questions), json.dumps(situations, ensure_ascii=False), stamp, cycle_id],
            )
            self.db.execute(
                "insert into cycle_changes (cycle_id, session_id, questions, situations, changed_at) values (?, ?, ?, ?, ?)",
                [cycle_id, session_id, json.dumps(questions), json.dumps(situations, ensure_ascii=False), stamp],
            )
        log.info("cycle %s (%s): %d questions, %d situations", cycle_id, cycle.week, len(questions), len(situations))
        return self.cycle(cycle_id)

    def calendar(self, cycle: Cycle) -> dict[str, Any]:
        """The week's booked sessions and closures, with a notice when a closure falls in the week."""
        repo = BookingRepository(self.db)
        slots = repo.group_slots(cycle.group_id, cycle.starts_at, cycle.ends_at, BOOKED_STATUSES)
        closures = ClosureStore(self.db).overlapping(cycle.starts_at, cycle.ends_at)
        notice = None
        if closures:
            names = ", ".join(
                f"{c.summary} ({c.start.astimezone(self.tz):%a %d %b} to {(c.end - timedelta(seconds=1)).astimezone(self.tz):%a %d %b})"
                for c in closures
            )
            notice = {
                "nl": f"Deze week is de ruimte (deels) gesloten: {names}. Er staan nog {len(slots)} sessies gepland; "
                "de keuze van de week geldt voor die sessies.",
                "en": f"The room is closed part of this week: {names}. {len(slots)} sessions are still booked; "
                "the week's choice holds for those.",
            }
        tz = self.tz
        booked = [{"start": b.start.astimezone(tz).isoformat(), "end": b.end.astimezone(tz).isoformat()} for b in slots]
        closed = [
            {"summary": c.summary, "start": c.start.astimezone(tz).isoformat(), "end": c.end.astimezone(tz).isoformat()}
            for c in closures
        ]
        return {"sessions_booked": booked, "closures": closed, "notice": notice}

    def sessions_of(self, cycle_id: int) -> list[dict[str, Any]]:
        """The cycle's sessions (id, start, end), oldest first."""
        rows = self.db.query(
            "select id, started_at, ended_at from sessions where cycle_id = ? order by started_at, id", [cycle_id]
        )
        return [{"id": r["id"], "started_at": r["started_at"], "ended_at": r["ended_at"]} for r in rows]

    def view(self, cycle: Cycle) -> dict[str, Any]:
        """The cycle as screens and the API show it: choices with texts, its sessions and calendar."""
        texts = self.kader.texts()
        return {
            **cycle.as_dict(self.tz),
            "question_texts": [{"id": q, **texts[q]} for q in cycle.questions if q in texts],
            "chosen": cycle.chosen,
            "sessions": self.sessions_of(cycle.id),
            **self.calendar(cycle),
        }

    def history(self, group_id: int, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
        """The group's cycles, newest first, each with its choices and every change made to them."""
        cycles = [_from_row(r) for r in self.db.query(
            "select * from cycles where group_id = ? order by starts_at desc limit ?", [group_id, limit])]  # fmt: skip
        if not cycles:
            return []
        ids = [c.id for c in cycles]
        marks = ",".join("?" for _ in ids)
        changes: dict[int, list[dict[str, Any]]] = {}
        for row in self.db.query(
            f"select * from cycle_changes where cycle_id in ({marks}) order by changed_at, id", ids  # noqa: S608
        ):
            change = {
                "session_id": row["session_id"],
                "questions": json.loads(row["questions"]),
                "situations": json.loads(row["situations"]),
                "changed_at": row["changed_at"],
            }
            changes.setdefault(row["cycle_id"], []).append(change)
        counts = dict(self.db.execute(
            f"select cycle_id, count(*) from sessions where cycle_id in ({marks}) group by cycle_id", ids  # noqa: S608
        ).fetchall())  # fmt: skip
        return [
            {**c.as_dict(self.tz), "sessions": counts.get(c.id, 0), "changes": changes.get(c.id, [])} for c in cycles
        ]
