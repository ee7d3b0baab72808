"""The admin's provision by tap, on the event loop: arm the PN532 for a member, enrol what the reader provisioned.

The reader's thread does the card work (:meth:`roomctl.access.secure.verify.CardVerifier._provision`); this desk
arms it with the badges it must not take, disarms it after ``[booking] enrol_wait_seconds``, and enrols the
result. Enrolment uses booking's :class:`BookingRepository` (members and badges are booking's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from roomctl.access.audit import AuditLog
from roomctl.access.events import ProvisioningTimeout
from roomctl.access.secure.credentials import SECURE, SecureBadges
from roomctl.access.secure.keys import KEY_VERSION
from roomctl.access.secure.verify import PROVISIONED, CardProof, CardVerifier
from roomctl.booking.repository import BookingRepository, Member
from roomctl.core.room import Room
from roomctl.errors import RoomctlError, StateError

log = logging.getLogger(__name__)

PN532_KIND = "pn532"
DETAIL_CHARS = 200


class ProvisionDesk:
    """Provision by tap for the admin page.

    Args:
        room: The room (settings, timers).
        repo: Booking's repository.
        badges: The secure badges.
        audit: The audit trail.
        verifier: The reader's card check, which holds the armed request.
        reader_kind: The door reader's kind now (``None`` before it started).
    """

    def __init__(
        self,
        room: Room,
        repo: BookingRepository,
        badges: SecureBadges,
        audit: AuditLog,
        verifier: CardVerifier,
        reader_kind: Callable[[], str | None],
    ) -> None:
        self.room = room
        self.repo = repo
        self.badges = badges
        self.audit = audit
        self.verifier = verifier
        self._reader_kind = reader_kind

    @property
    def _state(self) -> Any:
        return self.verifier.provisioning

    def arm(self, member_id: int, *, force: bool = False) -> dict[str, Any]:
        """The next card laid on the PN532 becomes ``member_id``'s secure badge (the door stays shut).

        Raises:
            NotFoundError: No such member.
            StateError: No master key, or the reader cannot authenticate cards.
        """
        self.repo.member(member_id)
        if self._reader_kind() != PN532_KIND:
            kind = self.room.settings.reader.kind
            raise StateError(f'secure badges are provisioned on a PN532 at the door; this room\'s reader is "{kind}"')
        if self.verifier.problem:
            raise StateError(self.verifier.problem)
        masters = {u.upper().replace(":", "").replace("-", "") for u in self.room.settings.door.master_badges}
        refused = self.badges.refused_for(member_id, force=force, master_badges=masters)
        request = self._state.arm(member_id, force, refused)
        seconds = self.room.settings.booking.enrol_wait_seconds
        self.room.post_later(seconds, ProvisioningTimeout(source="access", serial=request.serial))
        log.info("provision by tap armed for member %d (%d s)", member_id, seconds)
        return self.status()

    def disarm(self) -> dict[str, Any]:
        """Stop waiting for a card."""
        self._state.disarm()
        return self.status()

    def status(self) -> dict[str, Any]:
        """``{armed, member_id, force, outcome}`` for the admin page."""
        armed = self._state.armed
        return {
            "armed": armed is not None,
            "member_id": armed.member_id if armed else None,
            "force": armed.force if armed else None,
            "outcome": self._state.outcome,
        }

    def on_timeout(self, event: ProvisioningTimeout) -> None:
        """The wait is over: disarm, if the request that set the timer is still armed."""
        request = self._state.disarm(event.serial)
        if request is not None:
            self._state.outcome = {
                "status": "timeout", "member_id": request.member_id, "detail": "no card was laid on the reader in time"
            }

    def enrol(self, reader: str, uid: str, proof: CardProof, now: datetime) -> tuple[Member | None, str]:
        """Enrol the card the reader provisioned, or record why not; ``(member, status)``."""
        member_id: int = proof.provisioning.member_id
        outcome: dict[str, Any] = {"member_id": member_id, "uid": uid, "at": now.isoformat()}
        member = None
        if proof.outcome == PROVISIONED and proof.counter is not None:
            try:
                member = self.repo.member(member_id)
                self.repo.enroll_badge(member_id, uid, now=now)
            except RoomctlError as exc:
                member = None
                outcome.update(status="refused", detail=f"the card was provisioned but not enrolled: {exc.detail}")
            else:
                outcome.update(status="enrolled", secure=True)
            self.badges.record(uid, counter=proof.counter, key_version=KEY_VERSION, now=now)
        else:
            outcome.update(status="refused", detail=proof.detail)
        self._state.outcome = outcome
        enrolled = outcome["status"] == "enrolled"
        detail: dict[str, Any] = {"round_trips": proof.round_trips}
        if "detail" in outcome:
            detail["why"] = outcome["detail"][:DETAIL_CHARS]
        self.audit.append(
            now,
            "badge",
            reader=reader,
            uid=uid,
            member_id=member_id,
            decision="provisioned" if enrolled else "refused",
            reason="provisioned" if enrolled else proof.outcome,
            credential=SECURE if proof.outcome == PROVISIONED else None,
            detail=detail,
        )
        log.info("provision by tap for member %d: %s", member_id, outcome["status"])
        return member, str(outcome["status"])
