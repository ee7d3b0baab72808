"""The real adafruit_pn532 driver carries NTAG 424 DNA APDUs through InDataExchange to the simulated card."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from roomctl.access.readers.pn532 import exchange_apdu, read_target
from roomctl.access.secure.card import AuthenticationFailed, CardError, CardRemoved, Ntag424
from roomctl.access.secure.keys import DOOR_KEY, BadgeKeys
from roomctl.access.secure.verify import CardVerifier
from tests.fake_ntag424 import FakeNtag424, PlainTag
from tests.fake_pn532 import FakePN532, FakeSerial
from tests.ntag424_helpers import TEST_MASTER_KEY, provisioned_card

UID = bytes.fromhex("04A1B2C3D4E5F6")
KEYS = BadgeKeys(bytes.fromhex(TEST_MASTER_KEY))


@pytest.fixture
def chip() -> Iterator[FakePN532]:
    fake = FakePN532()
    yield fake
    assert fake.failures == [], "the driver sent frames the fake PN532 does not implement"


def driver(chip: FakePN532) -> object:
    from adafruit_pn532.uart import PN532_UART

    return PN532_UART(FakeSerial(chip))


def on_reader(chip: FakePN532, card: object) -> tuple[object, Ntag424]:
    pn532 = driver(chip)
    chip.place(card)
    target = read_target(pn532, 0.05)
    assert target is not None and target.uid == card.uid  # type: ignore[attr-defined]
    return pn532, Ntag424(lambda apdu, n: exchange_apdu(pn532, apdu, n))


def test_get_version_authenticate_and_change_a_key_through_the_driver(chip: FakePN532) -> None:
    card = FakeNtag424(UID)
    pn532, host = on_reader(chip, card)
    target = read_target(pn532, 0.05)
    assert target is not None and target.iso14443_4 and target.sel_res == 0x20
    host.select_application()
    version = host.get_version()
    assert version.is_ntag424_dna and version.uid == UID
    channel = host.authenticate(0, bytes(16))
    new_key = KEYS.key(UID, DOOR_KEY)
    host.change_key(channel, DOOR_KEY, new_key, bytes(16), 1)
    assert card.keys[DOOR_KEY] == new_key and card.versions[DOOR_KEY] == 1
    with pytest.raises(AuthenticationFailed):
        host.authenticate(DOOR_KEY, bytes(16))  # the old key no longer works
    assert host.authenticate(DOOR_KEY, new_key).ti == card._session.ti  # type: ignore[union-attr]
    assert chip.commands.count(0x40) == host.round_trips


def test_the_door_exchange_reads_a_counter_that_goes_up(chip: FakePN532) -> None:
    card = provisioned_card(UID.hex())
    verifier = CardVerifier(KEYS)
    pn532 = driver(chip)
    counters: list[int] = []
    for _ in range(3):
        chip.place(card)
        target = read_target(pn532, 0.05)
        assert target is not None
        proof = verifier(target, lambda apdu, n: exchange_apdu(pn532, apdu, n))
        assert proof.verified, proof
        assert proof.round_trips == 5
        assert proof.counter is not None
        counters.append(proof.counter)
        chip.remove()
    assert counters == sorted(set(counters)) and len(counters) == 3
    assert counters[-1] == card.sdm_read_counter


def test_a_card_torn_away_is_card_removed_and_the_chip_answers_the_next_poll(chip: FakePN532) -> None:
    pn532, host = on_reader(chip, FakeNtag424(UID))
    chip.tear_after(1)
    host.select_application()
    with pytest.raises(CardRemoved):
        host.get_version()
    assert read_target(pn532, 0.05) is None  # the card is gone; the chip itself is fine


def test_a_plain_tag_never_answers_apdus(chip: FakePN532) -> None:
    pn532, host = on_reader(chip, PlainTag(UID))
    target = read_target(pn532, 0.05)
    assert target is not None and not target.iso14443_4
    with pytest.raises(CardRemoved):
        host.select_application()
    assert CardVerifier(KEYS)(target, lambda apdu, n: exchange_apdu(pn532, apdu, n)).outcome == "not_desfire"


def test_a_broken_frame_during_the_exchange_is_a_card_error(chip: FakePN532) -> None:
    _, host = on_reader(chip, FakeNtag424(UID))
    chip.corrupt_next("checksum")
    with pytest.raises(CardError):
        host.select_application()
    host.select_application()  # the next exchange is fine again
