"""Turning a blank NTAG 424 DNA into one of this room's badges.

A blank card has five all-zero AES keys (datasheet §8.2.4.2). Provisioning authenticates with the factory
AppMasterKey, switches on the NDEF file's SDM read counter, writes the card's diversified door key (key 1) and
finally its diversified AppMasterKey (key 0, which ends the session), then runs the door's own exchange once to
prove the card now opens the door and to learn its counter. A card that already carries this room's keys is
refused unless ``force`` is given; a card with keys from elsewhere is always refused (it belongs to another
system, and guessing at it would only lock it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from roomctl.access.secure.card import AuthenticationFailed, CardError, NotNtag424, Ntag424, door_exchange
from roomctl.access.secure.keys import ADMIN_KEY, DOOR_KEY, FACTORY_KEY, KEY_VERSION, BadgeKeys
from roomctl.errors import ConflictError

log = logging.getLogger(__name__)

NDEF_FILE = 0x02
SDM_FILE_SETTINGS = bytes([0x40, 0x00, 0xE0, 0x41, 0xF1, 0xFF])
"""ChangeFileSettings of the NDEF file (datasheet §10.7.1):

- FileOption 0x40: SDM on, CommMode.Plain;
- AccessRights 00 E0: ReadWrite key 0, Change key 0 | Read free, Write key 0;
- SDMOptions 0x41: SDMReadCtr on, ASCII encoding; no UID or counter mirroring into the NDEF message;
- SDMAccessRights F1 FF: RFU, SDMCtrRet key 1 (the door key may read the counter) | SDMMetaRead F, SDMFileRead F
  (no mirror, no SUN MAC), so no offsets follow.
"""


class AlreadyProvisioned(ConflictError):  # noqa: N818 - names the state
    """The card already carries this room's keys."""


class ForeignCard(ConflictError):  # noqa: N818 - names the state
    """The card's keys are neither the factory's nor this room's."""


@dataclass(frozen=True)
class Provisioned:
    """The outcome of provisioning one card."""

    uid: str
    counter: int
    round_trips: int
    again: bool
    """True when the card was this room's already (``force``)."""


def provision_card(card: Ntag424, uid: bytes, keys: BadgeKeys, *, force: bool = False) -> Provisioned:
    """Change a blank (or, with ``force``, this room's) card's keys to its diversified ones.

    Raises:
        NotNtag424: The card is not an NTAG 424 DNA.
        AlreadyProvisioned: It carries this room's keys and ``force`` is not set.
        ForeignCard: Its keys are from elsewhere.
        CardError: The card left or answered garbage (its keys may be half changed: run again with ``force``).
    """
    card.select_application()
    version = card.get_version()
    if not version.is_ntag424_dna:
        raise NotNtag424(f"the card is not an NTAG 424 DNA (GetVersion hardware {version.hardware.hex()})")
    if version.uid != uid:
        raise CardError("the UID in GetVersion differs from the one the reader saw; hold one card at a time")
    admin_key, door_key = keys.key(uid, ADMIN_KEY), keys.key(uid, DOOR_KEY)
    again = False
    try:
        channel = card.authenticate(ADMIN_KEY, FACTORY_KEY)
        old_admin, old_door = FACTORY_KEY, FACTORY_KEY
    except AuthenticationFailed:
        try:
            channel = card.authenticate(ADMIN_KEY, admin_key)
        except AuthenticationFailed:
            raise ForeignCard(
                "the card's keys are neither the factory keys nor this room's: it belongs to another system"
            ) from None
        if not force:
            raise AlreadyProvisioned(
                f"card {uid.hex().upper()} already carries this room's keys; use --force to provision it again"
            ) from None
        old_admin, old_door, again = admin_key, door_key, True
    card.change_file_settings(channel, NDEF_FILE, SDM_FILE_SETTINGS)
    try:
        card.change_key(channel, DOOR_KEY, door_key, old_door, KEY_VERSION)
    except CardError:
        if old_door == door_key:
            raise
        # an earlier run was torn away after the door key changed: the card's door key is ours already
        log.info("the card's door key is this room's already (an earlier run was interrupted)")
        channel = card.authenticate(ADMIN_KEY, old_admin)
        card.change_key(channel, DOOR_KEY, door_key, door_key, KEY_VERSION)
    card.change_key(channel, ADMIN_KEY, admin_key, old_admin, KEY_VERSION)  # ends the session
    counter = door_exchange(card, DOOR_KEY, door_key)
    log.info("a card was provisioned (%s)", "again" if again else "it was blank")
    return Provisioned(uid.hex().upper(), counter, card.round_trips, again)
