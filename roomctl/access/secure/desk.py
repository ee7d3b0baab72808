"""Provisioning at the PN532: wait for a blank card, make it a secure badge, enrol it, record it.

Used by ``roomctl badge provision``, which opens the reader itself: stop the room service first
(``systemctl stop roomctl``), since only one program can hold the serial port.

Cross-capability: enrolling the badge for a member uses booking's :class:`BookingRepository` (members and
badges are booking's); this module and :mod:`roomctl.access.decisions` are the only places access calls it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlite_utils

from roomctl.access.audit import AuditLog, load_key
from roomctl.access.decisions import is_master
from roomctl.access.readers.pn532 import Pn532Reader, Target, exchange_apdu, read_target
from roomctl.access.secure.card import NotNtag424, Ntag424
from roomctl.access.secure.credentials import NTAG424, SECURE, SecureBadges
from roomctl.access.secure.keys import KEY_VERSION, BadgeKeys
from roomctl.access.secure.provision import AlreadyProvisioned, Provisioned, provision_card
from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings
from roomctl.errors import AdapterError, ConfigError, ConflictError, ValidationError

log = logging.getLogger(__name__)

CARD_POLL_SECONDS = 0.2
"""One InListPassiveTarget while waiting for the card."""


def open_reader(settings: Settings) -> tuple[Pn532Reader, Any]:
    """The room's PN532 opened for provisioning: ``(reader, handle)``; close with ``reader.close_device``.

    Raises:
        ConfigError: ``[reader] kind`` is not a PN532.
        AdapterError: The reader cannot be opened.
    """
    reader = settings.reader
    if reader.kind == "pn532_uart":
        pn532 = Pn532Reader.uart(reader.name, reader.device)
    elif reader.kind == "pn532_i2c":
        pn532 = Pn532Reader.i2c(reader.name, reader.i2c_address)
    else:
        raise ConfigError(f'provisioning needs the PN532 at the door; [reader] kind is "{reader.kind}"')
    try:
        return pn532, pn532.open_device()
    except AdapterError:
        raise
    except Exception as exc:
        raise AdapterError(
            f"cannot open the PN532 ({type(exc).__name__}: {exc}); is roomctl still running? stop it first"
        ) from exc


def wait_for_card(driver: Any, seconds: float, clock: Callable[[], float] = time.monotonic) -> Target:
    """Poll until a card lies on the reader.

    Raises:
        AdapterError: No card within ``seconds``.
    """
    deadline = clock() + seconds
    while True:
        target = read_target(driver, CARD_POLL_SECONDS)
        if target is not None:
            return target
        if clock() >= deadline:
            raise AdapterError(f"no card was put on the reader within {seconds:g} s")


def provision_badge(
    db: sqlite_utils.Database,
    settings: Settings,
    keys: BadgeKeys,
    driver: Any,
    target: Target,
    *,
    member_id: int | None,
    force: bool,
    now: datetime,
) -> Provisioned:
    """Provision the card on the reader and enrol it for ``member_id`` (``None``: one of the master badges).

    Nothing is stored unless the card took its keys; nothing on the card changes if the enrolment is refused.

    Raises:
        ConflictError: The badge is enrolled to someone else, or already secure and ``force`` is not set.
        ValidationError: A master badge that is not in ``[door] master_badges``.
        NotNtag424, CardError: See :func:`provision_card`.
    """
    uid = target.uid.hex().upper()
    repo = BookingRepository(db)
    secure = SecureBadges(db)
    if not target.iso14443_4:
        raise NotNtag424("the card on the reader is not an NTAG 424 DNA (it does not speak ISO 14443-4)")
    if member_id is None:
        if not is_master(settings, uid):
            raise ValidationError(f"card {uid} is not one of the [door] master_badges; add it there first")
    else:
        repo.member(member_id)
        owner, revoked = repo.badge_owner(uid)
        if owner is not None and not revoked and owner.id != member_id:
            raise ConflictError(f"badge {uid} is enrolled to member {owner.id}; revoke it there first")
        if owner is not None and not revoked and secure.credential(uid) == NTAG424 and not force:
            raise AlreadyProvisioned(f"badge {uid} is already enrolled as a secure badge; use --force to provision it again")
    card = Ntag424(lambda apdu, answer_bytes: exchange_apdu(driver, apdu, answer_bytes))
    result = provision_card(card, target.uid, keys, force=force)
    if member_id is not None:
        repo.enroll_badge(member_id, uid, now=now)
    secure.record(uid, counter=result.counter, key_version=KEY_VERSION, now=now)
    AuditLog(db, load_key(settings.storage.data_dir)).append(
        now,
        "badge",
        uid=uid,
        member_id=member_id,
        decision="provisioned",
        reason="provisioned_again" if result.again else "provisioned",
        credential=SECURE,
        detail={"master": True} if member_id is None else None,
    )
    return result
