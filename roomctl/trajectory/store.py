"""A member's trajectory as they compose it: how long it runs, the time agreed, what they want to work on.

- ``group_id``: the group it runs with (asked only when the member is in more than one group);
- ``starts_on``: the Monday of its first week (a local date; any day is moved back to its Monday);
- ``weeks``: how many weeks it runs (:data:`MAX_WEEKS` at most);
- ``minutes_per_week``: the learning time per week agreed with the manager;
- ``questions``: the kader questions the member wants to work on;
- ``learning_needs``: what they want to learn (suggested from accepted proposals, see :mod:`.progress`);
- ``wishes``: wishes for e-learning or training, as they put them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlite_utils

from roomctl.booking.repository import BookingRepository
from roomctl.errors import NotFoundError, StateError, ValidationError
from roomctl.session.choices import clean_text, clean_text_list
from roomctl.session.kader import KaderStore

log = logging.getLogger(__name__)

MAX_WEEKS = 104
"""Longest trajectory: two years of weeks."""
MAX_MINUTES_PER_WEEK = 2400
"""Most learning time per week that can be agreed (forty hours)."""
MAX_NEEDS = 12
"""Most learning needs."""
MAX_NEED_CHARS = 200
"""Longest learning need."""
MAX_WISHES_CHARS = 1000
"""Longest text of wishes for e-learning or training."""


@dataclass(frozen=True)
class Trajectory:
    """A member's trajectory (see the module docstring for the fields)."""

    member_id: int
    group_id: int
    starts_on: date
    weeks: int
    minutes_per_week: int
    questions: tuple[str, ...]
    learning_needs: tuple[str, ...]
    wishes: str

    @property
    def ends_on(self) -> date:
        """The Monday after its last week."""
        return self.starts_on + timedelta(weeks=self.weeks)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        data = asdict(self)
        data.update(starts_on=self.starts_on.isoformat(), ends_on=self.ends_on.isoformat(),
                    questions=list(self.questions), learning_needs=list(self.learning_needs))  # fmt: skip
        return data


def _whole(field: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(f"{field} must be a whole number from {low} to {high}", field=field)
    return value


class TrajectoryStore:
    """The ``trajectories`` table (event loop thread only)."""

    def __init__(self, db: sqlite_utils.Database, kader: KaderStore, now: Callable[[], datetime]) -> None:
        self.db = db
        self.kader = kader
        self.now = now
        self.people = BookingRepository(db)

    def get(self, member_id: int) -> Trajectory | None:
        """The member's trajectory, if they composed one."""
        rows = list(self.db.query("select * from trajectories where member_id = ?", [member_id]))
        if not rows:
            return None
        row = rows[0]
        return Trajectory(
            member_id=row["member_id"], group_id=row["group_id"], starts_on=date.fromisoformat(row["starts_on"]),
            weeks=row["weeks"], minutes_per_week=row["minutes_per_week"], questions=tuple(json.loads(row["questions"])),
            learning_needs=tuple(json.loads(row["learning_needs"])), wishes=row["wishes"],
        )  # fmt: skip

    def group_for(self, member_id: int, wanted: object) -> int:
        """The group a trajectory runs with: ``wanted``, or the member's only group.

        Raises:
            StateError: The member is in no group.
            ValidationError: The member is in two or more groups and ``wanted`` names none of them.
        """
        groups = self.people.groups_of(member_id)
        if not groups:
            raise StateError("you are not in a group yet; a trajectory runs with a group, ask your facilitator")
        if wanted is None and len(groups) == 1:
            return groups[0]
        if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted in groups:
            return wanted
        names = ", ".join(f"{self.people.group(g).name} ({g})" for g in groups)
        if wanted is None:
            raise ValidationError(f"you are in {len(groups)} groups: {names}; choose the group this trajectory "
                                  "runs with (group_id)", field="group_id", groups=groups)  # fmt: skip
        raise ValidationError(f"group_id must be one of your groups: {names}", field="group_id", groups=groups)

    def save(self, member_id: int, data: dict[str, Any], today: date) -> Trajectory:
        """Compose or change the member's trajectory; fields left out keep their value (or a default).

        Raises:
            NotFoundError: No such member.
            ValidationError: A field is out of range, or the group must be chosen (nothing changes).
            StateError: The member is in no group.
        """
        self.people.member(member_id)
        old = self.get(member_id)
        group_id = self.group_for(member_id, data.get("group_id", old.group_id if old else None))
        starts = data.get("starts_on", old.starts_on.isoformat() if old else today.isoformat())
        try:
            start_day = date.fromisoformat(starts) if isinstance(starts, str) else None
        except ValueError:
            start_day = None
        if start_day is None:
            raise ValidationError("starts_on must be a date such as 2026-03-02", field="starts_on")
        start_day -= timedelta(days=start_day.weekday())
        weeks = _whole("weeks", data.get("weeks", old.weeks if old else 20), 1, MAX_WEEKS)
        minutes = _whole("minutes_per_week", data.get("minutes_per_week", old.minutes_per_week if old else 240),
                         1, MAX_MINUTES_PER_WEEK)  # fmt: skip
        questions = (
            self.kader.ordered_ids(data["questions"], len(self.kader.list()))
            if "questions" in data
            else list(old.questions if old else ())
        )
        needs = (
            clean_text_list("learning_needs", data["learning_needs"], MAX_NEEDS, MAX_NEED_CHARS)
            if "learning_needs" in data
            else list(old.learning_needs if old else ())
        )
        wishes = clean_text("wishes", data.get("wishes", old.wishes if old else ""), MAX_WISHES_CHARS)
        stamp = self.now().isoformat()
        with self.db.atomic():
            self.db.execute(
                "insert into trajectories (member_id, group_id, starts_on, weeks, minutes_per_week, questions, "
                "learning_needs, wishes, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "on conflict (member_id) do update set group_id = excluded.group_id, starts_on = excluded.starts_on, "
                "weeks = excluded.weeks, minutes_per_week = excluded.minutes_per_week, questions = excluded.questions, "
                "learning_needs = excluded.learning_needs, wishes = excluded.wishes, updated_at = excluded.updated_at",
                [member_id, group_id, start_day.isoformat(), weeks, minutes, json.dumps(questions),
                 json.dumps(needs, ensure_ascii=False), wishes, stamp, stamp],
            )  # fmt: skip
        log.info("member %d saved their trajectory (%d weeks)", member_id, weeks)
        saved = self.get(member_id)
        if saved is None:
            raise NotFoundError("the trajectory was not stored")
        return saved
