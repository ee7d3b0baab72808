"""The door's exchange with an NTAG 424 DNA badge, turned into a proof the access service decides on.

Five APDUs, on the reader's thread while the card lies on it: SELECT the NDEF application; read the NDEF file
in plain mode (with SDM on, the card counts the read: its SDM read counter goes up by one); AuthenticateEV2First
with the card's diversified door key (two frames); GetFileCounters in CommMode.Full, so the counter arrives
encrypted and MACed under this session's keys. A card that lacks the key fails the authentication; a recording of
an earlier exchange fails it too (the reader's RndA is fresh), and were the reader's random numbers ever to
repeat, the recorded counter would not be above the one stored for the badge. The access service checks that.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from roomctl.access.readers.pn532 import Target
from roomctl.access.secure.by_tap import TapProvisioning
from roomctl.access.secure.card import CardError, Ntag424, Random, Transceive, door_exchange
from roomctl.access.secure.keys import DOOR_KEY, BadgeKeys, MasterKeyInvalid, MasterKeyMissing
from roomctl.access.secure.provision import provision_card
from roomctl.errors import ConfigError, ConflictError

log = logging.getLogger(__name__)

VERIFIED = "verified"
NOT_DESFIRE = "not_desfire"
PROVISIONED = "provisioned"
PROVISION_FAILED = "provision_failed"
NTAG424_UID_BYTES = 7


@dataclass(frozen=True)
class CardProof:
    """What the reader found out about the card.

    Attributes:
        outcome: ``verified``, or why not (``auth_failed``, ``card_removed``, ``card_garbage``, ``not_desfire``,
            ``master_key_missing``, ``master_key_invalid``).
        counter: The card's SDM read counter (verified cards only).
        round_trips: APDUs exchanged.
        seconds: Software time of the exchange.
        detail: One sentence for the log and the audit trail.
        provisioning: The admin's provision-by-tap request this card answered (``None``: a door tap).
    """

    outcome: str
    counter: int | None = None
    round_trips: int = 0
    seconds: float = 0.0
    detail: str = ""
    provisioning: Any = None

    @property
    def verified(self) -> bool:
        """True when the card proved it holds its diversified key."""
        return self.outcome == VERIFIED


class CardVerifier:
    """Authenticates cards at the door with keys diversified from the room's master key.

    Args:
        keys: The room's keys, or the reason there are none (the door then refuses NTAG 424 badges).
        random: Source of RndA.
        provisioning: Armed by the admin page: the next card is provisioned instead of checked.
    """

    def __init__(
        self, keys: BadgeKeys | ConfigError, random: Random = os.urandom, provisioning: TapProvisioning | None = None
    ) -> None:
        self._keys = keys
        self.provisioning = provisioning or TapProvisioning()
        self.random = random
        """Source of RndA (tests pin it to stage a replay)."""

    @classmethod
    def from_secret(cls) -> CardVerifier:
        """With the master key from the environment or systemd credential (see :attr:`problem` for why not)."""
        try:
            keys: BadgeKeys | ConfigError = BadgeKeys.from_secret()
        except (MasterKeyMissing, MasterKeyInvalid) as exc:
            log.info("secure badges: %s", exc.detail)
            keys = exc
        return cls(keys)

    @property
    def ready(self) -> bool:
        """True when a master key is loaded."""
        return isinstance(self._keys, BadgeKeys)

    @property
    def problem(self) -> str | None:
        """Why there are no keys (``None`` when there are)."""
        return None if isinstance(self._keys, BadgeKeys) else self._keys.detail

    def __call__(self, target: Target, transceive: Transceive) -> CardProof:
        """Check the card on the reader; never raises."""
        started = time.perf_counter()
        request = self.provisioning.take()
        if request is not None:
            return self._provision(request, target, transceive, started)
        if not target.iso14443_4 or len(target.uid) != NTAG424_UID_BYTES:
            return CardProof(NOT_DESFIRE, detail="the card does not speak ISO 14443-4 with a 7-byte UID")
        keys = self._keys
        if not isinstance(keys, BadgeKeys):
            return CardProof(getattr(keys, "reason", "master_key_missing"), detail=keys.detail)
        card = Ntag424(transceive, self.random)
        try:
            counter = door_exchange(card, DOOR_KEY, keys.key(target.uid, DOOR_KEY))
        except CardError as exc:
            return CardProof(exc.reason, None, card.round_trips, time.perf_counter() - started, exc.detail)
        except Exception as exc:  # a reader thread must survive any card
            log.exception("checking the card failed unexpectedly")
            return CardProof("card_garbage", None, card.round_trips, time.perf_counter() - started, str(exc))
        return CardProof(VERIFIED, counter, card.round_trips, time.perf_counter() - started, "authenticated")

    def _provision(self, request: Any, target: Target, transceive: Transceive, started: float) -> CardProof:
        """Provision the card for the admin's request (on the reader's thread); never raises."""
        uid = target.uid.hex().upper()
        why = request.refused.get(uid)
        keys = self._keys
        if why is None and not isinstance(keys, BadgeKeys):
            why = keys.detail
        if why is None and (not target.iso14443_4 or len(target.uid) != NTAG424_UID_BYTES):
            why = "the card is not an NTAG 424 DNA (it does not speak ISO 14443-4 with a 7-byte UID)"
        if why is not None or not isinstance(keys, BadgeKeys):
            return CardProof(PROVISION_FAILED, detail=why or "", provisioning=request)
        card = Ntag424(transceive, self.random)
        try:
            result = provision_card(card, target.uid, keys, force=request.force)
        except (CardError, ConflictError) as exc:
            elapsed = time.perf_counter() - started
            return CardProof(PROVISION_FAILED, None, card.round_trips, elapsed, exc.detail, request)
        except Exception as exc:  # a reader thread must survive any card
            log.exception("provisioning the card failed unexpectedly")
            return CardProof(PROVISION_FAILED, None, card.round_trips, 0.0, str(exc), request)
        elapsed = time.perf_counter() - started
        return CardProof(PROVISIONED, result.counter, card.round_trips, elapsed, "provisioned", request)


def authenticate_at_door(card: Ntag424, uid: bytes, keys: BadgeKeys) -> int:
    """The door's exchange with ``uid``'s diversified door key (see :func:`~roomctl.access.secure.card.door_exchange`)."""
    return door_exchange(card, DOOR_KEY, keys.key(uid, DOOR_KEY))
