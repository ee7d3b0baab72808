"""The PN532 reader through the real adafruit_pn532 driver against a fake chip speaking PN532 frames."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import serial

from roomctl.access.readers.pn532 import Pn532Reader, ReaderGarbage, parse_target, read_uid
from roomctl.access.service import AccessService
from tests.fake_pn532 import GARBAGE_KINDS, FakeI2C, FakePN532, FakeSerial

FAST = {"min_backoff": 0.01, "max_backoff": 0.05, "poll_seconds": 0.05}
UIDS = {4: "04A1B2C3", 7: "04A1B2C3D4E5F6", 10: "04A1B2C3D4E5F6071829"}


class Collector:
    """What a reader hands over: UIDs and online/offline changes, with a condition to wait on."""

    def __init__(self) -> None:
        self.uids: list[str] = []
        self.status: list[tuple[bool, str]] = []
        self._cond = threading.Condition()

    def uid(self, value: str) -> None:
        with self._cond:
            self.uids.append(value)
            self._cond.notify_all()

    def state(self, online: bool, detail: str) -> None:
        with self._cond:
            self.status.append((online, detail))
            self._cond.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        with self._cond:
            assert self._cond.wait_for(predicate, timeout), f"timed out; uids={self.uids} status={self.status}"


@pytest.fixture
def chip() -> Iterator[FakePN532]:
    fake = FakePN532()
    yield fake
    assert fake.failures == [], "the driver sent frames the fake PN532 does not implement"


def uart_reader(chip: FakePN532, opened: list[FakeSerial] | None = None) -> Pn532Reader:
    def open_port() -> FakeSerial:
        if not chip.plugged:
            raise serial.SerialException("[Errno 2] could not open port /dev/serial0: No such file or directory")
        port = FakeSerial(chip)
        if opened is not None:
            opened.append(port)
        return port

    def driver(port: Any) -> Any:
        from adafruit_pn532.uart import PN532_UART

        return PN532_UART(port)

    return Pn532Reader("door", open_port, driver, close_transport=lambda port: port.close(), **FAST)


@pytest.mark.parametrize("size", [4, 7, 10])
def test_driver_reads_uids_of_every_size_over_uart(chip: FakePN532, size: int) -> None:
    from adafruit_pn532.uart import PN532_UART

    pn532 = PN532_UART(FakeSerial(chip))
    assert pn532.firmware_version == (0x32, 1, 6, 7)
    assert read_uid(pn532, 0.05) is None  # no card
    chip.place(bytes.fromhex(UIDS[size]))
    assert read_uid(pn532, 0.05) == bytes.fromhex(UIDS[size])
    assert set(chip.commands) == {0x02, 0x14, 0x4A}


def test_driver_over_i2c(chip: FakePN532) -> None:
    from adafruit_pn532.i2c import PN532_I2C

    bus = FakeI2C(chip)
    pn532 = PN532_I2C(bus, address=0x24)
    chip.place(bytes.fromhex(UIDS[10]))
    assert read_uid(pn532, 0.05) == bytes.fromhex(UIDS[10])
    with pytest.raises(ValueError, match="No I2C device"):
        PN532_I2C(bus, address=0x25)


def test_the_fake_refuses_what_it_does_not_implement() -> None:
    from adafruit_pn532.uart import PN532_UART

    chip = FakePN532()
    pn532 = PN532_UART(FakeSerial(chip))
    with pytest.raises(AssertionError, match="not implemented"):
        pn532.call_function(0x32, params=[0x05, 0xFF, 0x01, 0x02])  # RFConfiguration
    assert chip.failures and "0x32" in chip.failures[0]


def test_parse_target_rejects_odd_answers() -> None:
    assert parse_target(bytes([0])) is None
    with pytest.raises(ReaderGarbage, match="2 cards"):
        parse_target(bytes([2, 1, 0, 4, 8, 4, 1, 2, 3, 4]))
    with pytest.raises(ReaderGarbage, match="5 bytes"):
        parse_target(bytes([1, 1, 0, 4, 8, 5, 1, 2, 3, 4, 5]))
    with pytest.raises(ReaderGarbage, match="cut short"):
        parse_target(bytes([1, 1, 0, 4, 8, 7, 1, 2, 3]))
    with pytest.raises(ReaderGarbage, match="too short"):
        parse_target(bytes([1, 1, 0]))


def test_reader_thread_hands_over_uids(chip: FakePN532) -> None:
    seen = Collector()
    reader = uart_reader(chip)
    reader.start(seen.uid, seen.state)
    try:
        seen.wait(lambda: reader.online)
        for size in (4, 7, 10):
            chip.place(bytes.fromhex(UIDS[size]))
            seen.wait(lambda size=size: UIDS[size] in seen.uids)  # type: ignore[misc]
            chip.remove()
        assert reader.firmware == (0x32, 1, 6, 7)
        assert reader.health().status == "ok"
    finally:
        reader.stop()


@pytest.mark.parametrize("kind", GARBAGE_KINDS)
def test_garbage_from_the_reader_is_survived(chip: FakePN532, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    seen = Collector()
    reader = uart_reader(chip)
    reader.start(seen.uid, seen.state)
    try:
        seen.wait(lambda: reader.online)
        opens = reader.opens
        chip.corrupt_next(kind)
        chip.place(bytes.fromhex(UIDS[7]))
        # the broken answer is dropped, the port reopened, and the card read on the next poll
        seen.wait(lambda: UIDS[7] in seen.uids)
        assert reader.opens > opens
        assert all(uid in UIDS.values() for uid in seen.uids), "garbage must never become a UID"
        assert any("reader door failed" in r.message for r in caplog.records)
        assert reader._thread is not None and reader._thread.is_alive()
    finally:
        reader.stop()


def test_a_reader_that_disappears_goes_offline_and_comes_back(chip: FakePN532) -> None:
    seen = Collector()
    reader = uart_reader(chip)
    reader.start(seen.uid, seen.state)
    try:
        seen.wait(lambda: reader.online)
        chip.unplug()
        seen.wait(lambda: not reader.online)
        assert seen.status[-1][0] is False and "could not open port" in seen.status[-1][1]
        assert reader.health().status == "degraded"
        failures = reader.failures
        time.sleep(0.2)
        assert reader.failures > failures  # still retrying, with backoff capped at max_backoff
        assert reader.backoff() == pytest.approx(0.05)
        chip.plug()
        seen.wait(lambda: reader.online)
        chip.place(bytes.fromhex(UIDS[4]))
        seen.wait(lambda: UIDS[4] in seen.uids)
        assert [online for online, _ in seen.status] == [True, False, True]
    finally:
        reader.stop()


def test_backoff_doubles_up_to_the_limit() -> None:
    reader = Pn532Reader("x", lambda: None, lambda t: None, min_backoff=0.5, max_backoff=30.0)
    waits = []
    for failures in range(1, 10):
        reader.failures = failures
        waits.append(reader.backoff())
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


async def test_pn532_in_the_room_held_card_one_decision_and_offline_alarm(
    make_settings: Callable[..., Any], chip: FakePN532, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.access_helpers import MEMBER_UID, audit_rows, component, relay_activations, room_sections, running_room
    from tests.conftest import wait_for

    opened: list[str] = []

    def fake_serial(device: str, **options: Any) -> FakeSerial:
        if not chip.plugged:
            raise serial.SerialException(f"could not open port {device}")
        opened.append(device)
        return FakeSerial(chip, timeout=options.get("timeout", 0.05))

    monkeypatch.setattr(serial, "Serial", fake_serial)
    settings = make_settings(**room_sections(reader={"kind": "pn532_uart", "device": "/dev/ttyAMA0", "name": "voordeur"}))
    async with running_room(settings) as room:
        reader = room.service(AccessService).reader
        reader.min_backoff, reader.max_backoff = 0.01, 0.05
        await wait_for(lambda: reader.online)
        assert opened == ["/dev/ttyAMA0"]
        chip.place(bytes.fromhex(MEMBER_UID))
        await wait_for(lambda: audit_rows(room, "tap"))
        await asyncio.sleep(1.0)  # the card lies on the reader: polled again and again
        chip.remove()
        rows = audit_rows(room, "tap")
        assert [(r["reader"], r["decision"], r["reason"]) for r in rows] == [("voordeur", "granted", "member")]
        assert relay_activations(room) == 1
        # the reader disappears: health degraded, a "reader offline" alarm; it comes back: cleared
        chip.unplug()
        await wait_for(lambda: room.screen.get("alarms")["active"])
        alarm = room.screen.get("alarms")["active"][0]
        assert (alarm["kind"], alarm["reader"]) == ("reader_offline", "voordeur")
        assert component(room, "reader")["status"] == "degraded"
        assert component(room, "door")["status"] == "ok"
        chip.plug()
        await wait_for(lambda: room.screen.get("alarms")["active"] == [])
        assert component(room, "reader")["status"] == "ok"
        assert [r["decision"] for r in audit_rows(room, "alarm")] == ["raised", "cleared"]
