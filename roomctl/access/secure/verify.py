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

from roomctl.access.readers.pn532 import Target
from roomctl.access.secure.card import CardError, Ntag424, Random, Transceive
from roomctl.access.secure.keys import DOOR_KEY, BadgeKeys, MasterKeyInvalid, MasterKeyMissing
from roomctl.errors import ConfigError

log = logging.getLogger(__name__)

VERIFIED = "verified"
NOT_DESFIRE = "not_desfire"
NTAG424_UID_BYTES = 7
PROBE_BYTES = 2
"""How much of the NDEF file the counted read asks for (the NLEN field)."""


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
    """

    outcome: str
    counter: int | None = None
    round_trips: int = 0
    seconds: float = 0.0
    detail: str = ""

    @property
    def verified(self) -> bool:
        """True when the card proved it holds its diversified key."""
        return self.outcome == VERIFIED


class CardVerifier:
    """Authenticates cards at the door with keys diversified from the room's master key.

    Args:
        keys: The room's keys, or the reason there are none (the door then refuses NTAG 424 badges).
        random: Source of RndA.
    """

    def __init__(self, keys: BadgeKeys | ConfigError, random: Random = os.urandom) -> None:
        self._keys = keys
        self.random = random
        """Source of RndA (tests pin it to stage a replay)."""

    @classmethod
    def from_secret(cls) -> CardVerifier:
        """With the master key from the environment or systemd credential; logs (once) why not."""
        try:
            keys: BadgeKeys | ConfigError = BadgeKeys.from_secret()
        except (MasterKeyMissing, MasterKeyInvalid) as exc:
            log.warning("secure badges: %s", exc.detail)
            keys = exc
        return cls(keys)

    @property
    def ready(self) -> bool:
        """True when a master key is loaded."""
        return isinstance(self._keys, BadgeKeys)

    def __call__(self, target: Target, transceive: Transceive) -> CardProof:
        """Check the card on the reader; never raises."""
        started = time.perf_counter()
        if not target.iso14443_4 or len(target.uid) != NTAG424_UID_BYTES:
            return CardProof(NOT_DESFIRE, detail="the card does not speak ISO 14443-4 with a 7-byte UID")
        keys = self._keys
        if not isinstance(keys, BadgeKeys):
            return CardProof(getattr(keys, "reason", "master_key_missing"), detail=keys.detail)
        card = Ntag424(transceive, self.random)
        try:
            counter = authenticate_at_door(card, target.uid, keys)
        except CardError as exc:
            return CardProof(exc.reason, None, card.round_trips, time.perf_counter() - started, exc.detail)
        except Exception as exc:  # a reader thread must survive any card
            log.exception("checking the card failed unexpectedly")
            return CardProof("card_garbage", None, card.round_trips, time.perf_counter() - started, str(exc))
        return CardProof(VERIFIED, counter, card.round_trips, time.perf_counter() - started, "authenticated")


def authenticate_at_door(card: Ntag424, uid: bytes, keys: BadgeKeys) -> int:
    """The door's exchange; returns the card's SDM read counter after this tap's counted read.

    Raises:
        CardError: Any way the card fails (see :mod:`roomctl.access.secure.card`).
    """
    card.select_application()
    card.read_data(0x02, 0, PROBE_BYTES)
    channel = card.authenticate(DOOR_KEY, keys.key(uid, DOOR_KEY))
    return card.get_file_counters(channel)
