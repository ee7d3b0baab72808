"""Reading and writing people, groups and bookings (the booking capability's data access)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from roomctl.errors import ConflictError, NotFoundError, ValidationError

UID_PATTERN = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")
"""4-, 7- and 10-byte NFC UIDs, as upper-case hex without separators."""
MAX_RAW_UID_LENGTH = 64

ACTIVE_STATUSES = ("booked", "checked_in")
"""Bookings in these states hold the room."""


def normalize_uid(raw: object) -> str:
    """``04:a1:b2:c3`` → ``04A1B2C3``.

    Raises:
        ValidationError: Not a 4-, 7- or 10-byte UID in hex.
    """
    cleaned = re.sub(r"[\s:-]", "", raw).upper() if isinstance(raw, str) and len(raw) <= MAX_RAW_UID_LENGTH else ""
    if not UID_PATTERN.match(cleaned):
        raise ValidationError("a badge UID is 4, 7 or 10 bytes in hex, e.g. 04A1B2C3 or 04:A1:B2:C3:D4:E5:F6")
    return cleaned


def to_db(instant: datetime) -> str:
    """The stored form of an instant: UTC ISO 8601.

    Raises:
        ValidationError: ``instant`` has no offset.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValidationError("times need an offset, e.g. 2026-11-30T09:00:00+01:00")
    return instant.astimezone(UTC).isoformat()


def from_db(value: str | None) -> datetime | None:
    """An instant read back from the database."""
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Member:
    """A professional who uses the room."""

    id: int
    name: str
    email: str | None


@dataclass(frozen=True)
class Group:
    """A self-chosen group of professionals, with an optional facilitator."""

    id: int
    name: str
    facilitator_id: int | None
    member_ids: tuple[int, ...]


@dataclass(frozen=True)
class Booking:
    """One occurrence the room is booked for."""

    id: int
    group_id: int
    series_id: int | None
    start: datetime
    end: datetime
    status: str
    kind: str
    checked_in_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Booking:
        """Build from a ``bookings`` row."""
        start, end = from_db(row["start_utc"]), from_db(row["end_utc"])
        assert start is not None and end is not None
        return cls(
            id=row["id"],
            group_id=row["group_id"],
            series_id=row["series_id"],
            start=start,
            end=end,
            status=row["status"],
            kind=row["kind"],
            checked_in_at=from_db(row["checked_in_at"]),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "id": self.id,
            "group_id": self.group_id,
            "series_id": self.series_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "status": self.status,
            "kind": self.kind,
            "checked_in_at": self.checked_in_at.isoformat() if self.checked_in_at else None,
        }


class BookingRepository:
    """People, groups and bookings in the room's database."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    # -- members and badges ---------------------------------------------------------------------------------

    def add_member(self, name: str, *, now: datetime, email: str | None = None) -> Member:
        """Create a member."""
        if not name.strip():
            raise ValidationError("a member needs a name")
        with self.db.atomic():
            table = self.db.table("members")
            table.insert({"name": name.strip(), "email": email, "created_at": to_db(now), "active": 1})
            member_id = int(table.last_pk)  # type: ignore[arg-type]
        return Member(member_id, name.strip(), email)

    def member(self, member_id: int) -> Member:
        """A member by id.

        Raises:
            NotFoundError: No such member.
        """
        rows = list(self.db.query("select id, name, email from members where id = ?", [member_id]))
        if not rows:
            raise NotFoundError(f"member {member_id} does not exist")
        return Member(rows[0]["id"], rows[0]["name"], rows[0]["email"])

    def members(self) -> list[Member]:
        """Every active member, by name."""
        return [
            Member(r["id"], r["name"], r["email"])
            for r in self.db.query("select id, name, email from members where active = 1 order by name")
        ]

    def enroll_badge(self, member_id: int, uid: str, *, now: datetime) -> str:
        """Enroll a badge for a member; return the normalised UID.

        Raises:
            ConflictError: The UID is enrolled to someone already.
        """
        normalized = normalize_uid(uid)
        self.member(member_id)
        with self.db.atomic():
            owner = list(self.db.query("select member_id from badges where uid = ? and revoked_at is null", [normalized]))
            if owner:
                if owner[0]["member_id"] == member_id:
                    return normalized
                raise ConflictError(f"badge {normalized} is already enrolled to member {owner[0]['member_id']}; revoke it there first")
            self.db.table("badges").insert({"member_id": member_id, "uid": normalized, "enrolled_at": to_db(now)})
        return normalized

    def revoke_badge(self, uid: str, *, now: datetime) -> None:
        """Revoke an enrolled badge.

        Raises:
            NotFoundError: The UID is not enrolled.
        """
        normalized = normalize_uid(uid)
        with self.db.atomic():
            cursor = self.db.execute(
                "update badges set revoked_at = ? where uid = ? and revoked_at is null", [to_db(now), normalized]
            )
        if cursor.rowcount == 0:
            raise NotFoundError(f"badge {normalized} is not enrolled")

    def badge_owner(self, uid: str) -> tuple[Member | None, bool]:
        """The member a badge belongs to and whether that badge is revoked (``(None, False)`` if unknown)."""
        rows = list(
            self.db.query(
                "select m.id, m.name, m.email, b.revoked_at from badges b join members m on m.id = b.member_id "
                "where b.uid = ? order by b.revoked_at is null desc, b.id desc limit 1",
                [uid],
            )
        )
        if not rows:
            return None, False
        row = rows[0]
        return Member(row["id"], row["name"], row["email"]), row["revoked_at"] is not None

    def badges_of(self, member_id: int) -> list[str]:
        """The active badge UIDs of a member."""
        return [r["uid"] for r in self.db.query("select uid from badges where member_id = ? and revoked_at is null", [member_id])]

    # -- groups ---------------------------------------------------------------------------------------------

    def add_group(
        self, name: str, member_ids: list[int], *, now: datetime, facilitator_id: int | None = None
    ) -> Group:
        """Create a group.

        Raises:
            ConflictError: The name is taken.
            NotFoundError: A member does not exist.
        """
        for member_id in [*member_ids, *([facilitator_id] if facilitator_id else [])]:
            self.member(member_id)
        with self.db.atomic():
            if list(self.db.query("select 1 from groups where name = ?", [name])):
                raise ConflictError(f"a group named {name!r} exists already")
            table = self.db.table("groups")
            table.insert({"name": name, "facilitator_id": facilitator_id, "created_at": to_db(now)})
            group_id = int(table.last_pk)  # type: ignore[arg-type]
            self.db.table("group_members").insert_all([{"group_id": group_id, "member_id": m} for m in member_ids])
        return self.group(group_id)

    def group(self, group_id: int) -> Group:
        """A group by id.

        Raises:
            NotFoundError: No such group.
        """
        rows = list(self.db.query("select id, name, facilitator_id from groups where id = ?", [group_id]))
        if not rows:
            raise NotFoundError(f"group {group_id} does not exist")
        members = tuple(
            r["member_id"]
            for r in self.db.query("select member_id from group_members where group_id = ? order by member_id", [group_id])
        )
        return Group(rows[0]["id"], rows[0]["name"], rows[0]["facilitator_id"], members)

    def groups(self) -> list[Group]:
        """Every group, by name."""
        return [self.group(r["id"]) for r in self.db.query("select id from groups order by name")]

    def names(self, *, first_group: int | None = None) -> list[str]:
        """The name of every member, active or not (facilitators are members), those of ``first_group`` first."""
        rows: list[str] = []
        if first_group is not None:
            sql = "select m.name from members m join group_members g on g.member_id = m.id where g.group_id = ? order by m.id"
            rows += [str(r[0]) for r in self.db.execute(sql, [first_group])]
        rows += [str(r[0]) for r in self.db.execute("select name from members order by id")]
        return list(dict.fromkeys(rows))

    def groups_of(self, member_id: int) -> list[int]:
        """Ids of the groups a member belongs to."""
        sql = "select group_id from group_members where member_id = ? order by group_id"
        return [r[0] for r in self.db.execute(sql, [member_id])]

    def groups_facilitated_by(self, member_id: int) -> list[int]:
        """Ids of the groups a member facilitates."""
        return [r[0] for r in self.db.execute("select id from groups where facilitator_id = ? order by id", [member_id])]

    def group_slots(self, group_id: int, start: datetime, end: datetime, statuses: tuple[str, ...]) -> list[Booking]:
        """The group's bookings with one of ``statuses`` that overlap ``[start, end)``, in time order."""
        placeholders = ",".join("?" for _ in statuses)
        rows = self.db.query(
            f"select * from bookings where group_id = ? and status in ({placeholders}) "  # noqa: S608
            "and start_utc < ? and end_utc > ? order by start_utc",
            [group_id, *statuses, to_db(end), to_db(start)],
        )
        return [Booking.from_row(r) for r in rows]

    def update_group(
        self, group_id: int, *, name: str | None, member_ids: list[int] | None, facilitator_id: int | None, clear_facilitator: bool
    ) -> Group:
        """Rename a group, replace its members or change its facilitator (one transaction).

        Raises:
            NotFoundError: The group or a member does not exist.
            ConflictError: The new name is taken.
        """
        self.group(group_id)
        for member_id in [*(member_ids or []), *([facilitator_id] if facilitator_id else [])]:
            self.member(member_id)
        with self.db.atomic():
            if name is not None:
                if list(self.db.query("select 1 from groups where name = ? and id != ?", [name, group_id])):
                    raise ConflictError(f"a group named {name!r} exists already")
                self.db.execute("update groups set name = ? where id = ?", [name, group_id])
            if member_ids is not None:
                self.db.execute("delete from group_members where group_id = ?", [group_id])
                self.db.table("group_members").insert_all([{"group_id": group_id, "member_id": m} for m in member_ids])
            if facilitator_id is not None or clear_facilitator:
                self.db.execute("update groups set facilitator_id = ? where id = ?", [facilitator_id, group_id])
        return self.group(group_id)

    def update_member(self, member_id: int, *, name: str | None, email: str | None, clear_email: bool) -> Member:
        """Change a member's name or e-mail."""
        self.member(member_id)
        with self.db.atomic():
            if name is not None:
                self.db.execute("update members set name = ? where id = ?", [name.strip(), member_id])
            if email is not None or clear_email:
                self.db.execute("update members set email = ? where id = ?", [email, member_id])
        return self.member(member_id)

    def deactivate_member(self, member_id: int, *, now: datetime) -> None:
        """A member leaves: hidden from lists, every badge revoked (their history stays)."""
        self.member(member_id)
        with self.db.atomic():
            self.db.execute("update members set active = 0 where id = ?", [member_id])
            self.db.execute("update badges set revoked_at = ? where member_id = ? and revoked_at is null", [to_db(now), member_id])

    # -- bookings -------------------------------------------------------------------------------------------

    def add_booking(
        self, group_id: int, start: datetime, end: datetime, *, now: datetime, kind: str = "single"
    ) -> Booking:
        """Book the room for a group.

        Raises:
            ValidationError: End does not follow start.
            ConflictError: It overlaps other bookings (all of them are named).
        """
        if end <= start:
            raise ValidationError("a booking's end must follow its start")
        self.group(group_id)
        with self.db.atomic():
            clashes = self.overlapping(start, end)
            if clashes:
                raise ConflictError(
                    "the room is booked already in that time",
                    conflicts=[self._describe(b) for b in clashes],
                )
            table = self.db.table("bookings")
            table.insert(
                {
                    "group_id": group_id,
                    "start_utc": to_db(start),
                    "end_utc": to_db(end),
                    "status": "booked",
                    "kind": kind,
                    "created_at": to_db(now),
                }
            )
            booking_id = int(table.last_pk)  # type: ignore[arg-type]
        return self.booking(booking_id)

    def booking(self, booking_id: int) -> Booking:
        """A booking by id.

        Raises:
            NotFoundError: No such booking.
        """
        rows = list(self.db.query("select * from bookings where id = ?", [booking_id]))
        if not rows:
            raise NotFoundError(f"booking {booking_id} does not exist")
        return Booking.from_row(rows[0])

    def overlapping(self, start: datetime, end: datetime) -> list[Booking]:
        """Active bookings that overlap ``[start, end)``."""
        placeholders = ",".join("?" for _ in ACTIVE_STATUSES)
        rows = self.db.query(
            f"select * from bookings where status in ({placeholders}) and start_utc < ? and end_utc > ? "  # noqa: S608
            "order by start_utc",
            [*ACTIVE_STATUSES, to_db(end), to_db(start)],
        )
        return [Booking.from_row(r) for r in rows]

    def next_after(self, instant: datetime) -> Booking | None:
        """The first active booking that ends after ``instant``."""
        placeholders = ",".join("?" for _ in ACTIVE_STATUSES)
        rows = list(
            self.db.query(
                f"select * from bookings where status in ({placeholders}) and end_utc > ? "  # noqa: S608
                "order by start_utc limit 1",
                [*ACTIVE_STATUSES, to_db(instant)],
            )
        )
        return Booking.from_row(rows[0]) if rows else None

    def check_in(self, booking_id: int, *, now: datetime) -> None:
        """Mark a booking as checked in (first granted tap)."""
        with self.db.atomic():
            self.db.execute(
                "update bookings set status = 'checked_in', checked_in_at = ? where id = ? and status = 'booked'",
                [to_db(now), booking_id],
            )

    def _describe(self, booking: Booking) -> dict[str, Any]:
        group = self.group(booking.group_id)
        return {
            "booking_id": booking.id,
            "group": group.name,
            "start": booking.start.isoformat(),
            "end": booking.end.isoformat(),
        }
