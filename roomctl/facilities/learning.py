"""The learning-time report: minutes used against minutes offered, and the proposals the group validated.

Nothing about what anyone did or said in the sessions.

Rules:

- **Used**: a member present in a session (``session_presence``) counts the session's time from their
  ``first_seen_at`` to the session's end (``ended_at``, or now while it runs), clipped to the period. A group's
  used time is the sum over its members (member-minutes) and, separately, the time its sessions ran.
- **Offered**: the time of the group's bookings in the period up to now (booked, checked in, ended, released
  and walk-ins; cancelled bookings offered nothing). A member is offered the time of the bookings of every
  group they belong to.
- **Proposals validated**: the group's proposals with status ``accepted`` whose verdict falls in the period:
  count and titles only.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from roomctl.booking.repository import BookingRepository
from roomctl.facilities.period import Period

log = logging.getLogger(__name__)

OFFERED_STATUSES = ("booked", "checked_in", "ended", "released")


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _minutes(seconds: float) -> int:
    return round(seconds / 60)


def _share(used: float, offered: float) -> float | None:
    return round(used / offered, 4) if offered > 0 else None


def member_name(db: sqlite_utils.Database, member_id: int) -> str:
    """The member's name.

    Raises:
        NotFoundError: No such member.
    """
    return BookingRepository(db).member(member_id).name


def group_name(db: sqlite_utils.Database, group_id: int) -> str:
    """The group's name.

    Raises:
        NotFoundError: No such group.
    """
    return BookingRepository(db).group(group_id).name


def groups_of(db: sqlite_utils.Database, member_id: int) -> list[int]:
    """Ids of the groups a member belongs to."""
    return BookingRepository(db).groups_of(member_id)


def groups_of_members(db: sqlite_utils.Database, group_id: int) -> list[int]:
    """Ids of a group's members."""
    return list(BookingRepository(db).group(group_id).member_ids)


def groups_facilitated_by(db: sqlite_utils.Database, member_id: int) -> list[int]:
    """Ids of the groups a member facilitates."""
    return BookingRepository(db).groups_facilitated_by(member_id)


def offered_seconds(db: sqlite_utils.Database, group_id: int, period: Period, now: datetime) -> float:
    """Seconds the group's bookings offered within the period, up to now."""
    upto = period.until(now)
    slots = BookingRepository(db).group_slots(group_id, upto.start, upto.end, OFFERED_STATUSES)
    return sum(upto.clip(b.start, b.end) for b in slots)


def member_used_seconds(db: sqlite_utils.Database, member_id: int, period: Period, now: datetime) -> tuple[float, int]:
    """Seconds of learning time a member used in the period, and in how many sessions."""
    total = 0.0
    sessions = 0
    for row in db.query(
        "select p.first_seen_at, s.started_at, s.ended_at from session_presence p join sessions s on s.id = p.session_id "
        "where p.member_id = ? and s.started_at < ? and coalesce(s.ended_at, ?) > ?",
        [member_id, period.end.isoformat(), now.isoformat(), period.start.isoformat()],
    ):
        seen = _instant(row["first_seen_at"])
        end = _instant(row["ended_at"]) or now
        assert seen is not None
        seconds = period.clip(seen, end)
        if seconds > 0:
            total += seconds
            sessions += 1
    return total, sessions


def group_session_seconds(db: sqlite_utils.Database, group_id: int, period: Period, now: datetime) -> tuple[float, int]:
    """Seconds the group's sessions ran in the period, and how many."""
    total = 0.0
    count = 0
    for row in db.query(
        "select started_at, ended_at from sessions where group_id = ? and started_at < ? and coalesce(ended_at, ?) > ?",
        [group_id, period.end.isoformat(), now.isoformat(), period.start.isoformat()],
    ):
        start, end = _instant(row["started_at"]), _instant(row["ended_at"]) or now
        assert start is not None
        seconds = period.clip(start, end)
        if seconds > 0:
            total += seconds
            count += 1
    return total, count


def validated_proposals(db: sqlite_utils.Database, group_id: int, period: Period) -> list[dict[str, Any]]:
    """Titles and verdict times of the group's accepted proposals in the period."""
    if "proposals" not in db.table_names():
        return []
    found = []
    for row in db.query(
        "select id, content_json, decided_at from proposals where group_id = ? and status = 'accepted' "
        "and decided_at >= ? and decided_at < ? order by decided_at, id",
        [group_id, period.start.isoformat(), period.end.isoformat()],
    ):
        try:
            title = str(json.loads(row["content_json"]).get("title") or "")
        except (ValueError, AttributeError):
            log.warning("proposal %s has unreadable content; listed without a title", row["id"])
            title = ""
        found.append({"id": row["id"], "title": title, "decided_at": row["decided_at"]})
    return found


def member_report(db: sqlite_utils.Database, member_id: int, period: Period, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """One member's learning time in the period.

    Raises:
        NotFoundError: No such member.
    """
    name = member_name(db, member_id)
    used, sessions = member_used_seconds(db, member_id, period, now)
    groups = []
    offered_total = 0.0
    for group_id in groups_of(db, member_id):
        offered = offered_seconds(db, group_id, period, now)
        offered_total += offered
        proposals = validated_proposals(db, group_id, period)
        groups.append(
            {
                "id": group_id,
                "name": group_name(db, group_id),
                "offered_minutes": _minutes(offered),
                "proposals_validated": len(proposals),
                "proposals": proposals,
            }
        )
    return {
        "kind": "member",
        "member": {"id": member_id, "name": name},
        "period": period.as_dict(tz),
        "generated_at": now.astimezone(tz).isoformat(),
        "used_minutes": _minutes(used),
        "offered_minutes": _minutes(offered_total),
        "used_share": _share(used, offered_total),
        "sessions": sessions,
        "groups": groups,
        "proposals_validated": sum(g["proposals_validated"] for g in groups),
        "empty": not used and not offered_total and not any(g["proposals"] for g in groups),
    }


def group_report(
    db: sqlite_utils.Database, group_id: int, period: Period, tz: ZoneInfo, now: datetime, *, per_member: bool
) -> dict[str, Any]:
    """A group's learning time in the period; ``per_member`` adds each member's minutes (facilitators, admin).

    Raises:
        NotFoundError: No such group.
    """
    name = group_name(db, group_id)
    members = [
        (r[0], r[1])
        for r in db.execute(
            "select m.id, m.name from group_members g join members m on m.id = g.member_id where g.group_id = ? order by m.name",
            [group_id],
        )
    ]
    offered = offered_seconds(db, group_id, period, now)
    session_seconds, sessions = group_session_seconds(db, group_id, period, now)
    rows = []
    member_seconds = 0.0
    for member_id, member in members:
        used, _ = member_used_seconds(db, member_id, period, now)
        member_seconds += used
        rows.append({"id": member_id, "name": member, "used_minutes": _minutes(used), "used_share": _share(used, offered)})
    proposals = validated_proposals(db, group_id, period)
    report: dict[str, Any] = {
        "kind": "group",
        "group": {"id": group_id, "name": name, "members": len(members)},
        "period": period.as_dict(tz),
        "generated_at": now.astimezone(tz).isoformat(),
        "offered_minutes": _minutes(offered),
        "session_minutes": _minutes(session_seconds),
        "sessions": sessions,
        "member_minutes": _minutes(member_seconds),
        "member_minutes_offered": _minutes(offered * len(members)),
        "used_share": _share(member_seconds, offered * len(members)),
        "proposals_validated": len(proposals),
        "proposals": proposals,
        "empty": not offered and not session_seconds and not proposals,
    }
    if per_member:
        report["members"] = rows
    return report
