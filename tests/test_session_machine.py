"""The session state machine on its own: transitions, clips, questions, timers in the view, persistence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomctl.errors import StateError
from roomctl.session.machine import WARNING_SECONDS, PlanStep, SessionState, is_clip_led

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def plan() -> tuple[PlanStep, ...]:
    return (
        PlanStep("arrival", "arrival", {"nl": "Aankomst"}, 5),
        PlanStep("intro", "custom", {"nl": "Intro"}, 2, clip="/clips/intro.mp4"),
        PlanStep("analyse", "analysis", {"nl": "Analyse"}, 10, questions=("q1", "q2"), clip="/clips/a.mp4"),
        PlanStep("pauze", "break", {"nl": "Pauze"}, 1),
        PlanStep("wrapup", "wrapup", {"nl": "Afronding"}, 5, questions=("q10",)),
    )


def started() -> SessionState:
    return SessionState(plan=plan()).goto(0, T0)


def test_walks_the_plan_and_ends_after_wrap_up() -> None:
    state = started()
    phases = [state.phase]
    while not state.ended:
        state = state.next(T0)
        phases.append(state.phase)
    assert phases == ["arrival", "custom", "analysis", "break", "wrapup", "ended"]
    with pytest.raises(StateError, match="ended"):
        state.next(T0)
    with pytest.raises(StateError, match="ended"):
        state.previous(T0)
    with pytest.raises(StateError):
        started().previous(T0)


def test_entering_a_step_with_a_clip_plays_it_and_counts_restarts() -> None:
    arrival = started()
    assert arrival.clip_state is None and arrival.view(T0)["clip"] is None
    intro = arrival.next(T0)
    clip = intro.view(T0)["clip"]
    assert clip == {"src": "/clips/intro.mp4", "state": "playing", "restart": intro.clip_restart, "step": "intro"}
    paused = intro.pause_clip()
    assert paused.view(T0)["clip"]["state"] == "paused"
    restarted = paused.restart_clip()
    assert restarted.clip_state == "playing" and restarted.clip_restart == intro.clip_restart + 1


def test_clip_commands_on_a_step_without_clip_are_refused() -> None:
    arrival = started()
    for action in (arrival.play_clip, arrival.pause_clip, arrival.restart_clip):
        with pytest.raises(StateError, match="has no clip"):
            action()


def test_end_of_clip_advances_only_clip_led_steps() -> None:
    intro = started().next(T0)
    assert is_clip_led(intro.step)
    after_intro = intro.clip_finished(T0)
    assert after_intro.step.id == "analyse", "a custom step's clip is the step: its end moves on"
    analysis_done = after_intro.clip_finished(T0)
    assert analysis_done.step.id == "analyse" and analysis_done.clip_state == "done"
    assert analysis_done.view(T0)["clip"] is None, "a finished clip leaves the screen"
    again = analysis_done.play_clip()
    assert again.clip_state == "playing" and again.clip_restart == analysis_done.clip_restart + 1


def test_reports_about_an_earlier_start_or_step_are_not_current() -> None:
    intro = started().next(T0)
    analysis = intro.next(T0)
    assert not analysis.is_current_clip("intro", "/clips/intro.mp4", intro.clip_restart)
    assert not analysis.is_current_clip("analyse", "/clips/a.mp4", analysis.clip_restart - 1)
    assert analysis.is_current_clip("analyse", "/clips/a.mp4", analysis.clip_restart)
    assert not analysis.clip_finished(T0).is_current_clip("analyse", "/clips/a.mp4", analysis.clip_restart)


def test_warning_and_overtime_in_the_view() -> None:
    analysis = started().goto(2, T0)
    calm = analysis.view(T0 + timedelta(minutes=5))
    assert not calm["warning"] and not calm["overtime"] and calm["remaining_seconds"] == 300
    warning = analysis.view(T0 + timedelta(seconds=600 - WARNING_SECONDS + 1))
    assert warning["warning"] and not warning["overtime"]
    over = analysis.view(T0 + timedelta(minutes=12))
    assert over["overtime"] and over["remaining_seconds"] == -120 and not over["warning"]


def test_pause_stops_the_clock_and_extend_adds_time() -> None:
    analysis = started().goto(2, T0)
    paused = analysis.pause(T0 + timedelta(minutes=2))
    resumed = paused.resume(T0 + timedelta(minutes=30))
    assert resumed.remaining(T0 + timedelta(minutes=30)) == 8 * 60
    extended = resumed.extend(5, T0 + timedelta(minutes=30))
    assert extended.remaining(T0 + timedelta(minutes=30)) == 13 * 60
    assert extended.view(T0)["planned_minutes"] == sum(s.minutes for s in plan()) + 5


def test_show_and_hide_questions_per_step() -> None:
    analysis = started().goto(2, T0)
    assert analysis.questions == ("q1", "q2")
    shown = analysis.show_question("q7").hide_question("q1")
    assert shown.questions == ("q2", "q7")
    with pytest.raises(StateError, match="not on the screen"):
        shown.hide_question("q1")
    assert shown.goto(4, T0).questions == ("q10",), "another step keeps its own questions"
    assert shown.goto(4, T0).goto(2, T0).questions == ("q2", "q7"), "coming back shows the same choice"


def test_json_round_trip_keeps_everything() -> None:
    state = started().goto(2, T0).pause_clip().show_question("q5").pause(T0 + timedelta(seconds=30))
    again = SessionState.from_json(state.to_json())
    assert again == state
    assert again.view(T0 + timedelta(hours=1)) == state.view(T0 + timedelta(hours=1))
