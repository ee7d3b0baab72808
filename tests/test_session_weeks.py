"""The Vitale Weekcyclus over weeks, in a whole room on a ManualClock: cycles (incl. a closure and the change
to winter time), continuity with the last validated proposal and its follow-up, and vitality steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from roomctl.booking.closures import Closure, ClosureStore
from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.core.room import Room
from roomctl.errors import NotFoundError, StateError, ValidationError
from roomctl.proposal.service import ProposalService
from roomctl.session.cycles import week_bounds
from roomctl.session.events import PhaseChanged, StepTimer
from roomctl.session.weeks import WeekService
from tests.conftest import wait_for
from tests.session_helpers import START, command, group_id, running_room, session
from tests.weeks_helpers import accept, draft_proposal, part, run_session, tablet

AMS = ZoneInfo("Europe/Amsterdam")


def weeks(room: Room) -> WeekService:
    service: WeekService = room.service(WeekService)
    return service


def test_a_cycle_is_a_local_week_also_across_the_change_to_winter_time() -> None:
    key, start, end = week_bounds(datetime(2026, 10, 21, 12, 0, tzinfo=UTC), AMS)
    assert key == "2026-W43"
    assert start == datetime(2026, 10, 19, 0, 0, tzinfo=AMS) and end == datetime(2026, 10, 26, 0, 0, tzinfo=AMS)
    assert (end - start) == timedelta(hours=169), "the week holding the change to winter time has 169 hours"
    late_sunday = datetime(2026, 10, 25, 22, 30, tzinfo=UTC)  # 23:30 CET, still Sunday
    monday = datetime(2026, 10, 25, 23, 30, tzinfo=UTC)  # 00:30 CET on Monday
    assert week_bounds(late_sunday, AMS)[0] == "2026-W43"
    assert week_bounds(monday, AMS)[0] == "2026-W44"
    spring = week_bounds(datetime(2026, 3, 25, tzinfo=UTC), AMS)
    assert spring[2] - spring[1] == timedelta(hours=167)


async def test_the_week_is_chosen_at_its_first_session_and_the_others_open_with_it(settings: Settings) -> None:
    clock = ManualClock(START)  # Monday 2 March 2026
    async with running_room(settings, clock) as room:
        service = session(room)
        first = await service.begin(group_id(room), None, clock.now())
        await wait_for(lambda: part(room, "continuity"))
        view = await tablet(room, "cycle", questions=["q5", "q2"], situations=["Drukte aan de balie", "Overdracht"])
        cycle = view["result"]["cycle"]
        assert cycle["week"] == "2026-W10" and cycle["first_session_id"] == first
        assert cycle["questions"] == ["q2", "q5"], "kept in the kader's order"
        assert [q["id"] for q in view["chosen"]] == ["q2", "q5"], "the running session takes the week's questions"
        assert view["work_situation"] == "Drukte aan de balie"
        await command(room, "end")

        clock.advance(2 * 86400)  # Wednesday: the week's next session opens with the week's choice
        second = await service.begin(group_id(room), None, clock.now())
        opened = service.current()
        assert [q["id"] for q in opened["chosen"]] == ["q2", "q5"] and opened["work_situation"] == "Drukte aan de balie"
        await wait_for(lambda: (part(room, "continuity") or {}).get("session_id") == second)
        assert part(room, "continuity")["cycle"]["situations"] == ["Drukte aan de balie", "Overdracht"]
        changed = await tablet(room, "cycle", questions=["q7"])
        assert changed["result"]["cycle"]["questions"] == ["q7"] and changed["result"]["cycle"]["situations"][1] == "Overdracht"
        await command(room, "end")

        clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))  # next Monday: a new cycle, nothing chosen yet
        third = await service.begin(group_id(room), None, clock.now())
        assert service.current()["chosen"] == [] and service.current()["work_situation"] == ""
        await wait_for(lambda: (part(room, "continuity") or {}).get("session_id") == third)
        assert part(room, "continuity")["cycle"]["week"] == "2026-W11"

        history = weeks(room).cycles.history(group_id(room))
        assert [c["week"] for c in history] == ["2026-W11", "2026-W10"]
        week10 = history[1]
        assert week10["sessions"] == 2 and week10["questions"] == ["q7"]
        assert [c["questions"] for c in week10["changes"]] == [["q2", "q5"], ["q7"]]
        assert [c["session_id"] for c in week10["changes"]] == [first, second]


async def test_bad_cycle_choices_are_refused_and_change_nothing(settings: Settings) -> None:
    clock = ManualClock(START)
    async with running_room(settings, clock) as room:
        with pytest.raises(StateError, match="no session is running"):
            await tablet(room, "cycle", questions=["q1"])
        await session(room).begin(group_id(room), None, clock.now())
        await tablet(room, "cycle", questions=["q1"])
        for args, error in (
            ({"questions": ["q99"]}, NotFoundError),
            ({"questions": "q1"}, ValidationError),
            ({"situations": ["x" * 400]}, ValidationError),
            ({}, ValidationError),
        ):
            with pytest.raises(error):
                await tablet(room, "cycle", **args)
        cycle = weeks(room).current_cycle()
        assert cycle.questions == ("q1",) and cycle.situations == ()
        assert room.db.execute("select count(*) from cycle_changes").fetchone()[0] == 1


async def test_a_cycle_spanning_a_closure_says_so_and_the_session_goes_on(settings: Settings) -> None:
    clock = ManualClock(datetime(2026, 12, 21, 8, 0, tzinfo=UTC))  # Monday before Christmas
    async with running_room(settings, clock) as room:
        ClosureStore(room.db).replace(
            [Closure("kerst", "Kerstvakantie", datetime(2026, 12, 24, tzinfo=AMS), datetime(2026, 12, 28, tzinfo=AMS), True)],
            now=clock.now(),
        )
        repo = BookingRepository(room.db)
        repo.add_booking(group_id(room), datetime(2026, 12, 22, 9, tzinfo=AMS), datetime(2026, 12, 22, 10, tzinfo=AMS), now=clock.now())
        await session(room).begin(group_id(room), None, clock.now())
        answer = await tablet(room, "cycle", questions=["q3"], situations=["Jaarafsluiting"])
        cycle = answer["result"]["cycle"]
        assert [c["summary"] for c in cycle["closures"]] == ["Kerstvakantie"]
        assert "Kerstvakantie" in cycle["notice"]["nl"] and "gesloten" in cycle["notice"]["nl"]
        assert "closed" in cycle["notice"]["en"]
        assert len(cycle["sessions_booked"]) == 2, "the demo booking and Tuesday's"
        assert session(room).current()["phase"] == "arrival", "the session is unaffected"
        await wait_for(lambda: (part(room, "continuity") or {}).get("cycle", {}).get("notice"))


async def test_every_session_opens_with_the_last_validated_proposal_and_asks_how_it_went(settings: Settings) -> None:
    clock = ManualClock(START)
    async with running_room(settings, clock) as room:
        first = await run_session(room, clock, START)
        older = draft_proposal(room, first, "Balie anders inrichten")
        accept(room, older)
        clock.advance(3600)
        second = await run_session(room, clock, START + timedelta(days=1))
        latest = draft_proposal(room, second, "Rooster op drukte afstemmen")
        accept(room, latest)
        rejected = draft_proposal(room, second, "Afgewezen idee")
        room.service(ProposalService).verdict(rejected, "reject")

        clock.set(START + timedelta(days=2))
        third = await session(room).begin(group_id(room), None, clock.now())
        continuity = await wait_for(lambda: (part(room, "continuity") or {}).get("session_id") == third and part(room, "continuity"))
        assert session(room).current()["phase"] == "arrival"
        assert continuity["last_proposal"]["id"] == latest
        assert continuity["last_proposal"]["title"] == "Rooster op drukte afstemmen"
        assert continuity["last_proposal"]["steps"] == ["Rooster op drukte afstemmen: rooster aanpassen"]
        assert continuity["followup"] is None and continuity["open_followups"] == 2

        with pytest.raises(ValidationError, match="how must be one of"):
            await tablet(room, "followup", how="great", note="x")
        with pytest.raises(ValidationError, match="280"):
            await tablet(room, "followup", how="well", note="x" * 300)
        assert room.db.execute("select count(*) from proposal_followups").fetchone()[0] == 0
        with pytest.raises(StateError, match="not validated"):
            await tablet(room, "followup", how="well", proposal_id=rejected)

        answer = await tablet(room, "followup", how="partly", note="  Rooster   werkt, balie nog niet  ")
        assert answer["result"]["followup"]["note"] == "Rooster werkt, balie nog niet"
        assert part(room, "continuity")["followup"]["how_it_went"] == "partly"
        open_ones = weeks(room).open_followups(group_id(room))
        assert [p["id"] for p in open_ones] == [older], "the proposal never followed up is easy to find"
        await tablet(room, "followup", how="well", proposal_id=older)
        assert weeks(room).open_followups(group_id(room)) == []

        await command(room, "end")
        await wait_for(lambda: part(room, "continuity") is None)


async def test_a_group_without_a_validated_proposal_opens_without_one(settings: Settings) -> None:
    clock = ManualClock(START)
    async with running_room(settings, clock) as room:
        await session(room).begin(group_id(room), None, clock.now())
        continuity = await wait_for(lambda: part(room, "continuity"))
        assert continuity["last_proposal"] is None and continuity["open_followups"] == 0
        with pytest.raises(NotFoundError, match="no validated proposal"):
            await tablet(room, "followup", how="well")


async def test_the_facilitator_inserts_a_meditation_that_dims_the_room_and_moves_on(settings: Settings) -> None:
    clock = ManualClock(START)
    async with running_room(settings, clock) as room:
        phases: list[PhaseChanged] = []
        room.on(PhaseChanged, phases.append)
        service = session(room)
        await service.begin(group_id(room), None, clock.now())
        plan = [s["id"] for s in service.current()["plan"]]
        assert "beweging" in plan and service.current()["plan"][plan.index("beweging")]["kind"] == "break"
        await command(room, "next")
        with pytest.raises(ValidationError, match="kind must be one of"):
            await tablet(room, "insert_break", kind="nap")
        with pytest.raises(ValidationError, match="minutes"):
            await tablet(room, "insert_break", kind="meditation", minutes=90)
        view = await tablet(room, "insert_break", kind="meditation", minutes=4)
        assert view["phase"] == "meditation" and view["step"]["scene"] == "meditation"
        assert view["step"]["auto_advance"] is True and view["remaining_seconds"] == 240
        assert view["count"] == len(plan) + 1
        await wait_for(lambda: any(p.phase == "meditation" and p.scene == "meditation" for p in phases))
        clock.advance(241)
        await room.dispatch(StepTimer(session_id=service.session_id or 0, index=view["index"], moment="end"))
        after = service.current()
        assert after["step"]["id"] == "probleem", "the meditation moves on to the plan's next step by itself"

        movement = await tablet(room, "insert_break")
        assert movement["step"]["scene"] == "movement" and movement["step"]["kind"] == "break"
        assert movement["remaining_seconds"] == 300


async def test_after_a_restart_the_session_resumes_with_its_week_and_continuity(settings: Settings) -> None:
    clock = ManualClock(START)
    async with running_room(settings, clock) as room:
        first = await run_session(room, clock, START)
        accept(room, draft_proposal(room, first, "Vaste overdrachtsmomenten"))
        clock.advance(3600)
        running = await session(room).begin(group_id(room), None, clock.now())
        await tablet(room, "cycle", questions=["q8"], situations=["Overdracht"])
    async with running_room(settings, clock, seeded=False) as again:
        continuity = await wait_for(lambda: (part(again, "continuity") or {}).get("session_id") == running and part(again, "continuity"))
        assert continuity["last_proposal"]["title"] == "Vaste overdrachtsmomenten"
        assert continuity["cycle"]["questions"] == ["q8"] and continuity["cycle"]["situations"] == ["Overdracht"]
        assert [q["id"] for q in session(again).current()["chosen"]] == ["q8"]


async def test_sessions_fall_in_their_local_week_across_the_change_to_winter_time(settings: Settings) -> None:
    clock = ManualClock(datetime(2026, 10, 19, 8, 0, tzinfo=UTC))  # Monday 10:00 CEST
    async with running_room(settings, clock) as room:
        monday = await run_session(room, clock, clock.now())
        clock.set(datetime(2026, 10, 20, 8, 0, tzinfo=UTC))
        await session(room).begin(group_id(room), None, clock.now())
        await tablet(room, "cycle", questions=["q9"])
        await command(room, "end")
        late_sunday = await run_session(room, clock, datetime(2026, 10, 25, 22, 0, tzinfo=UTC), minutes=30)  # 23:00 CET
        next_monday = await run_session(room, clock, datetime(2026, 10, 25, 23, 10, tzinfo=UTC), minutes=30)  # 00:10 CET
        rows = dict(room.db.execute(
            "select s.id, c.week from sessions s join cycles c on c.id = s.cycle_id where s.id in (?, ?, ?)",
            [monday, late_sunday, next_monday]).fetchall())  # fmt: skip
        assert rows == {monday: "2026-W43", late_sunday: "2026-W43", next_monday: "2026-W44"}
        assert room.db.execute("select chosen_questions from sessions where id = ?", [late_sunday]).fetchone()[0] == '["q9"]'
        assert room.db.execute("select chosen_questions from sessions where id = ?", [next_monday]).fetchone()[0] is None
