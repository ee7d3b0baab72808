"""The keypad at the door: digits typed on a USB keypad (evdev) become guests' door codes, decided at the real door."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from evdev import InputEvent, ecodes

from roomctl.access.alarms import AlarmKind
from roomctl.access.readers import wedge
from roomctl.access.readers.keypad import KEYPAD_PAUSE_SECONDS, KEYPAD_READER, MAX_CODE_DIGITS, KeypadDecoder
from roomctl.access.service import AccessService
from roomctl.config import Settings
from roomctl.session.guests import GuestService
from tests.access_helpers import audit_rows, manual_clock, relay_activations, room_sections, running_room
from tests.conftest import wait_for
from tests.evdev_helpers import FakeInputDevice, key_events

KEYPAD = "/dev/input/by-id/usb-keypad-event-kbd"


def keys(text: str, start: float = 100.0, step: float = 0.3) -> list[InputEvent]:
    """Keypad presses for ``text``: digits on the number block, ``\\n`` Enter, ``<`` Backspace, ``*`` and ``x``
    (Escape) clear, ``/`` the keypad's slash."""
    named = {"\n": ecodes.KEY_KPENTER, "<": ecodes.KEY_BACKSPACE, "*": ecodes.KEY_KPASTERISK, "x": ecodes.KEY_ESC,
             "/": ecodes.KEY_KPSLASH}  # fmt: skip
    return key_events([named.get(c) or ecodes.ecodes[f"KEY_KP{c}"] for c in text], start, step)


def decode(text: str, **timing: float) -> list[str]:
    decoder = KeypadDecoder()
    return [code for code in (decoder.feed(event) for event in keys(text, **timing)) if code]


def test_digits_then_enter_make_a_code_and_backspace_and_clear_keys_correct_it() -> None:
    assert decode("12345678\n") == ["12345678"]
    assert decode("1239<45678\n") == ["12345678"], "backspace takes back the last digit"
    assert decode("999*12345678\n") == ["12345678"] and decode("999x12345678\n") == ["12345678"]
    assert decode("12/34\n5678\n") == ["1234", "5678"], "other keys are ignored; each Enter ends a code"
    assert decode("\n<\n") == [], "Enter with nothing typed gives no code"
    assert decode("1" * (MAX_CODE_DIGITS + 5) + "\n") == ["1" * MAX_CODE_DIGITS]
    top_row = KeypadDecoder()
    typed = key_events([ecodes.KEY_1, ecodes.KEY_2, ecodes.KEY_ENTER])
    assert [c for c in (top_row.feed(e) for e in typed) if c] == ["12"], "a keyboard's digit row counts too"


def test_a_pause_clears_a_half_typed_code() -> None:
    decoder = KeypadDecoder()
    first = keys("1234", start=100.0)
    rest = keys("5678\n", start=100.0 + 1.2 + KEYPAD_PAUSE_SECONDS + 1.0)
    assert [c for c in (decoder.feed(e) for e in first + rest) if c] == ["5678"]


def reader_health(room: Any) -> dict[str, Any]:
    """The ``reader`` component of the room's health report."""
    components: dict[str, dict[str, Any]] = room.health.report()["components"]
    return components["reader"]


class Keypads:
    """The fake keypads the room opens, in order, and whether one is plugged in."""

    def __init__(self) -> None:
        self.opened: list[FakeInputDevice] = []
        self.plugged = threading.Event()
        self.plugged.set()

    def open(self, path: str) -> FakeInputDevice:
        if not self.plugged.is_set():
            raise FileNotFoundError(2, "No such file or directory", path)
        device = FakeInputDevice(path)
        self.opened.append(device)
        return device


@pytest.fixture
def keypads(monkeypatch: pytest.MonkeyPatch) -> Keypads:
    """The room opens its input devices through evdev; here it opens fake keypads."""
    fakes = Keypads()
    monkeypatch.setattr(wedge, "_open_input_device", fakes.open)
    return fakes


async def test_a_guest_types_the_code_on_the_keypad_and_the_door_opens_once(
    make_settings: Callable[..., Settings], keypads: Keypads
) -> None:
    settings = make_settings(**room_sections(reader={"keypad_device": KEYPAD}))
    async with running_room(settings, clock=manual_clock()) as room:
        access = room.service(AccessService)
        booking = int(room.db.execute("select id from bookings order by id limit 1").fetchone()[0])
        code = room.service(GuestService).invite(booking, "Petra Gastvrouw", "expert", invited_by="admin")["code"]
        keypad = await wait_for(lambda: access.keypad and access.keypad.online and keypads.opened
                                and keypads.opened[0].grabbed and keypads.opened[0])  # fmt: skip
        assert keypad.path == KEYPAD
        before = relay_activations(room)
        wrong = "12345678" if code != "12345678" else "87654321"
        keypad.push(keys(f"{wrong}\n"))
        await wait_for(lambda: len(audit_rows(room, "tap")) == 1)
        assert relay_activations(room) == before, "a wrong code does not open"
        keypad.push(keys(f"{code}\n{code}\n", start=200.0))
        await wait_for(lambda: len(audit_rows(room, "tap")) == 3)
        assert relay_activations(room) == before + 1, "the code opens once"
        taps = audit_rows(room, "tap")
        assert [(t["decision"], t["reason"], t["reader"]) for t in taps] == [
            ("denied", "guest_code", KEYPAD_READER), ("granted", "guest", KEYPAD_READER),
            ("denied", "guest_code", KEYPAD_READER),
        ]  # fmt: skip
        assert all(code not in str(row) for row in audit_rows(room)), "the code itself is never kept"
        assert reader_health(room)["status"] == "ok"

        keypads.plugged.clear()
        keypad.vanish()  # unplugged: an alarm names the keypad and the reader's health says so
        await wait_for(lambda: any(a["kind"] == AlarmKind.READER_OFFLINE.value and a["reader"] == KEYPAD_READER
                                   for a in (room.screen.get("alarms") or {}).get("active", [])), timeout=10)  # fmt: skip
        health = reader_health(room)
        assert health["status"] == "degraded" and "keypad" in health["detail"]
        keypads.plugged.set()
        await wait_for(lambda: reader_health(room)["status"] == "ok", timeout=60)
        assert len(keypads.opened) == 2 and keypads.opened[-1].grabbed, "plugged in again, it is read again"
    assert keypads.opened[-1].closed and not keypads.opened[-1].grabbed
