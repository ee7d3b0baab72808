"""Guests of one session at the real door (gpiozero MockFactory relay): a one-time door code, shown once and
hashed at rest, valid only in its booking's window; a temporary badge; present on the kiosk as "gast", never
in reports, and their names offered to the proposal de-identification."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from roomctl.booking.closures import Closure, ClosureStore
from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings
from roomctl.core.room import Room
from roomctl.errors import ConflictError, StateError, ValidationError
from roomctl.facilities import learning
from roomctl.facilities.period import Period
from roomctl.session.guests import CODE_DIGITS, DoorCodeEntered, GuestService, known_guest_names
from roomctl.session.service import SessionService
from tests.access_helpers import (
    MEMBER_UID,
    audit_rows,
    manual_clock,
    relay_activations,
    room_sections,
    running_room,
    tap,
)
from tests.conftest import wait_for

MakeSettings = Callable[..., Settings]
GUEST_BADGE = "04C0FFEE000001"


def guests(room: Room) -> GuestService:
    service: GuestService = room.service(GuestService)
    return service


def demo_booking(room: Room) -> int:
    return int(room.db.execute("select id from bookings order by id limit 1").fetchone()[0])


async def enter(room: Room, code: str, reader: str = "keypad") -> dict[str, Any]:
    answer: dict[str, Any] = await room.dispatch(DoorCodeEntered(source="test", code=code, reader=reader))
    return answer


async def test_a_guest_code_opens_once_in_its_window_and_the_guest_shows_as_present(make_settings: MakeSettings) -> None:
    clock = manual_clock()
    async with running_room(make_settings(**room_sections()), clock=clock) as room:
        booking = BookingRepository(room.db).booking(demo_booking(room))
        invited = guests(room).invite(booking.id, "Petra Gastvrouw", "expert", invited_by="facilitator token 1")
        code = invited["code"]
        assert len(code) == CODE_DIGITS and code.isdigit()
        assert "shown only now" in invited["notice"]
        stored = room.db.execute("select * from session_guests").fetchone()
        assert code not in str(tuple(stored)), "the code is stored only as a keyed hash"
        assert "code" not in guests(room).guest(invited["guest"]["id"])
        assert all("code" not in g for g in guests(room).of_booking(booking.id))

        before = relay_activations(room)
        wrong = await enter(room, "12345678" if code != "12345678" else "87654321")
        assert wrong["granted"] is False and wrong["why"] == "unknown" and "not known" in wrong["message"]
        short = await enter(room, "12")
        assert short["granted"] is False and f"{CODE_DIGITS} digits" in short["message"]

        granted = await enter(room, code)
        assert granted["granted"] is True and granted["reason"] == "guest" and granted["booking_id"] == booking.id
        assert relay_activations(room) == before + 1
        again = await enter(room, code, reader="tablet")
        assert again["granted"] is False and again["why"] == "used" and "once" in again["message"]
        assert relay_activations(room) == before + 1, "a used code does not move the relay"

        reasons = [(r["decision"], r["reason"]) for r in audit_rows(room, "tap")]
        assert reasons[-3:] == [("denied", "guest_code"), ("granted", "guest"), ("denied", "guest_code")]
        assert all(code not in str(r) for r in audit_rows(room))

        session = room.service(SessionService)
        await wait_for(lambda: session.session_id is not None)  # the guest's grant starts the group's session
        await tap(room, MEMBER_UID)
        shown = await wait_for(lambda: (room.screen.get("guests") or {}).get("present"))
        assert shown == [{"name": "Petra Gastvrouw", "kind": "expert"}]
        assert [m["name"] for m in session.present()] == ["Anna de Vries"], "guests are not in the attendance"
        assert known_guest_names(room.db) == ["Petra Gastvrouw"]

        now = clock.now()
        period = Period(now - timedelta(days=1), now + timedelta(days=1))
        report = learning.group_report(room.db, booking.group_id, period, room.settings.room.tz, now, per_member=True)
        assert "Petra" not in str(report), "guests never appear in reports"


async def test_a_guest_code_outside_its_window_is_refused_with_when_it_works(make_settings: MakeSettings) -> None:
    clock = manual_clock()
    async with running_room(make_settings(**room_sections(booking={"walk_in": False})), clock=clock) as room:
        repo = BookingRepository(room.db)
        start = clock.now() + timedelta(days=2)
        later = repo.add_booking(repo.groups()[0].id, start, start + timedelta(hours=1), now=clock.now())
        code = guests(room).invite(later.id, "Karel Collega", "colleague", invited_by="admin")["code"]
        before = relay_activations(room)
        early = await enter(room, code)
        assert early["granted"] is False and early["why"] == "outside_window"
        assert "works only from" in early["message"] and early["valid_until"]
        assert relay_activations(room) == before
        clock.set(start - timedelta(minutes=5))
        assert (await enter(room, code))["granted"] is True
        clock.set(start + timedelta(hours=2))
        with pytest.raises(StateError, match="over"):
            guests(room).invite(later.id, "Te Laat", "colleague", invited_by="admin")


async def test_a_temporary_badge_works_only_in_the_window_and_never_during_a_closure(make_settings: MakeSettings) -> None:
    clock = manual_clock()
    async with running_room(make_settings(**room_sections(booking={"walk_in": False})), clock=clock) as room:
        booking_id = demo_booking(room)
        guest = guests(room).invite(booking_id, "Tijdelijke Pas", "colleague", invited_by="admin", badge_uid=GUEST_BADGE)
        assert "code" not in guest and guest["guest"]["access"] == "badge"
        assert (await tap(room, GUEST_BADGE)).reason.value == "guest"
        with pytest.raises(ConflictError, match="belongs to a member"):
            guests(room).invite(booking_id, "Geen Lid", "colleague", invited_by="admin", badge_uid=MEMBER_UID)
        for name, kind in (("", "colleague"), ("Iemand", "stranger"), ("x" * 200, "expert")):
            with pytest.raises(ValidationError):
                guests(room).invite(booking_id, name, kind, invited_by="admin")
        ClosureStore(room.db).replace(
            [Closure("dicht", "Onderhoud", clock.now() - timedelta(minutes=1), clock.now() + timedelta(hours=3), False)],
            now=clock.now(),
        )
        assert (await tap(room, GUEST_BADGE, reader="other")).reason.value == "unknown"
        code = guests(room).invite(booking_id, "Code Tijdens Sluiting", "expert", invited_by="admin")["code"]
        closed = await enter(room, code)
        assert closed["granted"] is False and closed["why"] == "closed"
        clock.advance(5 * 3600)
        assert (await tap(room, GUEST_BADGE, reader="late")).reason.value == "unknown", "the badge ends with its window"


async def test_guessing_codes_locks_the_keypad_out_and_the_right_code_waits(make_settings: MakeSettings) -> None:
    clock = manual_clock()
    settings = make_settings(**room_sections(door={"lockout_denied_taps": 5, "lockout_window_seconds": 60, "lockout_seconds": 120}))
    async with running_room(settings, clock=clock) as room:
        code = guests(room).invite(demo_booking(room), "Rita Raden", "colleague", invited_by="admin")["code"]
        wrong = [f"{n:08d}" for n in range(1, 7) if f"{n:08d}" != code]
        answers = [await enter(room, guess) for guess in wrong[:5]]
        assert all(a["granted"] is False for a in answers)
        before = relay_activations(room)
        locked = await enter(room, code)
        assert locked["granted"] is False and locked["reason"] == "locked_out" and "wait" in locked["message"]
        assert relay_activations(room) == before
        assert guests(room).of_booking(demo_booking(room))[0]["used"] is False, "a refused try does not use the code"
        clock.advance(121)
        assert (await enter(room, code))["granted"] is True


async def test_a_guests_name_is_among_the_names_removed_before_a_proposal(make_settings: MakeSettings) -> None:
    from roomctl.proposal.sources import RoomContextSource

    clock = manual_clock()
    async with running_room(make_settings(**room_sections()), clock=clock) as room:
        booking = demo_booking(room)
        guests(room).invite(booking, "Quirijn Vermeulen-Hout", "expert", invited_by="admin")
        group = BookingRepository(room.db).booking(booking).group_id
        names = RoomContextSource(room).known_names(group)
    assert "Quirijn Vermeulen-Hout" in names, "the de-identification removes guests as it removes members"
    assert names.index("Quirijn Vermeulen-Hout") > 0, "the group's members come first"
