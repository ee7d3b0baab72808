"""Guests of one session: a colleague or an external expert a facilitator or member invites.

A guest is invited to one booking and gets either a one-time door code or a temporary badge:

- **Door code**: :data:`CODE_DIGITS` digits, shown once in the invitation's answer and stored only as a keyed
  hash (HMAC-SHA256 with the room's audit key, so a copied database cannot be searched for codes). It opens
  the door once, from :data:`~roomctl.access.decisions.window_bookings`' check-in window before the booking
  until its end, typed on the reader's keypad or the tablet (:class:`DoorCodeEntered`, decided by the access
  capability through :meth:`GuestService.redeem_code`).
- **Temporary badge**: a badge UID that opens the door during that same window only
  (:meth:`GuestService.admit_badge`).

Guests count as present on the kiosk (screen part ``guests``: ``{"group_id", "present": [{"name", "kind"}]}``,
shown as "gast"); they are never in ``session_presence``, so no report lists them; and their names are
removed before anything goes to the LLM (:meth:`GuestService.known_names`, which the proposal capability asks).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from roomctl.access.audit import load_key
from roomctl.booking.repository import Booking, BookingRepository, from_db, normalize_uid, to_db
from roomctl.core.events import Event
from roomctl.core.room import Room
from roomctl.errors import ConflictError, NotFoundError, StateError, ValidationError
from roomctl.session.choices import clean_text
from roomctl.session.events import SessionEnded, SessionStarted

log = logging.getLogger(__name__)

CODE_DIGITS = 8
"""Digits of a guest's door code (the reader's lockout limits guessing)."""
MAX_NAME_CHARS = 80
"""Longest guest name."""
MAX_GUESTS_PER_BOOKING = 12
"""Most guests one session may have."""
GUEST_KINDS = ("colleague", "expert")
"""Who a guest is."""
INVITABLE_STATUSES = ("booked", "checked_in")
"""A guest can be invited to a booking that is still to come or running."""
CODE_TRIES = 20
"""Attempts to draw a code that no other guest holds."""
PART = "guests"
"""The screen part listing the guests present."""


@dataclass(frozen=True)
class DoorCodeEntered(Event):
    """A door code was typed on the reader's keypad or the tablet."""

    code: str = ""
    reader: str = "keypad"


@dataclass(frozen=True)
class CodeCheck:
    """What a door code is worth now.

    Attributes:
        booking: The guest's booking when the code opens the door now, else ``None``.
        reason: ``guest`` (opens), ``unknown``, ``used`` or ``outside_window``.
        message: A sentence for the person at the door.
        guest_id: The guest the code belongs to, when known.
    """

    booking: Booking | None
    reason: str
    message: str
    guest_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def known_guest_names(db: sqlite_utils.Database) -> list[str]:
    """Every guest name the room knows (for removing names before text goes to the LLM); longest first."""
    if "session_guests" not in db.table_names():
        return []
    names = {str(r[0]) for r in db.execute("select distinct name from session_guests").fetchall() if r[0]}
    return sorted(names, key=lambda n: (-len(n), n))


class GuestService:
    """Invites guests, checks their codes and badges, and shows who came on the kiosk."""

    name = "guests"

    def __init__(self, room: Room) -> None:
        self.room = room
        self.db = room.db
        self.repo = BookingRepository(room.db)
        self._key = load_key(room.settings.storage.data_dir)
        self._part = room.screen.claim(PART, owner="session")
        self._group_id: int | None = None
        room.on(SessionStarted, self._on_started)
        room.on(SessionEnded, self._on_ended)

    async def start(self) -> None:
        """Nothing runs in the background; the session's events drive this service."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def known_names(self) -> list[str]:
        """Every guest name the room knows, longest first (what the proposal capability removes)."""
        return known_guest_names(self.db)

    # -- window and hashing -----------------------------------------------------------------------------

    def _hash(self, code: str) -> str:
        return hmac.new(self._key, f"guest-code:{code}".encode(), hashlib.sha256).hexdigest()

    def window(self, booking: Booking) -> tuple[datetime, datetime]:
        """When a guest of ``booking`` may come in: its check-in window's start until the booking's end."""
        before = timedelta(minutes=self.room.settings.booking.checkin_before_minutes)
        return booking.start - before, booking.end

    # -- inviting ---------------------------------------------------------------------------------------

    def invite(
        self, booking_id: int, name: object, kind: object, *, invited_by: str, badge_uid: object = None
    ) -> dict[str, Any]:
        """Invite a guest to one booking; answers the guest and, without a badge, the door code (shown once).

        Raises:
            NotFoundError: No such booking.
            StateError: The booking is over or cancelled.
            ValidationError: Bad name, kind or badge; too many guests (nothing is stored).
            ConflictError: The badge belongs to a member.
        """
        booking = self.repo.booking(booking_id)
        now = self.room.clock.now()
        if booking.status not in INVITABLE_STATUSES or booking.end <= now:
            raise StateError(f"booking {booking_id} is {booking.status if booking.end > now else 'over'}; "
                             "invite guests to a session that is still to come")  # fmt: skip
        clean = clean_text("name", name, MAX_NAME_CHARS)
        if not clean:
            raise ValidationError("name: give the guest's name", field="name")
        if kind not in GUEST_KINDS:
            raise ValidationError(f"kind must be one of {', '.join(GUEST_KINDS)}", field="kind")
        count = self.db.execute("select count(*) from session_guests where booking_id = ?", [booking_id]).fetchone()[0]
        if count >= MAX_GUESTS_PER_BOOKING:
            raise ValidationError(f"a session may have at most {MAX_GUESTS_PER_BOOKING} guests")
        uid = None
        if badge_uid is not None:
            uid = normalize_uid(badge_uid)
            owner, _ = self.repo.badge_owner(uid)
            if owner is not None:
                raise ConflictError("that badge belongs to a member; give the guest a spare badge or a door code")
        code = None if uid else self._new_code()
        start, end = self.window(booking)
        with self.db.atomic():
            table = self.db.table("session_guests")
            table.insert(
                {
                    "booking_id": booking_id, "group_id": booking.group_id, "name": clean, "kind": kind,
                    "invited_by": invited_by, "code_hash": self._hash(code) if code else None, "badge_uid": uid,
                    "valid_from": to_db(start), "valid_until": to_db(end), "used_at": None, "arrived_at": None,
                    "created_at": to_db(now),
                }
            )  # fmt: skip
            guest_id = int(table.last_pk)  # type: ignore[arg-type]
        log.info("guest %d (%s) invited to booking %d by %s", guest_id, kind, booking_id, invited_by)
        answer: dict[str, Any] = {"guest": self.guest(guest_id)}
        if code:
            answer["code"] = code
            answer["notice"] = "the code is shown only now; it opens the door once, during the session's window"
        return answer

    def _new_code(self) -> str:
        for _ in range(CODE_TRIES):
            code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            if self.db.execute("select 1 from session_guests where code_hash = ?", [self._hash(code)]).fetchone() is None:
                return code
        raise StateError("could not draw a free door code; try again")

    def guest(self, guest_id: int) -> dict[str, Any]:
        """One guest, without any code.

        Raises:
            NotFoundError: No such guest.
        """
        rows = list(self.db.query("select * from session_guests where id = ?", [guest_id]))
        if not rows:
            raise NotFoundError(f"there is no guest {guest_id}")
        return self._public(rows[0])

    @staticmethod
    def _public(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"], "booking_id": row["booking_id"], "name": row["name"], "kind": row["kind"],
            "access": "badge" if row["badge_uid"] else "code", "valid_from": row["valid_from"],
            "valid_until": row["valid_until"], "used": row["used_at"] is not None, "arrived_at": row["arrived_at"],
        }  # fmt: skip

    def of_booking(self, booking_id: int) -> list[dict[str, Any]]:
        """The booking's guests (no codes)."""
        rows = self.db.query("select * from session_guests where booking_id = ? order by id", [booking_id])
        return [self._public(r) for r in rows]

    # -- at the door ------------------------------------------------------------------------------------

    def redeem_code(self, code: object, now: datetime) -> CodeCheck:
        """Check a typed door code; a code that opens the door is used up at once. Never raises."""
        text = code.strip() if isinstance(code, str) else ""
        if not (text.isdigit() and len(text) == CODE_DIGITS):
            return CodeCheck(None, "unknown", f"a guest code has {CODE_DIGITS} digits; check the code and try again")
        rows = list(self.db.query("select * from session_guests where code_hash = ?", [self._hash(text)]))
        if not rows:
            return CodeCheck(None, "unknown", "this code is not known; check it with whoever invited you")
        row = rows[0]
        start, end = from_db(row["valid_from"]), from_db(row["valid_until"])
        assert start is not None and end is not None
        if row["used_at"]:
            return CodeCheck(None, "used", "this code was used already; a guest code opens the door once",
                             row["id"])  # fmt: skip
        if not start <= now < end:
            tz = self.room.settings.room.tz
            when = f"{start.astimezone(tz):%d-%m %H:%M} to {end.astimezone(tz):%H:%M}"
            return CodeCheck(None, "outside_window", f"this code works only from {when}", row["id"],
                             {"valid_from": start.isoformat(), "valid_until": end.isoformat()})  # fmt: skip
        booking = self.repo.booking(int(row["booking_id"]))
        if booking.status not in INVITABLE_STATUSES:
            return CodeCheck(None, "outside_window", f"the session this code was for is {booking.status}", row["id"])
        with self.db.atomic():
            self.db.execute(
                "update session_guests set used_at = ?, arrived_at = coalesce(arrived_at, ?) where id = ?",
                [to_db(now), to_db(now), row["id"]],
            )
        log.info("guest %s came in with a door code", row["id"])
        self.refresh()
        return CodeCheck(booking, "guest", "welcome", row["id"])

    def admit_badge(self, uid: str, now: datetime) -> Booking | None:
        """The booking a temporary guest badge ``uid`` opens the door for now, or ``None``."""
        rows = list(
            self.db.query(
                "select * from session_guests where badge_uid = ? and valid_from <= ? and valid_until > ? order by id",
                [uid, to_db(now), to_db(now)],
            )
        )
        for row in rows:
            booking = self.repo.booking(int(row["booking_id"]))
            if booking.status in INVITABLE_STATUSES:
                with self.db.atomic():
                    self.db.execute(
                        "update session_guests set arrived_at = coalesce(arrived_at, ?) where id = ?", [to_db(now), row["id"]]
                    )
                log.info("guest %s came in with a temporary badge", row["id"])
                self.refresh()
                return booking
        return None

    # -- on the kiosk -----------------------------------------------------------------------------------

    def present(self, group_id: int, now: datetime) -> list[dict[str, Any]]:
        """Guests of ``group_id`` who came in for a booking whose window holds ``now``."""
        rows = self.db.query(
            "select name, kind from session_guests where group_id = ? and arrived_at is not null "
            "and valid_from <= ? and valid_until > ? order by arrived_at, id",
            [group_id, to_db(now), to_db(now)],
        )
        return [{"name": r["name"], "kind": r["kind"]} for r in rows]

    def refresh(self) -> None:
        """Show the running session's guests on the kiosk (nothing when no session runs)."""
        if self._group_id is None:
            self._part.set(None)
            return
        self._part.set({"group_id": self._group_id, "present": self.present(self._group_id, self.room.clock.now())})

    def _on_started(self, event: SessionStarted) -> None:
        self._group_id = event.group_id
        self.refresh()

    def _on_ended(self, event: SessionEnded) -> None:
        self._group_id = None
        self._part.set(None)
