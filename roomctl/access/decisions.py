"""Who may open the door, decided from local data only (no network needed).

Granted: a member of the group whose booking is in its check-in window or running, that group's facilitator,
or a master badge. Denied otherwise, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from roomctl.booking.repository import Booking, BookingRepository, Member
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


GRANTING = frozenset({Reason.MEMBER, Reason.FACILITATOR, Reason.MASTER})


@dataclass(frozen=True)
class Decision:
    """The outcome of one tap."""

    granted: bool
    reason: Reason
    member: Member | None = None
    booking: Booking | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-able form (what the tap API answers)."""
        return {
            "granted": self.granted,
            "reason": self.reason.value,
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


def decide(repo: BookingRepository, settings: Settings, uid: str, now: datetime) -> Decision:
    """Decide on a normalised UID at ``now``."""
    if uid in {u.upper() for u in settings.door.master_badges}:
        return Decision(True, Reason.MASTER)
    member, revoked = repo.badge_owner(uid)
    if member is None:
        return Decision(False, Reason.UNKNOWN)
    if revoked:
        return Decision(False, Reason.REVOKED, member)
    bookings = window_bookings(repo, settings, now)
    if not bookings:
        return Decision(False, Reason.OUTSIDE_WINDOW, member)
    for booking in bookings:
        group = repo.group(booking.group_id)
        if member.id in group.member_ids:
            return Decision(True, Reason.MEMBER, member, booking)
        if member.id == group.facilitator_id:
            return Decision(True, Reason.FACILITATOR, member, booking)
    return Decision(False, Reason.OTHER_GROUP, member)
