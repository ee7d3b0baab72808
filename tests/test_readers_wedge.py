"""The USB keyboard-wedge reader: evdev InputEvents decoded to UIDs; the device is grabbed while read."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from evdev import InputEvent, ecodes

from roomctl.access.readers.wedge import KEY_GAP_SECONDS, WedgeDecoder, WedgeReader
from tests.evdev_helpers import FakeInputDevice


def typed(text: str, start: float = 100.0, step: float = 0.004, *, enter: bool = True) -> list[InputEvent]:
    """The events a wedge reader sends for ``text``: down/up per key (shift for capitals), then Enter."""
    events: list[InputEvent] = []
    t = start

    def key(code: int, value: int) -> None:
        nonlocal t
        sec, usec = int(t), round((t - int(t)) * 1_000_000)
        events.append(InputEvent(sec, usec, ecodes.EV_KEY, code, value))
        events.append(InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_REPORT, 0))
        t += step

    for char in text:
        code = ecodes.ecodes[f"KEY_{char.upper()}"] if char.isalnum() else ecodes.KEY_MINUS
        if char.isupper():
            key(ecodes.KEY_LEFTSHIFT, 1)
        key(code, 1)
        key(code, 0)
        if char.isupper():
            key(ecodes.KEY_LEFTSHIFT, 0)
    if enter:
        key(ecodes.KEY_ENTER, 1)
        key(ecodes.KEY_ENTER, 0)
    return events


def decode(decoder: WedgeDecoder, events: list[InputEvent]) -> list[str]:
    return [uid for uid in (decoder.feed(e) for e in events) if uid]


@pytest.mark.parametrize("uid", ["04A1B2C3", "04a1b2c3d4e5f6", "04A1B2C3D4E5F6071829"])
def test_decoder_turns_key_events_into_uids(uid: str) -> None:
    assert decode(WedgeDecoder(), typed(uid)) == [uid.upper()]


def test_decoder_reads_consecutive_taps_and_keypad_digits() -> None:
    decoder = WedgeDecoder()
    events = typed("04A1B2C3") + typed("DEADBEEF", start=101.0)
    keypad = [InputEvent(102, i * 1000, ecodes.EV_KEY, ecodes.ecodes[f"KEY_KP{d}"], 1) for i, d in enumerate("12345678")]
    keypad.append(InputEvent(102, 9000, ecodes.EV_KEY, ecodes.KEY_KPENTER, 1))
    assert decode(decoder, events + keypad) == ["04A1B2C3", "DEADBEEF", "12345678"]


def test_non_hex_keys_make_the_uid_malformed_not_shorter() -> None:
    decoded = decode(WedgeDecoder(), typed("04-A1xZ"))
    assert decoded == ["04?A1??"]  # the access service rejects and logs it as malformed


def test_a_pause_drops_a_half_typed_uid() -> None:
    decoder = WedgeDecoder()
    first = typed("04A1", enter=False)
    rest = typed("DEADBEEF", start=100.0 + KEY_GAP_SECONDS + 1.0)
    assert decode(decoder, first + rest) == ["DEADBEEF"]


def test_enter_alone_and_repeats_and_overlong_input() -> None:
    decoder = WedgeDecoder()
    assert decoder.feed(InputEvent(1, 0, ecodes.EV_KEY, ecodes.KEY_ENTER, 1)) is None
    assert decoder.feed(InputEvent(1, 0, ecodes.EV_KEY, ecodes.KEY_A, 2)) is None  # autorepeat ignored
    long = decode(decoder, typed("A" * 500, start=2.0, step=0.0001))
    assert len(long) == 1 and len(long[0]) <= 70


def test_wedge_reader_grabs_the_device_and_reopens_after_unplug() -> None:
    devices: list[FakeInputDevice] = []
    present = threading.Event()
    present.set()

    def open_device(path: str) -> FakeInputDevice:
        if not present.is_set():
            raise FileNotFoundError(2, "No such file or directory", path)
        device = FakeInputDevice(path)
        devices.append(device)
        return device

    got: list[str] = []
    states: list[bool] = []
    cond = threading.Condition()

    def sink(uid: str) -> None:
        with cond:
            got.append(uid)
            cond.notify_all()

    def status(online: bool, detail: str) -> None:
        with cond:
            states.append(online)
            cond.notify_all()

    def wait(predicate: Any) -> None:
        with cond:
            assert cond.wait_for(predicate, 5)

    reader = WedgeReader("wedge", "/dev/input/by-id/usb-reader-event-kbd", open_device=open_device,
                         min_backoff=0.01, max_backoff=0.05)
    reader.start(sink, status)
    try:
        wait(lambda: states == [True] and devices and devices[0].grabbed)
        assert devices[0].path.endswith("event-kbd")
        devices[0].push(typed("04A1B2C3D4E5F6"))
        wait(lambda: got == ["04A1B2C3D4E5F6"])
        present.clear()
        devices[0].vanish()
        wait(lambda: states == [True, False])
        assert devices[0].closed
        present.set()
        wait(lambda: states == [True, False, True])
        assert devices[-1].grabbed and len(devices) == 2
        devices[-1].push(typed("DEADBEEF"))
        wait(lambda: got == ["04A1B2C3D4E5F6", "DEADBEEF"])
    finally:
        reader.stop()
    assert devices[-1].closed and not devices[-1].grabbed
