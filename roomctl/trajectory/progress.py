"""A member's own progress on their trajectory, and the report for the Talentontwikkelgesprek.

Progress is minutes of learning time used (the member's presence in sessions, as the learning-time report
counts it: :func:`roomctl.facilities.learning.member_used_seconds`) against the minutes agreed per week, and
the validated proposals of sessions the member took part in. A week whose agreed time is exceeded says so.
Nothing here tracks content, scores or completion: this is not a learning-management system.

The Talentontwikkelgesprek report holds only minutes used against agreed (per week and in total) and the
titles of those proposals: never activities, notes, choices or any other text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from roomctl.facilities.learning import member_used_seconds
from roomctl.facilities.period import Period
from roomctl.trajectory.store import Trajectory

SUGGESTIONS_SHOWN = 12
"""Most learning needs suggested."""


def _week_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def _label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def sessions_attended(db: sqlite_utils.Database, member_id: int) -> set[int]:
    """Ids of the sessions the member was present in."""
    rows = db.execute("select session_id from session_presence where member_id = ?", [member_id]).fetchall()
    return {int(r[0]) for r in rows}


def taken_part(accepted: list[dict[str, Any]], attended: set[int]) -> list[dict[str, Any]]:
    """The accepted proposals (as the proposal store gives them) of sessions in ``attended``: id, title, when."""
    return [
        {"id": p["id"], "title": (p.get("content") or {}).get("title") or "", "decided_at": p.get("decided_at")}
        for p in accepted
        if p.get("session_id") in attended
    ]


def suggested_needs(accepted: list[dict[str, Any]], chosen: tuple[str, ...]) -> list[str]:
    """Learning needs of accepted proposals, newest first, without repeats or those already chosen."""
    seen = {c.casefold() for c in chosen}
    found: list[str] = []
    for proposal in sorted(accepted, key=lambda p: (p.get("decided_at") or "", p["id"]), reverse=True):
        for need in (proposal.get("content") or {}).get("learning_needs") or []:
            if isinstance(need, str) and need.strip() and need.casefold() not in seen:
                seen.add(need.casefold())
                found.append(need.strip())
    return found[:SUGGESTIONS_SHOWN]


def weeks_so_far(
    db: sqlite_utils.Database, trajectory: Trajectory, tz: ZoneInfo, now: datetime
) -> list[dict[str, Any]]:
    """Every week of the trajectory that has begun: minutes used against the minutes agreed."""
    today = now.astimezone(tz).date()
    rows = []
    for index in range(trajectory.weeks):
        monday = trajectory.starts_on + timedelta(weeks=index)
        if monday > today:
            break
        period = Period(_week_start(monday, tz), _week_start(monday + timedelta(weeks=1), tz))
        used, _ = member_used_seconds(db, trajectory.member_id, period, now)
        used_minutes = round(used / 60)
        rows.append({"week": _label(monday), "starts_on": monday.isoformat(), "used_minutes": used_minutes,
                     "agreed_minutes": trajectory.minutes_per_week,
                     "over_minutes": max(used_minutes - trajectory.minutes_per_week, 0)})  # fmt: skip
    return rows


def progress(
    db: sqlite_utils.Database, trajectory: Trajectory, tz: ZoneInfo, now: datetime, accepted: list[dict[str, Any]]
) -> dict[str, Any]:
    """The member's own view: weeks so far, totals, a notice for weeks over the agreed time, their proposals."""
    weeks = weeks_so_far(db, trajectory, tz, now)
    over = [w for w in weeks if w["over_minutes"] > 0]
    notice = None
    if over:
        listed = ", ".join(f"{w['week']} (+{w['over_minutes']} min)" for w in over)
        notice = {
            "nl": f"In {len(over)} week(en) gebruikte je meer dan de afgesproken {trajectory.minutes_per_week} minuten: "
            f"{listed}. Bespreek dit met je leidinggevende.",
            "en": f"In {len(over)} week(s) you used more than the agreed {trajectory.minutes_per_week} minutes: "
            f"{listed}. Talk it over with your manager.",
        }
    return {
        "weeks": weeks,
        "used_minutes": sum(w["used_minutes"] for w in weeks),
        "agreed_minutes": trajectory.minutes_per_week * len(weeks),
        "agreed_total_minutes": trajectory.minutes_per_week * trajectory.weeks,
        "notice": notice,
        "proposals": taken_part(accepted, sessions_attended(db, trajectory.member_id)),
    }


def talent_report(
    db: sqlite_utils.Database, trajectory: Trajectory, name: str, tz: ZoneInfo, now: datetime,
    accepted: list[dict[str, Any]],
) -> dict[str, Any]:
    """For the Talentontwikkelgesprek: minutes used against agreed, and proposal titles. Nothing else."""
    weeks = weeks_so_far(db, trajectory, tz, now)
    return {
        "member": name,
        "starts_on": trajectory.starts_on.isoformat(),
        "ends_on": trajectory.ends_on.isoformat(),
        "weeks": [
            {"week": w["week"], "used_minutes": w["used_minutes"], "agreed_minutes": w["agreed_minutes"]} for w in weeks
        ],
        "used_minutes": sum(w["used_minutes"] for w in weeks),
        "agreed_minutes": trajectory.minutes_per_week * len(weeks),
        "proposals": [p["title"] for p in taken_part(accepted, sessions_attended(db, trajectory.member_id))],
    }
