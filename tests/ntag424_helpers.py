"""Helpers for the NTAG 424 DNA tests: provisioned simulated cards, and a room whose PN532 is the fake chip."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import serial

from roomctl.access.secure.card import Ntag424
from roomctl.access.secure.keys import KEY_VERSION, BadgeKeys
from roomctl.access.secure.provision import provision_card
from roomctl.access.service import AccessService
from roomctl.core.room import Room
from tests.access_helpers import advance, audit_rows
from tests.conftest import wait_for
from tests.fake_ntag424 import FakeNtag424
from tests.fake_pn532 import FakePN532, FakeSerial

TEST_MASTER_KEY = "00112233445566778899AABBCCDDEEFF"
"""A master key for tests only (AN10922's example master key); real rooms generate theirs."""
OTHER_MASTER_KEY = "F0E1D2C3B4A5968778695A4B3C2D1E0F"
"""Another room's master key."""
HOLD_GAP_SECONDS = 5.0
"""Advance the room's clock this much between taps, beyond the hold window."""


def direct(card: FakeNtag424) -> Callable[[bytes, int], bytes]:
    """A transceive straight to a simulated card (no PN532 in between)."""
    return lambda apdu, answer_bytes: card.apdu(apdu)


def provisioned_card(uid_hex: str, master_hex: str = TEST_MASTER_KEY) -> FakeNtag424:
    """A blank simulated card provisioned with keys diversified from ``master_hex``."""
    card = FakeNtag424(bytes.fromhex(uid_hex))
    card.activate()
    provision_card(Ntag424(direct(card)), card.uid, BadgeKeys(bytes.fromhex(master_hex)))
    card.activate()
    return card


def mark_secure(room: Room, uid_hex: str, card: FakeNtag424, now: datetime) -> None:
    """Record the card as this room's secure badge (what ``roomctl badge provision`` stores)."""
    room.service(AccessService).secure_badges.record(uid_hex, counter=card.sdm_read_counter, key_version=KEY_VERSION, now=now)


def patch_serial(monkeypatch: pytest.MonkeyPatch, chip: FakePN532) -> None:
    """``serial.Serial`` opens the fake chip (the real driver then talks to it)."""

    def fake_serial(device: str, **options: Any) -> FakeSerial:
        return FakeSerial(chip, timeout=options.get("timeout", 0.05))

    monkeypatch.setattr(serial, "Serial", fake_serial)


async def present(room: Room, chip: FakePN532, card: Any) -> dict[str, Any]:
    """Hold ``card`` on the PN532 until the door decided, take it away; the audit row of the decision."""
    access = room.service(AccessService)
    reader = access.reader
    await wait_for(lambda: reader.online)
    await wait_for(lambda: access.door.locked)  # the last grant's unlock is over: each grant moves the relay
    before = len(audit_rows(room, "tap"))
    chip.place(card)
    await wait_for(lambda: len(audit_rows(room, "tap")) > before)
    chip.remove()
    await wait_for(lambda: reader._held is None)  # the reader saw the card go
    advance(room.clock, HOLD_GAP_SECONDS)
    rows = audit_rows(room, "tap")
    assert len(rows) == before + 1, "one presentation, one decision"
    return rows[-1]
