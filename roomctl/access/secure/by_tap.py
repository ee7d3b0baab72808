"""Provision by tap: the admin page arms the door's PN532, and the next card laid on it becomes a secure badge.

The request is armed on the event loop (with the badges that must not be taken, worked out there from the
database) and taken by the reader's thread when a new card lands; the access service then enrols the result.
While armed, the next card is not a request to enter: the door stays shut.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProvisionRequest:
    """One armed request.

    Attributes:
        member_id: Whom the badge is for.
        force: Provision a card that already carries this room's keys again.
        refused: UIDs that must not be provisioned for this member, and why (enrolled to someone else, a master
            badge, already secure without ``force``).
        serial: Tells this request from later ones (the time-out disarms only its own).
    """

    member_id: int
    force: bool
    refused: dict[str, str] = field(default_factory=dict)
    serial: int = 0


class TapProvisioning:
    """The armed request and the last outcome; safe to use from the loop and the reader's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._request: ProvisionRequest | None = None
        self._serial = 0
        self.outcome: dict[str, Any] | None = None
        """The last request's outcome, for the admin page."""

    def arm(self, member_id: int, force: bool, refused: dict[str, str]) -> ProvisionRequest:
        """Arm for ``member_id`` (replacing an armed request)."""
        with self._lock:
            self._serial += 1
            self._request = ProvisionRequest(member_id, force, dict(refused), self._serial)
            self.outcome = None
            return self._request

    def take(self) -> ProvisionRequest | None:
        """The armed request, disarming it (the reader's thread, when a new card lands)."""
        with self._lock:
            request, self._request = self._request, None
            return request

    def disarm(self, serial: int | None = None) -> ProvisionRequest | None:
        """Disarm (only request ``serial`` if given); the request that was armed."""
        with self._lock:
            request = self._request
            if request is None or (serial is not None and request.serial != serial):
                return None
            self._request = None
            return request

    @property
    def armed(self) -> ProvisionRequest | None:
        """The armed request, if any."""
        with self._lock:
            return self._request
