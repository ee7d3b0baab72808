"""Who may open the door, decided from local data only (no network needed).

Granted: a member of the group whose booking is in its check-in window or running, that group's facilitator,
or a master badge. Denied otherwise, with the reason. Outside opening hours and during closures the room is
closed: only master badges open it.
Lockout and malformed UIDs are decided before this module (see :mod:`roomctl.access.service`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from roomctl.booking.closures import ClosureStore
from roomctl.booking.repository import Booking, BookingRepository, Member
from roomctl.booking.rules import OpeningHours
from roomctl.config import Settings


class Reason(StrEnum):
    """Why the door opened or stayed shut."""

    MEMBER = "member"
    FACILITATOR = "facilitator"
    MASTER = "master"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    OTHER_GROUP = "other_group"
    OUTSIDE_WINDOW = "outside_window"
    MALFORMED = "malformed"
    LOCKED_OUT = "locked_out"
    ROOM_CLOSED = "room_closed"
    WALK_IN = "walk_in"  # booking capability: a member's tap on a free room started an ad-hoc booking
    ENROLMENT = "enrolment"  # booking capability: enrol-by-tap was armed, the tap enrolled the badge
    # secure badges (roomctl.access.secure), decided before the booking rules
    BADGE_NOT_SECURE = "badge_not_secure"  # [door] require_secure_badges and the badge is a plain UID
    INSECURE_READER = "insecure_reader"  # an NTAG 424 badge at a reader that cannot authenticate (ESPHome, API)
    AUTH_FAILED = "auth_failed"  # the card does not hold its key: a clone, a wrong key
    REPLAY = "replay"  # the card's counter did not go up: a replayed exchange
    CARD_REMOVED = "card_removed"  # the card left during authentication
    CARD_GARBAGE = "card_garbage"  # the card answered what an NTAG 424 DNA does not
    NOT_DESFIRE = "not_desfire"  # an NTAG 424 badge's UID on a card that is not one (a UID clone)
    MASTER_KEY_MISSING = "master_key_missing"  # no badge master key: NTAG 424 badges cannot be checked
    MASTER_KEY_INVALID = "master_key_invalid"  # the badge master key is not 32 hex characters
    GUEST = "guest"  # session capability (issue 19): a guest's door code or temporary badge, in its window
    GUEST_CODE = "guest_code"  # session capability (issue 19): a door code that does not open now


CLOSURE_PROBE = timedelta(seconds=1)
"""A closure counts when it overlaps the second after the tap."""

GRANTING = frozenset({Reason.MEMBER, Reason.FACILITATOR, Reason.MASTER, Reason.WALK_IN, Reason.GUEST})


@dataclass(frozen=True)
class Decision:
    """The outcome of one tap."""

    granted: bool
    reason: Reason
    member: Member | None = None
    booking: Booking | None = None
    credential: str = "uid"
    """``uid`` (the UID alone) or ``secure`` (the card authenticated)."""

    def as_dict(self) -> dict[str, object]:
        """JSON-able form (what the tap API answers)."""
        return {
            "granted": self.granted,
            "reason": self.reason.value,
            "credential": self.credential,
            "member": {"id": self.member.id, "name": self.member.name} if self.member else None,
            "booking_id": self.booking.id if self.booking else None,
        }


def window_bookings(repo: BookingRepository, settings: Settings, now: datetime) -> list[Booking]:
    """Bookings whose check-in window contains ``now``, or that are checked in and running."""
    before = timedelta(minutes=settings.booking.checkin_before_minutes)
    after = timedelta(minutes=settings.booking.checkin_after_minutes)
    found = []
    for booking in repo.overlapping(now - after, now + before):
        checked_in = booking.status == "checked_in"
        in_window = booking.start - before <= now <= booking.start + after
        running = checked_in and booking.start - before <= now < booking.end
        if in_window or running:
            found.append(booking)
    return found


def is_master(settings: Settings, uid: str) -> bool:
    """True for a configured master badge (separators and case in the config are ignored)."""
    return uid in {u.upper().replace(":", "").replace("-", "").replace(" ", "") for u in settings.door.master_badges}


def outside_opening_hours(settings: Settings, now: datetime) -> bool:
    """True outside ``[room] opening_hours``."""
    hours = OpeningHours.from_settings({str(day): text for day, text in settings.room.opening_hours.items()})
    return hours.closing_after(now, settings.room.tz) is None


def in_closure(repo: BookingRepository, now: datetime) -> bool:
    """True during an imported closure (holiday, maintenance)."""
    return bool(ClosureStore(repo.db).overlapping(now, now + CLOSURE_PROBE))


def decide(repo: BookingRepository, settings: Settings, uid: str, now: datetime) -> Decision:
    """Decide on a normalised UID at ``now``.

    Order: master badge (always), unknown, revoked, a closure (nobody but masters), the member's group's
    booking window (or its facilitator), then why not: outside opening hours (room closed), another group's
    booking, or no booking now.
    """
    if is_master(settings, uid):
        return Decision(True, Reason.MASTER)
    member, revoked = repo.badge_owner(uid)
    if member is None:
        return Decision(False, Reason.UNKNOWN)
    if revoked:
        return Decision(False, Reason.REVOKED, member)
    if in_closure(repo, now):
        return Decision(False, Reason.ROOM_CLOSED, member)
    bookings = window_bookings(repo, settings, now)
    for booking in bookings:
        group = repo.group(booking.group_id)
        if member.id in group.member_ids:
            return Decision(True, Reason.MEMBER, member, booking)
        if member.id == group.facilitator_id:
            return Decision(True, Reason.FACILITATOR, member, booking)
    if outside_opening_hours(settings, now):
        return Decision(False, Reason.ROOM_CLOSED, member)
    return Decision(False, Reason.OTHER_GROUP if bookings else Reason.OUTSIDE_WINDOW, member)
