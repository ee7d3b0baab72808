"""Vitality in the hour: a movement break, business meditation, and a break the facilitator inserts.

The default videoframe holds a movement break (a timed ``break`` step with its own scene ``movement``). A
``meditation`` step is a timer with the dimmed scene ``meditation`` and a calm screen; like a break it moves on
by itself when its time is up. The tablet's ``insert_break {kind, minutes}`` puts one of :data:`BREAK_KINDS`
right after the current step and goes to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from roomctl.session.machine import PlanStep

MAX_BREAK_MINUTES = 30
"""Longest break the tablet can insert."""


@dataclass(frozen=True)
class BreakKind:
    """A kind of break the tablet can insert."""

    step_kind: str
    scene: str
    minutes: int
    title: dict[str, str]
    prompt: dict[str, str]


BREAK_KINDS: dict[str, BreakKind] = {
    "movement": BreakKind(
        "break", "movement", 5,
        {"nl": "Bewegingspauze", "en": "Movement break"},
        {"nl": "Sta op, strek je, loop even rond of pak een espresso.", "en": "Stand up, stretch, walk around or get an espresso."},
    ),
    "meditation": BreakKind(
        "meditation", "meditation", 5,
        {"nl": "Bedrijfsmeditatie", "en": "Business meditation"},
        {"nl": "Ogen dicht, rustig ademen. De timer loopt; de sessie gaat daarna vanzelf verder.",
         "en": "Eyes closed, breathe calmly. The timer runs; the session moves on by itself afterwards."},
    ),
    "break": BreakKind(
        "break", "break", 10,
        {"nl": "Pauze", "en": "Break"},
        {"nl": "Even pauze.", "en": "A short break."},
    ),
}  # fmt: skip
"""What ``insert_break`` can insert, by its ``kind`` argument."""


def vitality_step(kind: str, minutes: int, number: int) -> PlanStep:
    """The step ``insert_break`` inserts; ``number`` makes its id unique in the plan."""
    spec = BREAK_KINDS[kind]
    return PlanStep(
        id=f"inserted-{kind}-{number}",
        kind=spec.step_kind,
        title=dict(spec.title),
        minutes=float(minutes),
        prompt=dict(spec.prompt),
        scene=spec.scene,
    )
