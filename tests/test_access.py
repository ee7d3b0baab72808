"""Door access: decisions and reasons, one decision per held card, lockout, alarms, LED, exit button."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from roomctl.access.door import LED_COLOURS, Signal
from roomctl.access.events import Tap
from roomctl.access.service import AccessService
from roomctl.booking.closures import Closure, ClosureStore
from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings
from roomctl.core.events import Event
from tests.access_helpers import (
    FACILITATOR_UID,
    MASTER_UID,
    MEMBER_UID,
    audit_rows,
    component,
    manual_clock,
    relay_activations,
    room_sections,
    running_room,
    tap,
)
from tests.conftest import wait_for

MakeSettings = Callable[..., Settings]


async def test_member_facilitator_master_granted_and_denials_have_reasons(make_settings: MakeSettings) -> None:
    clock = manual_clock()
    sections = room_sections(booking={"walk_in": False})  # walk-ins turn outside-window taps into grants
    async with running_room(make_settings(**sections), clock=clock) as room:
        repo = BookingRepository(room.db)
        first = await tap(room, MEMBER_UID, reader="a")
        assert (first.granted, first.reason.value) == (True, "member")
        assert room.db.execute("select status from bookings").fetchone()[0] == "checked_in"
        assert (await tap(room, FACILITATOR_UID, reader="b")).reason.value == "facilitator"
        master = await tap(room, MASTER_UID, reader="c")
        assert (master.granted, master.reason.value) == (True, "master")
        assert (await tap(room, "04FFEEDDCCBBAA", reader="d")).reason.value == "unknown"
        assert (await tap(room, "not a uid", reader="e")).reason.value == "malformed"
        outsider = repo.add_member("Olga Buiten", now=clock.now())
        repo.enroll_badge(outsider.id, "04000000000001", now=clock.now())
        repo.add_group("Andere groep", [outsider.id], now=clock.now())
        assert (await tap(room, "04000000000001", reader="f")).reason.value == "other_group"
        repo.revoke_badge("04A1B2C3D4E502", now=clock.now())
        assert (await tap(room, "04A1B2C3D4E502", reader="g")).reason.value == "revoked"
        clock.advance(6 * 3600)  # 16:00: the demo booking is long over, the room still open
        assert (await tap(room, MEMBER_UID, reader="h")).reason.value == "outside_window"

        rows = audit_rows(room, "tap")
        assert [(r["decision"], r["reason"]) for r in rows] == [
            ("granted", "member"), ("granted", "facilitator"), ("granted", "master"), ("denied", "unknown"),
            ("denied", "malformed"), ("denied", "other_group"), ("denied", "revoked"), ("denied", "outside_window"),
        ]
        member_row = rows[0]
        assert member_row["at"].endswith("+00:00") and member_row["reader"] == "a"
        assert member_row["member_id"] is not None and MEMBER_UID not in str(member_row)
        assert len(member_row["badge"]) == 64  # the keyed hash, never the UID
        assert rows[2]["detail"] == '{"master": true}'
        assert rows[4]["badge"] is None  # a malformed UID is not hashed as if it were a badge
        assert relay_activations(room) >= 1


async def test_outside_opening_hours_and_during_a_closure_the_room_is_closed(make_settings: MakeSettings) -> None:
    clock = manual_clock()
    sections = room_sections(room={"opening_hours": {"tue": "07:00-22:00"}})
    async with running_room(make_settings(**sections), clock=clock) as room:
        store = ClosureStore(room.db)
        now = clock.now()
        store.replace([Closure("maint-1", "Onderhoud", now - timedelta(hours=1), now + timedelta(hours=1), False)], now=now)
        assert (await tap(room, MEMBER_UID)).reason.value == "room_closed"
        assert (await tap(room, MASTER_UID)).granted  # master badges always open (and are logged)
        clock.advance(13 * 3600)  # 23:00 local: after closing time
        closure_id = store.upcoming(now - timedelta(days=1))[0].id
        assert closure_id is not None
        store.delete(closure_id)
        assert (await tap(room, MEMBER_UID, reader="late")).reason.value == "room_closed"
        assert relay_activations(room) == 1


async def test_a_card_held_on_the_reader_gives_one_decision(make_settings: MakeSettings) -> None:
    clock = manual_clock()
    async with running_room(make_settings(**room_sections()), clock=clock) as room:
        for _ in range(20):  # a reader polling a card that lies on it, every 0.2 s for 4 s
            decision = await tap(room, MEMBER_UID, reader="door")
            assert decision.granted
            clock.advance(0.2)
        assert len(audit_rows(room, "tap")) == 1
        assert relay_activations(room) == 1
        clock.advance(2.0)  # taken away and presented again: a new tap
        await tap(room, MEMBER_UID, reader="door")
        assert len(audit_rows(room, "tap")) == 2
        # the same card at another reader is another tap
        await tap(room, MEMBER_UID, reader="other")
        assert len(audit_rows(room, "tap")) == 3


async def test_ten_denied_taps_in_a_minute_lock_the_reader_out_and_raise_an_alarm(make_settings: MakeSettings) -> None:
    clock = manual_clock()
    async with running_room(make_settings(**room_sections()), clock=clock) as room:
        for i in range(9):
            assert (await tap(room, f"04FF00000000{i:02X}", reader="door")).reason.value == "unknown"
            clock.advance(5)
        assert room.screen.get("alarms")["active"] == []
        assert (await tap(room, "04FF0000000009", reader="door")).reason.value == "unknown"
        alarms = room.screen.get("alarms")["active"]
        assert [(a["kind"], a["reader"], a["active"]) for a in alarms] == [("lockout", "door", True)]
        assert room.status.get("alarms")["active"][0]["kind"] == "lockout"
        # even a member is refused at the locked reader; another reader still works
        assert (await tap(room, MEMBER_UID, reader="door")).reason.value == "locked_out"
        assert relay_activations(room) == 0
        assert (await tap(room, MEMBER_UID, reader="side")).granted
        clock.advance(61)
        assert (await tap(room, FACILITATOR_UID, reader="door")).granted
        kinds = [(r["kind"], r["decision"], r["reason"]) for r in audit_rows(room) if r["kind"] == "alarm"]
        assert kinds == [("alarm", "raised", "lockout")]


async def test_lockout_alarm_clears_when_the_lockout_ends(make_settings: MakeSettings) -> None:
    # long enough that the third tap's lockout is still on when it is asserted, also on a loaded CI worker
    sections = room_sections(door={"lockout_denied_taps": 3, "lockout_seconds": 1.0, "lockout_window_seconds": 60})
    async with running_room(make_settings(**sections)) as room:
        for i in range(3):
            await tap(room, f"0BAD00{i:02X}", reader="door")
        assert room.service(AccessService).alarms.is_active(room.service(AccessService).alarms.active()[0].kind, "door")
        await wait_for(lambda: room.screen.get("alarms")["active"] == [], timeout=5)
        recent = room.screen.get("alarms")["recent"]
        assert recent[0]["kind"] == "lockout" and recent[0]["active"] is False and recent[0]["cleared"]
        assert [r["decision"] for r in audit_rows(room, "alarm")] == ["raised", "cleared"]


async def test_held_open_and_forced_alarms_from_the_door_contact(make_settings: MakeSettings, mock_pins: Any) -> None:
    settings = make_settings(**room_sections())
    async with running_room(settings) as room:
        contact = mock_pins.pin(settings.gpio.door_contact)
        # let in: granted tap, then the door opens and stays open too long
        assert (await tap(room, MEMBER_UID)).granted
        contact.drive_high()
        await wait_for(lambda: room.screen.get("door")["open"] is True)
        await wait_for(lambda: [a["kind"] for a in room.screen.get("alarms")["active"]] == ["held_open"], timeout=3)
        contact.drive_low()
        await wait_for(lambda: room.screen.get("alarms")["active"] == [])
        # forced: the door opens while the strike is locked
        room.service(AccessService).door.lock()
        await asyncio.sleep(settings.door.forced_open_grace_seconds + 0.1)
        contact.drive_high()
        await wait_for(lambda: "forced" in [a["kind"] for a in room.screen.get("alarms")["active"]])
        contact.drive_low()
        await wait_for(lambda: room.screen.get("alarms")["active"] == [])
        door_rows = [(r["reason"], r["detail"]) for r in audit_rows(room, "door")][-4:]
        assert door_rows == [("opened", None), ("closed", None), ("opened", '{"forced": true}'), ("closed", None)]
        alarm_rows = [(r["decision"], r["reason"]) for r in audit_rows(room, "alarm")]
        assert alarm_rows == [("raised", "held_open"), ("cleared", "held_open"), ("raised", "forced"), ("cleared", "forced")]


async def test_a_door_without_contact_is_shown_as_assumed(make_settings: MakeSettings) -> None:
    async with running_room(make_settings(**room_sections(gpio={"door_contact": None}))) as room:
        assert room.screen.get("door")["source"] == "assumed"
        assert room.screen.get("door")["open"] is None


@dataclass(frozen=True)
class Stall(Event):
    """Blocks the room's loop until released (a hung handler)."""


async def test_exit_button_unlocks_while_the_core_is_blocked_and_flooded(
    make_settings: MakeSettings, mock_pins: Any
) -> None:
    settings = make_settings(**room_sections())
    async with running_room(settings) as room:
        stalled, release = threading.Event(), threading.Event()

        def block(event: Stall) -> None:
            stalled.set()
            release.wait(10)

        room.on(Stall, block)
        relay = room.service(AccessService).door.relay
        seen: dict[str, Any] = {}

        def press_exit() -> None:
            assert stalled.wait(5), "the loop never started the stall"
            for i in range(1_000):  # a queue full of taps nobody handles while the core hangs
                room.post(Tap(source="test", uid=f"{i:08X}", reader="flood"))
            exit_pin = mock_pins.pin(settings.gpio.exit_button)
            exit_pin.drive_low()
            seen["relay"] = relay.value
            exit_pin.drive_high()
            release.set()

        room.post(Stall())
        await asyncio.get_running_loop().run_in_executor(None, press_exit)
        assert seen["relay"] == 1, "the exit button must energise the strike from the GPIO thread"
        await wait_for(lambda: any(r["reason"] == "exit" for r in audit_rows(room, "door")), timeout=60)


async def test_led_shows_recording_and_booked_soon(make_settings: MakeSettings) -> None:
    from roomctl.speech.events import RecordingChanged

    clock = manual_clock()
    async with running_room(make_settings(**room_sections()), clock=clock, seed=False) as room:
        service = room.service(AccessService)
        led = service.door.led
        assert led.color == pytest.approx(LED_COLOURS[Signal.IDLE])
        repo = BookingRepository(room.db)
        member = repo.add_member("Anna", now=clock.now())
        group = repo.add_group("G", [member.id], now=clock.now())
        repo.add_booking(group.id, clock.now() + timedelta(minutes=10), clock.now() + timedelta(hours=1), now=clock.now())
        service.housekeeping()
        assert led.color == pytest.approx(LED_COLOURS[Signal.BOOKED_SOON])
        await room.dispatch(RecordingChanged(source="speech", active=True))
        assert led.color == pytest.approx(LED_COLOURS[Signal.RECORDING])
        await room.dispatch(RecordingChanged(source="speech", active=False))
        assert led.color == pytest.approx(LED_COLOURS[Signal.BOOKED_SOON])


async def test_a_relay_that_fails_is_reported_and_the_grant_stays_recorded(make_settings: MakeSettings) -> None:
    async with running_room(make_settings(**room_sections())) as room:
        door = room.service(AccessService).door

        def broken() -> None:
            raise OSError("relay board not answering")

        door.relay.on = broken
        decision = await tap(room, MEMBER_UID)
        assert decision.granted
        assert [(r["kind"], r["reason"]) for r in audit_rows(room)][-2:] == [("tap", "member"), ("door", "relay_failed")]
        assert room.health.report()["status"] == "down" and "relay" in component(room, "door")["detail"]
