"""Which credential a tap presents, and whether the room refuses it for that (before the booking rules).

An NTAG 424 badge (one with a row in ``secure_badges``) must come with a verified proof from the reader whose
counter is above the last one seen; its UID alone (an ESPHome node, the API) is not enough. Any other badge is a
plain UID: it opens as before, unless ``[door] require_secure_badges`` is set, which refuses known plain badges,
master badges included (unknown badges stay ``unknown``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from roomctl.access.decisions import Reason, is_master
from roomctl.access.secure.credentials import NTAG424, SECURE, UID, SecureBadges
from roomctl.access.secure.verify import CardProof
from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings

DETAIL_CHARS = 200
"""How much of the card check's sentence goes into the audit detail."""


class SecureBadgePolicy:
    """Judges the credential of a tap.

    Args:
        settings: The room's settings (``[door]``).
        repo: Booking's repository (who owns a badge).
        badges: The secure badges and their counters.
    """

    def __init__(self, settings: Settings, repo: BookingRepository, badges: SecureBadges) -> None:
        self.settings = settings
        self.repo = repo
        self.badges = badges

    def judge(self, uid: str, proof: CardProof | None, now: datetime) -> tuple[str, Reason | None]:
        """``(credential, refusal)``: ``uid`` or ``secure``, and why the tap is refused for it (``None``: it is not).

        A verified proof's counter is stored here (durably) when it is above the last one.
        """
        if self.badges.credential(uid) == NTAG424:
            if proof is None:
                return UID, Reason.INSECURE_READER
            if not proof.verified or proof.counter is None:
                try:
                    return UID, Reason(proof.outcome)
                except ValueError:
                    return UID, Reason.CARD_GARBAGE
            if not self.badges.accept_counter(uid, proof.counter, now):
                return SECURE, Reason.REPLAY
            return SECURE, None
        if self.settings.door.require_secure_badges and (
            is_master(self.settings, uid) or self.repo.badge_owner(uid)[0] is not None
        ):
            return UID, Reason.BADGE_NOT_SECURE
        return UID, None

    def refusal_detail(self, uid: str, proof: CardProof | None, reason: Reason) -> dict[str, Any]:
        """What the audit entry of a refusal says besides its reason."""
        detail: dict[str, Any] = {"master": True} if is_master(self.settings, uid) else {}
        if proof is not None:
            detail.update({"card": proof.outcome, "round_trips": proof.round_trips, "why": proof.detail[:DETAIL_CHARS]})
            if reason is Reason.REPLAY:
                detail["counter"] = proof.counter
                detail["last_counter"] = self.badges.last_counter(uid)
        return detail
