"""``roomctl badge provision``: a blank NTAG 424 DNA on the PN532 (real driver, fake chip) becomes a secure badge."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from roomctl.access.secure.card import AuthenticationFailed, Ntag424
from roomctl.access.secure.credentials import NTAG424, UID, SecureBadges
from roomctl.access.secure.keys import ADMIN_KEY, DOOR_KEY, BadgeKeys
from roomctl.access.secure.verify import authenticate_at_door
from roomctl.booking.repository import BookingRepository
from roomctl.cli import cli
from roomctl.config import Settings
from roomctl.store import open_database
from tests.fake_ntag424 import FakeNtag424, PlainTag
from tests.fake_pn532 import FakePN532
from tests.ntag424_helpers import OTHER_MASTER_KEY, TEST_MASTER_KEY, direct, patch_serial, provisioned_card

UID_HEX = "04A1B2C3D4E5F6"
MASTER_UID = "04112233445566"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def chip(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePN532]:
    fake = FakePN532()
    patch_serial(monkeypatch, fake)
    yield fake
    assert fake.failures == [], "the driver sent frames the fake PN532 does not implement"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "roomctl.toml"
    path.write_text(
        f'[storage]\ndata_dir = "{tmp_path / "data"}"\n[mqtt]\nenabled = false\n'
        f'[reader]\nkind = "pn532_uart"\ndevice = "/dev/ttyAMA0"\n[door]\nmaster_badges = ["{MASTER_UID}"]\n'
    )
    return path


@pytest.fixture
def member(config: Path, tmp_path: Path) -> int:
    db = open_database(tmp_path / "data" / "roomctl.db")
    return BookingRepository(db).add_member("Anna de Vries", now=NOW).id


def provision(config: Path, *args: str, key: str | None = TEST_MASTER_KEY) -> Result:
    env = {"ROOMCTL_BADGE_MASTER_KEY": key} if key is not None else {}
    return CliRunner(env=env).invoke(cli, ["badge", "provision", "-c", str(config), "--wait", "0.5", *args])


def secure_badges(tmp_path: Path) -> SecureBadges:
    return SecureBadges(open_database(tmp_path / "data" / "roomctl.db"))


def door_counter(card: FakeNtag424, master: str = TEST_MASTER_KEY) -> int:
    card.activate()
    return authenticate_at_door(Ntag424(direct(card)), card.uid, BadgeKeys(bytes.fromhex(master)))


def test_a_blank_card_gets_diversified_keys_and_is_enrolled(
    chip: FakePN532, config: Path, member: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROOMCTL_BADGE_MASTER_KEY", raising=False)
    card = FakeNtag424(bytes.fromhex(UID_HEX))
    chip.place(card)
    result = provision(config, "--member", str(member))
    assert result.exit_code == 0, result.output
    assert f"badge {UID_HEX} provisioned as a secure badge for member {member}" in result.output
    keys = BadgeKeys(bytes.fromhex(TEST_MASTER_KEY))
    assert card.keys[ADMIN_KEY] == keys.key(card.uid, ADMIN_KEY) != bytes(16)
    assert card.keys[DOOR_KEY] == keys.key(card.uid, DOOR_KEY) != card.keys[ADMIN_KEY]
    assert card.versions[:2] == [1, 1]
    assert card.files[2].counter_enabled
    store = secure_badges(tmp_path)
    assert store.credential(UID_HEX) == NTAG424
    assert store.last_counter(UID_HEX) == card.sdm_read_counter == 1
    db = open_database(tmp_path / "data" / "roomctl.db")
    assert BookingRepository(db).badges_of(member) == [UID_HEX]
    audit = [dict(r) for r in db.query("select kind, reason, credential, member_id from audit")]
    assert audit == [{"kind": "badge", "reason": "provisioned", "credential": "secure", "member_id": member}]
    # the master key is nowhere but the environment
    data = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir() if p.is_file())
    assert TEST_MASTER_KEY.encode() not in data and bytes.fromhex(TEST_MASTER_KEY) not in data
    assert TEST_MASTER_KEY not in config.read_text() and TEST_MASTER_KEY not in result.output
    # the factory key no longer opens the card; its own door key does, and the counter goes on
    with pytest.raises(AuthenticationFailed):
        card.activate()
        Ntag424(direct(card)).select_application()
        Ntag424(direct(card)).authenticate(ADMIN_KEY, bytes(16))
    assert door_counter(card) == 2


def test_re_provisioning_is_refused_without_force(chip: FakePN532, config: Path, member: int, tmp_path: Path) -> None:
    card = FakeNtag424(bytes.fromhex(UID_HEX))
    chip.place(card)
    assert provision(config, "--member", str(member)).exit_code == 0
    keys_before = list(card.keys)
    again = provision(config, "--member", str(member))
    assert again.exit_code != 0
    assert "already enrolled as a secure badge; use --force" in again.output
    assert card.keys == keys_before
    # not enrolled any more (revoked), but the card still carries this room's keys: refused too
    db = open_database(tmp_path / "data" / "roomctl.db")
    BookingRepository(db).revoke_badge(UID_HEX, now=NOW)
    refused = provision(config, "--member", str(member))
    assert refused.exit_code != 0 and "use --force" in refused.output
    forced = provision(config, "--member", str(member), "--force")
    assert forced.exit_code == 0, forced.output
    assert "provisioned again" in forced.output
    assert card.keys == keys_before  # the same diversified keys, written over themselves (XOR with the old)
    assert door_counter(card) > secure_badges(tmp_path).last_counter(UID_HEX)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("key", "message"),
    [(None, "no badge master key: set ROOMCTL_BADGE_MASTER_KEY"), ("ABCDEF", "must be 32 hex characters")],
)
def test_without_a_valid_master_key_nothing_changes(
    chip: FakePN532, config: Path, member: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str | None, message: str
) -> None:
    monkeypatch.delenv("ROOMCTL_BADGE_MASTER_KEY", raising=False)
    card = FakeNtag424(bytes.fromhex(UID_HEX))
    chip.place(card)
    result = provision(config, "--member", str(member), key=key)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert card.keys == [bytes(16)] * 5
    assert secure_badges(tmp_path).credential(UID_HEX) == UID


@pytest.mark.parametrize(
    ("make_card", "message"),
    [
        (lambda: PlainTag(bytes.fromhex(UID_HEX)), "not an NTAG 424 DNA"),
        (lambda: provisioned_card(UID_HEX, OTHER_MASTER_KEY), "belongs to another system"),
    ],
    ids=["ntag21x", "foreign"],
)
def test_cards_that_cannot_be_provisioned_are_refused(
    chip: FakePN532, config: Path, member: int, tmp_path: Path, make_card: object, message: str
) -> None:
    card = make_card()  # type: ignore[operator]
    chip.place(card)
    result = provision(config, "--member", str(member))
    assert result.exit_code != 0 and message in result.output, result.output
    assert secure_badges(tmp_path).credential(UID_HEX) == UID
    assert BookingRepository(open_database(tmp_path / "data" / "roomctl.db")).badges_of(member) == []


def test_a_card_torn_away_stores_nothing_and_the_next_try_works(
    chip: FakePN532, config: Path, member: int, tmp_path: Path
) -> None:
    card = FakeNtag424(bytes.fromhex(UID_HEX))
    chip.place(card)
    chip.tear_after(4)  # after GetVersion, during the authentication
    result = provision(config, "--member", str(member))
    assert result.exit_code != 0 and "left the field" in result.output, result.output
    assert secure_badges(tmp_path).credential(UID_HEX) == UID
    chip.place(card)
    assert provision(config, "--member", str(member)).exit_code == 0
    assert secure_badges(tmp_path).credential(UID_HEX) == NTAG424


def test_a_run_torn_away_after_the_door_key_changed_can_be_finished(
    chip: FakePN532, config: Path, member: int, tmp_path: Path
) -> None:
    card = FakeNtag424(bytes.fromhex(UID_HEX))
    chip.place(card)
    chip.tear_after(8)  # SELECT, GetVersion (3), authentication (2), ChangeFileSettings, ChangeKey 1: then gone
    assert provision(config, "--member", str(member)).exit_code != 0
    keys = BadgeKeys(bytes.fromhex(TEST_MASTER_KEY))
    assert card.keys[DOOR_KEY] == keys.key(card.uid, DOOR_KEY) and card.keys[ADMIN_KEY] == bytes(16)
    assert secure_badges(tmp_path).credential(UID_HEX) == UID
    chip.place(card)
    finished = provision(config, "--member", str(member))
    assert finished.exit_code == 0, finished.output
    assert card.keys[ADMIN_KEY] == keys.key(card.uid, ADMIN_KEY)
    assert door_counter(card) > secure_badges(tmp_path).last_counter(UID_HEX)  # type: ignore[operator]


def test_a_master_badge_and_the_usage_rules(chip: FakePN532, config: Path, member: int, tmp_path: Path) -> None:
    chip.place(FakeNtag424(bytes.fromhex(UID_HEX)))
    not_master = provision(config, "--master")
    assert not_master.exit_code != 0 and "not one of the [door] master_badges" in not_master.output
    chip.place(FakeNtag424(bytes.fromhex(MASTER_UID)))
    assert provision(config, "--master").exit_code == 0
    assert secure_badges(tmp_path).credential(MASTER_UID) == NTAG424
    both = provision(config, "--master", "--member", str(member))
    assert both.exit_code != 0 and "either --member ID or --master" in both.output


def test_plain_badges_are_listed(chip: FakePN532, config: Path, member: int, tmp_path: Path) -> None:
    db = open_database(tmp_path / "data" / "roomctl.db")
    BookingRepository(db).enroll_badge(member, "04A1B2C3", now=NOW)
    listing = CliRunner().invoke(cli, ["badge", "plain", "-c", str(config)])
    assert listing.exit_code == 0 and "Anna de Vries" in listing.output and "plain 1  secure 0" in listing.output
    chip.place(FakeNtag424(bytes.fromhex(UID_HEX)))
    assert provision(config, "--member", str(member)).exit_code == 0
    assert "plain 1  secure 1" in CliRunner().invoke(cli, ["badge", "plain", "-c", str(config)]).output
    BookingRepository(db).revoke_badge("04A1B2C3", now=NOW)
    after = CliRunner().invoke(cli, ["badge", "plain", "-c", str(config)])
    assert "Anna de Vries" not in after.output and "0 member(s)" in after.output


def test_doctor_says_whether_secure_badges_can_work(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from roomctl.access.secure.keys import MasterKeyInvalid, MasterKeyMissing, describe_master_key

    monkeypatch.delenv("ROOMCTL_BADGE_MASTER_KEY", raising=False)
    assert "every badge is UID-only" in describe_master_key(make_settings())
    with pytest.raises(MasterKeyMissing):
        describe_master_key(make_settings(door={"require_secure_badges": True}))
    monkeypatch.setenv("ROOMCTL_BADGE_MASTER_KEY", "not hex at all, and too long for a key")
    with pytest.raises(MasterKeyInvalid):
        describe_master_key(make_settings(door={"require_secure_badges": True}))
    monkeypatch.setenv("ROOMCTL_BADGE_MASTER_KEY", TEST_MASTER_KEY)
    message = describe_master_key(make_settings(door={"require_secure_badges": True}))
    assert "is set (not shown)" in message and TEST_MASTER_KEY not in message
