"""Secure badges at the door: NTAG 424 DNA cards authenticated through the real PN532 driver and the fake chip.

In every bad case the door stays shut, the decision is audited with its reason, and the reader keeps working:
the next good tap opens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from roomctl.access.service import AccessService
from roomctl.core.room import Room
from tests.access_helpers import (
    MASTER_UID,
    MEMBER_UID,
    manual_clock,
    relay_activations,
    room_sections,
    running_room,
    tap,
)
from tests.fake_ntag424 import FakeNtag424, GarbageCard, PlainTag, RecordingCard
from tests.fake_pn532 import FakePN532
from tests.ntag424_helpers import (
    OTHER_MASTER_KEY,
    TEST_MASTER_KEY,
    mark_secure,
    patch_serial,
    present,
    provisioned_card,
)


@pytest.fixture
def chip() -> Iterator[FakePN532]:
    fake = FakePN532()
    yield fake
    assert fake.failures == [], "the driver sent frames the fake PN532 does not implement"


@asynccontextmanager
async def pn532_room(
    make_settings: Callable[..., Any], chip: FakePN532, monkeypatch: pytest.MonkeyPatch, **door: Any
) -> AsyncIterator[Room]:
    patch_serial(monkeypatch, chip)
    door = {"unlock_seconds": 0.05, **door}
    settings = make_settings(**room_sections(reader={"kind": "pn532_uart", "name": "voordeur"}, door=door))
    async with running_room(settings, clock=manual_clock()) as room:
        reader = room.service(AccessService).reader
        reader.min_backoff, reader.max_backoff, reader.poll_seconds = 0.01, 0.05, 0.05
        yield room


@pytest.fixture
def master_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ROOMCTL_BADGE_MASTER_KEY", TEST_MASTER_KEY)
    return TEST_MASTER_KEY


def outcome(row: dict[str, Any]) -> tuple[str, str, str]:
    return row["decision"], row["reason"], row["credential"]


async def test_a_secure_badge_opens_and_its_counter_must_go_up(
    make_settings: Callable[..., Any], chip: FakePN532, monkeypatch: pytest.MonkeyPatch, master_key: str
) -> None:
    card = provisioned_card(MEMBER_UID)
    async with pn532_room(make_settings, chip, monkeypatch) as room:
        mark_secure(room, MEMBER_UID, card, room.clock.now())
        access = room.service(AccessService)
        first = await present(room, chip, card)
        assert outcome(first) == ("granted", "member", "secure")
        assert relay_activations(room) == 1
        counter = access.secure_badges.last_counter(MEMBER_UID)
        assert counter == card.sdm_read_counter
        second = await present(room, chip, card)
        assert outcome(second) == ("granted", "member", "secure")
        assert access.secure_badges.last_counter(MEMBER_UID) == counter + 1
        # a copy of the card with its keys but an old counter (restored from a dump) is a replay
        card.sdm_read_counter = counter - 1
        stale = await present(room, chip, card)
        assert outcome(stale) == ("denied", "replay", "secure")
        assert relay_activations(room) == 2
        card.sdm_read_counter = counter + 10
        assert outcome(await present(room, chip, card)) == ("granted", "member", "secure")


@pytest.mark.parametrize(
    ("make_card", "reason"),
    [
        (lambda: FakeNtag424(bytes.fromhex(MEMBER_UID)), "auth_failed"),  # a UID clone: same UID, factory keys
        (lambda: provisioned_card(MEMBER_UID, OTHER_MASTER_KEY), "auth_failed"),  # another room's keys
        (lambda: PlainTag(bytes.fromhex(MEMBER_UID)), "not_desfire"),  # a magic UID card / NTAG21x
        (lambda: GarbageCard(bytes.fromhex(MEMBER_UID)), "card_garbage"),
        (lambda: GarbageCard(bytes.fromhex(MEMBER_UID), answer=b"\x91\x00"), "card_garbage"),
    ],
    ids=["uid_clone_no_key", "wrong_key", "not_desfire", "garbage", "empty_ok"],
)
async def test_cards_that_are_not_the_badge_are_refused_and_the_next_good_tap_opens(
    make_settings: Callable[..., Any],
    chip: FakePN532,
    monkeypatch: pytest.MonkeyPatch,
    master_key: str,
    make_card: Callable[[], Any],
    reason: str,
) -> None:
    card = provisioned_card(MEMBER_UID)
    async with pn532_room(make_settings, chip, monkeypatch) as room:
        mark_secure(room, MEMBER_UID, card, room.clock.now())
        refused = await present(room, chip, make_card())
        assert outcome(refused) == ("denied", reason, "uid")
        assert refused["member_id"] is not None  # the badge's owner, for the trail
        assert relay_activations(room) == 0
        assert outcome(await present(room, chip, card)) == ("granted", "member", "secure")
        assert relay_activations(room) == 1
        assert room.service(AccessService).reader.opens == 1  # a bad card is not a reader failure: no reconnect


@pytest.mark.parametrize("after", [0, 1, 2, 3, 4])
async def test_a_card_torn_away_mid_exchange_is_refused(
    make_settings: Callable[..., Any], chip: FakePN532, monkeypatch: pytest.MonkeyPatch, master_key: str, after: int
) -> None:
    card = provisioned_card(MEMBER_UID)
    async with pn532_room(make_settings, chip, monkeypatch) as room:
        mark_secure(room, MEMBER_UID, card, room.clock.now())
        chip.tear_after(after)
        torn = await present(room, chip, card)
        assert outcome(torn) == ("denied", "card_removed", "uid")
        assert relay_activations(room) == 0
        assert outcome(await present(room, chip, card)) == ("granted", "member", "secure")
        assert room.service(AccessService).reader.opens == 1


async def test_a_replayed_recording_is_refused(
    make_settings: Callable[..., Any], chip: FakePN532, monkeypatch: pytest.MonkeyPatch, master_key: str
) -> None:
    card = provisioned_card(MEMBER_UID)
    recorder = RecordingCard(card)
    async with pn532_room(make_settings, chip, monkeypatch) as room:
        mark_secure(room, MEMBER_UID, card, room.clock.now())
        verifier = room.service(AccessService).verifier
        assert outcome(await present(room, chip, recorder)) == ("granted", "member", "secure")
        recorder.replay()  # the attacker's device answers with the sniffed bytes
        assert outcome(await present(room, chip, recorder)) == ("denied", "auth_failed", "uid")  # fresh RndA
        # even if the door's random numbers repeated, the recorded counter is not above the stored one
        pinned = bytes(range(16))
        verifier.random = lambda n: pinned
        recorder2 = RecordingCard(card)
        assert outcome(await present(room, chip, recorder2)) == ("granted", "member", "secure")
        recorder2.replay()
        assert outcome(await present(room, chip, recorder2)) == ("denied", "replay", "secure")
        assert relay_activations(room) == 2
        assert outcome(await present(room, chip, card)) == ("granted", "member", "secure")


@pytest.mark.parametrize(("value", "reason"), [(None, "master_key_missing"), ("00112233", "master_key_invalid")])
async def test_without_a_valid_master_key_secure_badges_are_refused_plain_ones_still_open(
    make_settings: Callable[..., Any],
    chip: FakePN532,
    monkeypatch: pytest.MonkeyPatch,
    value: str | None,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if value is None:
        monkeypatch.delenv("ROOMCTL_BADGE_MASTER_KEY", raising=False)
    else:
        monkeypatch.setenv("ROOMCTL_BADGE_MASTER_KEY", value)
    card = provisioned_card(MEMBER_UID)
    async with pn532_room(make_settings, chip, monkeypatch) as room:
        mark_secure(room, MEMBER_UID, card, room.clock.now())
        refused = await present(room, chip, card)
        assert outcome(refused) == ("denied", reason, "uid")
        assert "ROOMCTL_BADGE_MASTER_KEY" in refused["detail"] or "32 hex" in refused["detail"]
        assert relay_activations(room) == 0
        # mixed mode: a plain badge still opens on its UID
        assert outcome(await present(room, chip, PlainTag(bytes.fromhex(MASTER_UID)))) == ("granted", "master", "uid")
    assert TEST_MASTER_KEY not in caplog.text


async def test_require_secure_badges_refuses_plain_badges_and_plain_master_badges(
    make_settings: Callable[..., Any], chip: FakePN532, monkeypatch: pytest.MonkeyPatch, master_key: str
) -> None:
    from roomctl.access.door import LED_COLOURS, Signal
    from tests.conftest import wait_for

    card = provisioned_card(MEMBER_UID)
    async with pn532_room(make_settings, chip, monkeypatch, require_secure_badges=True) as room:
        access = room.service(AccessService)
        blue = access.factory.pin(room.settings.gpio.led_blue)

        def violet_shown() -> bool:  # only the not-secure flash drives the blue channel to full
            return any(abs(s.state - LED_COLOURS[Signal.NOT_SECURE][2]) < 0.01 for s in blue.states)

        assert not violet_shown()
        plain = await present(room, chip, PlainTag(bytes.fromhex(MEMBER_UID)))
        assert outcome(plain) == ("denied", "badge_not_secure", "uid")
        await wait_for(violet_shown)
        master = await present(room, chip, PlainTag(bytes.fromhex(MASTER_UID)))
        assert outcome(master) == ("denied", "badge_not_secure", "uid")
        assert '"master": true' in master["detail"]
        unknown = await present(room, chip, PlainTag(bytes.fromhex("04DEADBEEF0001")))
        assert outcome(unknown) == ("denied", "unknown", "uid")
        assert relay_activations(room) == 0
        mark_secure(room, MEMBER_UID, card, room.clock.now())
        assert outcome(await present(room, chip, card)) == ("granted", "member", "secure")
        # a secure badge's UID typed into the API (a UID-only reader) is not the card
        decision = await tap(room, MEMBER_UID, reader="esphome")
        assert (decision.granted, decision.reason.value, decision.credential) == (False, "insecure_reader", "uid")
        assert relay_activations(room) == 1


async def test_a_secure_master_badge_opens_when_secure_badges_are_required(
    make_settings: Callable[..., Any], chip: FakePN532, monkeypatch: pytest.MonkeyPatch, master_key: str
) -> None:
    secure_master = "04AA55AA55AA01"
    card = provisioned_card(secure_master)
    masters = [MASTER_UID, secure_master]
    async with pn532_room(make_settings, chip, monkeypatch, require_secure_badges=True, master_badges=masters) as room:
        assert outcome(await present(room, chip, PlainTag(bytes.fromhex(MASTER_UID)))) == ("denied", "badge_not_secure", "uid")
        mark_secure(room, secure_master, card, room.clock.now())
        opened = await present(room, chip, card)
        assert outcome(opened) == ("granted", "master", "secure")
        clone = await present(room, chip, FakeNtag424(bytes.fromhex(secure_master)))
        assert outcome(clone) == ("denied", "auth_failed", "uid")
        assert relay_activations(room) == 1
