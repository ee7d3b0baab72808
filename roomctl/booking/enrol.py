"""Enrol by tap: an admin arms the reader for a member, and the next badge tapped is enrolled to them.

While armed, the door's next tap is not a request to enter: the access service hands it here first
(:meth:`roomctl.booking.capability.BookingService.enrol_by_tap`) and the door stays shut. The outcome
(enrolled, or refused because the badge belongs to someone else) is kept for the admin page to read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from roomctl.booking.repository import BookingRepository, Member
from roomctl.errors import ConflictError, ValidationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Armed:
    """Waiting for a tap for ``member_id`` until ``until``."""

    member_id: int
    armed_at: datetime
    until: datetime


class EnrolDesk:
    """The one enrol-by-tap request the room can have at a time."""

    def __init__(self, repo: BookingRepository, master_badges: list[str]) -> None:
        self.repo = repo
        self.master_badges = {u.upper() for u in master_badges}
        self.armed: Armed | None = None
        self.outcome: dict[str, Any] | None = None

    def arm(self, member_id: int, *, now: datetime, seconds: int) -> dict[str, Any]:
        """Wait for the next tap for a member (replaces an earlier request)."""
        member = self.repo.member(member_id)
        self.armed = Armed(member.id, now, now + timedelta(seconds=seconds))
        self.outcome = None
        log.info("enrol by tap armed for member %d for %d s", member.id, seconds)
        return self.status(now)

    def disarm(self, now: datetime) -> dict[str, Any]:
        """Stop waiting."""
        self.armed = None
        return self.status(now)

    def status(self, now: datetime) -> dict[str, Any]:
        """``{"armed": bool, "member_id", "until", "outcome"}``; an expired request reads as not armed."""
        if self.armed is not None and now >= self.armed.until:
            self.outcome = {"status": "timeout", "member_id": self.armed.member_id, "detail": "no badge was tapped in time"}
            self.armed = None
        return {
            "armed": self.armed is not None,
            "member_id": self.armed.member_id if self.armed else None,
            "until": self.armed.until.isoformat() if self.armed else None,
            "outcome": self.outcome,
        }

    def take(self, uid: str, now: datetime) -> Member | None:
        """Enroll ``uid`` (normalised) if armed; return the member it was for (``None``: not armed)."""
        if self.armed is None or now >= self.armed.until:
            self.status(now)
            return None
        armed, self.armed = self.armed, None
        member = self.repo.member(armed.member_id)
        try:
            if uid in self.master_badges:
                raise ValidationError(f"badge {uid} is a master badge; it cannot be enrolled to a member")
            self.repo.enroll_badge(member.id, uid, now=now)
        except (ConflictError, ValidationError) as exc:
            self.outcome = {"status": "refused", "member_id": member.id, "uid": uid, "detail": exc.detail}
            log.warning("enrol by tap for member %d refused: %s", member.id, exc.detail)
        else:
            self.outcome = {"status": "enrolled", "member_id": member.id, "uid": uid, "at": now.isoformat()}
            log.info("badge enrolled by tap for member %d", member.id)
        return member
