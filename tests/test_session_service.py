"""The session service in a whole room on a ManualClock: taps, timers, clip reports, choices, pairing, restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from roomctl.api.tokens import verify_token
from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.errors import AuthError, NotFoundError, RateLimitedError, StateError, ValidationError
from roomctl.session.events import ClipReport, StepTimer
from roomctl.session.pairing import LOCK_SECONDS, MAX_WRONG_PINS, PIN_ROTATE_SECONDS
from tests.session_helpers import (
    MIXED_ID,
    START,
    arrive,
    command,
    group_id,
    install_mixed,
    member_ids,
    running_room,
    session,
)


async def test_first_tap_starts_the_session_at_arrival_and_records_who_is_present(settings: Settings) -> None:
    async with running_room(settings, ManualClock(START)) as room:
        assert room.screen.get("session") is None
        first, second = member_ids(room)[:2]
        await arrive(room, first)
        view = room.screen.get("session")
        assert view["phase"] == "arrival" and view["index"] == 0
        assert [s["kind"] for s in view["plan"]] == [
            "arrival", "analysis", "problem", "brainstorm", "break", "proposal", "validation", "wrapup"]  # fmt: skip
        await arrive(room, second)
        assert [m["id"] for m in room.screen.get("session")["present"]] == [first, second]
        assert room.status.get("phase") == {"name": "arrival", "session_id": view["id"]}


async def test_timers_warn_then_show_overtime_and_a_break_moves_on(settings: Settings, tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with running_room(settings, clock) as room:
        install_mixed(room, tmp_path)
        service = session(room)
        await service.begin(group_id(room), None, clock.now(), MIXED_ID)
        view = await command(room, "next")
        assert view["step"]["id"] == "intro" and view["step"]["clip_led"] is True
        clip = view["clip"]
        answer = await room.dispatch(ClipReport(clip=clip["src"], step="intro", restart=clip["restart"], state="ended"))
        assert answer["accepted"] is True
        assert service.current()["step"]["id"] == "pauze", "the end of a clip-led step's clip moves on"

        clock.advance(61)
        await room.dispatch(StepTimer(session_id=service.session_id or 0, index=2, moment="end"))
        view = service.current()
        assert view["step"]["id"] == "analyse", "a break moves on by itself when its time is up"
        assert view["clip"]["state"] == "playing"

        clock.advance(10 * 60 - 30)
        service.tick()
        view = service.current()
        assert view["warning"] is True and view["overtime"] is False and view["remaining_seconds"] == 30
        clock.advance(90)
        service.tick()
        view = service.current()
        assert view["step"]["id"] == "analyse", "a working step waits for the group"
        assert view["overtime"] is True and view["remaining_seconds"] == -60


async def test_player_reports_end_intro_clips_and_stale_reports_are_dropped(settings: Settings, tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with running_room(settings, clock) as room:
        install_mixed(room, tmp_path)
        service = session(room)
        await service.begin(group_id(room), None, clock.now(), MIXED_ID)
        await command(room, "goto", index=3)
        clip = service.current()["clip"]
        assert clip["step"] == "analyse"
        restarted = (await command(room, "restart_clip"))["clip"]
        assert restarted["restart"] == clip["restart"] + 1

        stale = await room.dispatch(ClipReport(clip=clip["src"], step="analyse", restart=clip["restart"], state="ended"))
        assert stale["accepted"] is False
        late = await room.dispatch(ClipReport(clip=clip["src"], step="intro", restart=restarted["restart"], state="ended"))
        assert late["accepted"] is False
        assert service.current()["clip"] == restarted, "out-of-date reports change nothing"

        playing = ClipReport(clip=clip["src"], step="analyse", restart=restarted["restart"], state="playing",
                             position_ms=1200, length_ms=2000)  # fmt: skip
        assert (await room.dispatch(playing))["accepted"] is True
        assert service.current()["clip_progress"]["position_ms"] == 1200
        with pytest.raises(ValidationError):
            await room.dispatch(ClipReport(clip=clip["src"], step="analyse", restart=restarted["restart"], state="dancing"))

        ended = ClipReport(clip=clip["src"], step="analyse", restart=restarted["restart"], state="ended")
        await room.dispatch(ended)
        view = service.current()
        assert view["step"]["id"] == "analyse" and view["clip"] is None and view["clip_state"] == "done"
        again = await room.dispatch(ended)
        assert again["accepted"] is False, "a second end of the same clip is ignored"
        assert (await command(room, "play"))["clip"]["state"] == "playing"


async def test_session_resumes_after_a_restart_at_the_same_step_with_the_right_time(settings: Settings) -> None:
    clock = ManualClock(START)
    async with running_room(settings, clock) as room:
        await arrive(room)
        await command(room, "next")
        await command(room, "situation", text="Wachttijden aan de telefoon")
        clock.advance(100)
        session(room).tick()
        before = session(room).current()
        assert before["remaining_seconds"] == 12 * 60 - 100
    clock.advance(300)  # the service is down for five minutes
    async with running_room(settings, clock, seeded=False) as room:
        after = session(room).current()
        assert after["id"] == before["id"] and after["index"] == before["index"] == 1
        assert after["remaining_seconds"] == 12 * 60 - 400, "time while down counts as time spent"
        assert after["work_situation"] == "Wachttijden aan de telefoon"
        assert after["clip"]["src"] == before["clip"]["src"]
        await command(room, "pause")
    clock.advance(600)
    async with running_room(settings, clock, seeded=False) as room:
        paused = session(room).current()
        assert paused["paused"] is True and paused["remaining_seconds"] == 12 * 60 - 400


async def test_commands_out_of_order_are_refused_and_change_nothing(settings: Settings) -> None:
    async with running_room(settings, ManualClock(START)) as room:
        with pytest.raises(StateError, match="no session"):
            await command(room, "next")
        await arrive(room)
        before = session(room).current()
        with pytest.raises(StateError, match="has no clip"):
            await command(room, "play")
        with pytest.raises(StateError, match="first step"):
            await command(room, "previous")
        with pytest.raises(ValidationError, match="index"):
            await command(room, "goto", index=99)
        with pytest.raises(ValidationError, match="unknown command"):
            await command(room, "dance")
        with pytest.raises(NotFoundError):
            await command(room, "note", question="q99", text="x")
        with pytest.raises(ValidationError, match="280"):
            await command(room, "note", question="q1", text="x" * 400)
        with pytest.raises(StateError, match="already running"):
            await command(room, "start")
        assert session(room).current() == before
        assert list(room.db.query("select * from session_notes")) == []

        await command(room, "end")
        assert room.screen.get("session") is None
        with pytest.raises(StateError, match="no session"):
            await command(room, "next")
        row = room.db.execute("select ended_at from sessions").fetchone()
        assert row[0] is not None


async def test_the_groups_choices_are_stored_and_shown(settings: Settings) -> None:
    async with running_room(settings, ManualClock(START)) as room:
        await arrive(room)
        service = session(room)
        await command(room, "situation", text="  Klanten   wachten te lang  ")
        await command(room, "choose", questions=["q5", "q1", "q5"])
        await command(room, "note", question="q1", text="Terugbellen duurt twee dagen")
        view = service.current()
        assert view["work_situation"] == "Klanten wachten te lang"
        assert [q["id"] for q in view["chosen"]] == ["q1", "q5"]
        assert view["chosen"][0]["note"] == "Terugbellen duurt twee dagen"
        assert len(view["kader"]) == 10
        view = await command(room, "next")
        assert view["step"]["question_texts"][0] == {
            "id": "q1", "nl": "Wat is de situatie precies?", "en": "What exactly is the situation?",
            "note": "Terugbellen duurt twee dagen"}  # fmt: skip
        await command(room, "problem", text="Niemand is eigenaar van de terugbelverzoeken")
        await command(room, "show_question", question="q7")
        assert service.current()["questions"] == ["q1", "q2", "q4", "q7"]

        row = room.db.execute("select work_situation, problem, chosen_questions from sessions").fetchone()
        assert row == ("Klanten wachten te lang", "Niemand is eigenaar van de terugbelverzoeken", '["q1", "q5"]')
        material = service.choices.material(view["id"])
        assert material["work_situation"] == "Klanten wachten te lang"
        assert material["kader_notes"] == [
            ("Wat is de situatie precies?", "Terugbellen duurt twee dagen"),
            ("Wat is het eigenlijke probleem achter het probleem?", ""),
        ]
        await command(room, "note", question="q1", text="")
        assert service.choices.notes(view["id"]) == {}


async def test_pairing_locks_after_five_wrong_pins_and_binds_tokens_to_the_session(settings: Settings) -> None:
    clock = ManualClock(START)
    async with running_room(settings, clock) as room:
        pairing = session(room).pairing
        pin = room.screen.get("pairing")["pin"]
        assert len(pin) == 6 and pin.isdigit()
        wrong = "000000" if pin != "000000" else "111111"
        with pytest.raises(ValidationError, match="6 digits"):
            pairing.pair("12a456")
        for attempt in range(1, MAX_WRONG_PINS):
            with pytest.raises(AuthError) as refused:
                pairing.pair(wrong)
            assert refused.value.extra["tries_left"] == MAX_WRONG_PINS - attempt
        with pytest.raises(RateLimitedError, match="locked"):
            pairing.pair(wrong)
        with pytest.raises(RateLimitedError, match="locked"):
            pairing.pair(pin)
        assert room.db.execute("select count(*) from tablet_pairings").fetchone()[0] == 0
        assert room.screen.get("pairing")["locked_until"] is None, "one client's wrong PINs lock out only that client"

        clock.advance(LOCK_SECONDS + 1)
        pairing.refresh()
        fresh = room.screen.get("pairing")
        assert fresh["locked_until"] is None and fresh["pin"] == pin
        await arrive(room)
        paired = pairing.pair(fresh["pin"])
        principal = verify_token(room.db, paired["token"], now=room.clock.now())
        assert principal is not None and principal.role.value == "facilitator"
        assert paired["session_id"] == session(room).session_id
        assert room.screen.get("pairing")["pin"] != fresh["pin"], "a PIN works once"

        rotated = room.screen.get("pairing")["pin"]
        clock.advance(PIN_ROTATE_SECONDS + 1)
        pairing.refresh()
        assert room.screen.get("pairing")["pin"] != rotated

        await command(room, "end")
        assert verify_token(room.db, paired["token"], now=room.clock.now()) is None, "a session-bound tablet token ends with the session"
        room_token = pairing.pair(room.screen.get("pairing")["pin"])
        assert room_token["session_id"] is None and verify_token(room.db, room_token["token"], now=room.clock.now()) is not None
        clock.advance(timedelta(hours=13).total_seconds())
        pairing.sweep()
        assert verify_token(room.db, room_token["token"], now=room.clock.now()) is None, "a room-bound token expires"
