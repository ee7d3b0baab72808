"""The room's badge master key and the per-card keys diversified from it (NXP AN10922).

The master key comes only from the environment (``ROOMCTL_BADGE_MASTER_KEY``) or the systemd credential
``badge_master_key`` (``LoadCredential=``), through :func:`roomctl.secrets.read_secret`; never from the database,
the config file or the repository, and it is never logged. Each card gets its own keys:
``CMAC(master, 0x01 || UID || NDEF DF name || "roomctl-badge" || key number)``, so one card's keys, read out of it,
open no other card.
"""

from __future__ import annotations

import re

from roomctl.access.secure.card import NDEF_APPLICATION
from roomctl.access.secure.crypto import BLOCK, diversify
from roomctl.config import Settings
from roomctl.errors import ConfigError
from roomctl.secrets import read_secret

MASTER_KEY_SECRET = "badge_master_key"  # noqa: S105 - the name of the secret, not the secret
"""The secret's name: env ``ROOMCTL_BADGE_MASTER_KEY`` or ``$CREDENTIALS_DIRECTORY/badge_master_key``."""
MASTER_KEY_HEX = re.compile(r"^[0-9A-Fa-f]{32}$")
SYSTEM_IDENTIFIER = b"roomctl-badge"
"""AN10922's system identifier: what the keys are for (the key number follows it)."""
ADMIN_KEY = 0x00
"""AppMasterKey: changes keys and file settings (provisioning)."""
DOOR_KEY = 0x01
"""The key the door authenticates with; it may also read the SDM read counter."""
KEY_VERSION = 0x01
"""Key version written at provisioning (factory keys are version 0)."""
FACTORY_KEY = bytes(BLOCK)
"""A blank NTAG 424 DNA's five keys (datasheet §8.2.4.2: all zero)."""


class MasterKeyMissing(ConfigError):  # noqa: N818 - names the state
    """No badge master key is set: secure badges cannot be checked or provisioned."""

    reason = "master_key_missing"


class MasterKeyInvalid(ConfigError):  # noqa: N818 - names the state
    """The badge master key is not 32 hex characters (16 bytes)."""

    reason = "master_key_invalid"


def load_master_key() -> bytes:
    """The room's badge master key.

    Raises:
        MasterKeyMissing: Neither the environment nor a systemd credential has it.
        MasterKeyInvalid: It is not 32 hex characters.
    """
    value = read_secret(MASTER_KEY_SECRET)
    if not value:
        raise MasterKeyMissing(
            "no badge master key: set ROOMCTL_BADGE_MASTER_KEY (32 hex characters) or the systemd credential "
            "badge_master_key; until then NTAG 424 badges are refused"
        )
    if not MASTER_KEY_HEX.match(value):
        raise MasterKeyInvalid(
            f"the badge master key has {len(value)} characters; it must be 32 hex characters (16 bytes, AES-128)"
        )
    return bytes.fromhex(value)


class BadgeKeys:
    """Diversifies per-card keys from the master key.

    Args:
        master: The 16-byte master key.
    """

    def __init__(self, master: bytes) -> None:
        if len(master) != BLOCK:
            raise MasterKeyInvalid("the badge master key must be 16 bytes")
        self._master = master

    def __repr__(self) -> str:
        return "BadgeKeys(<master key hidden>)"

    def key(self, uid: bytes, key_no: int) -> bytes:
        """Card ``uid``'s key number ``key_no``."""
        return diversify(self._master, uid, NDEF_APPLICATION, SYSTEM_IDENTIFIER + bytes([key_no]))

    @classmethod
    def from_secret(cls) -> BadgeKeys:
        """From the environment or the systemd credential (see :func:`load_master_key`)."""
        return cls(load_master_key())


def describe_master_key(settings: Settings) -> str:
    """For ``roomctl doctor``: whether secure badges can work.

    Raises:
        MasterKeyMissing, MasterKeyInvalid: The key is absent or malformed while secure badges exist or are
            required.
    """
    from roomctl.access.secure.credentials import SecureBadges
    from roomctl.store import open_database

    try:
        load_master_key()
    except (MasterKeyMissing, MasterKeyInvalid):
        secure = SecureBadges(open_database(settings.storage.database_path)).count()
        if secure or settings.door.require_secure_badges:
            raise
        return "no badge master key: every badge is UID-only (README, 'Badges: UID-only vs secure')"
    return "a badge master key is set (not shown): NTAG 424 DNA badges are authenticated at the door"
