"""The session state machine, free of I/O: what step the group is on and what may come next.

A session runs idle → arrival → the videoframe's steps (analysis, problem, brainstorm, proposal, validation,
...) → wrap-up → ended. Arrival and wrap-up frame every session; the steps come from the videoframe. Time is
given to every method, so the machine can be replayed and resumed exactly after a restart.

Transitions come from the tablet (next, previous, goto, end), from timers and from the end of a clip:

- Timers: a step warns :data:`WARNING_SECONDS` before its planned end. At the end a ``break`` step moves on by
  itself (:func:`auto_advances`); every other step stays and shows its overtime: the group decides.
- Clips: entering a step with a clip plays it (``clip_state`` ``playing``). When the player reports the end of
  the clip it is ``done`` and leaves the screen. A *clip-led* step (kind in :data:`CLIP_LED_KINDS`: ``break``
  and ``custom``, where the clip is the step's content) then moves on to the next step; in the other kinds the
  clip introduces the group's work, so the session stays on the step and its questions show.
- ``clip_restart`` grows on every (re)start of a clip, including entering a step; the player echoes it, so a
  late report about an earlier start is recognised and dropped (:meth:`SessionState.clip_report`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from roomctl.errors import StateError

ARRIVAL_MINUTES = 5
"""Planned minutes for arrival (who is present, what we take on today)."""
WRAPUP_MINUTES = 5
"""Planned minutes for wrap-up (what we take away, what's next)."""
WARNING_SECONDS = 60
"""A step warns this long before its planned end."""
CLIP_LED_KINDS = frozenset({"break", "custom"})
"""Step kinds whose clip is the step itself: the end of the clip moves the session to the next step."""
AUTO_ADVANCE_KINDS = frozenset({"break", "meditation"})
"""Step kinds that move on by themselves when their time is up; the others show overtime."""
CLIP_STATES = ("playing", "paused", "done")
"""``SessionState.clip_state`` of a step with a clip; ``None`` when the step has none."""


@dataclass(frozen=True)
class PlanStep:
    """One step of the hour's plan."""

    id: str
    kind: str
    title: dict[str, str]
    minutes: float
    prompt: dict[str, str] = field(default_factory=dict)
    questions: tuple[str, ...] = ()
    clip: str | None = None
    scene: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "minutes": self.minutes,
            "prompt": self.prompt,
            "questions": list(self.questions),
            "clip": self.clip,
            "scene": self.scene,
        }


ARRIVAL = PlanStep(
    "arrival",
    "arrival",
    {"nl": "Aankomst", "en": "Arrival"},
    ARRIVAL_MINUTES,
    {"nl": "Wie is er? Welke werksituatie nemen we vandaag?", "en": "Who is here? Which work situation do we take today?"},
    scene="arrival",
)
WRAPUP = PlanStep(
    "wrapup",
    "wrapup",
    {"nl": "Afronding", "en": "Wrap-up"},
    WRAPUP_MINUTES,
    {"nl": "Wat nemen we mee? Wat is de volgende stap?", "en": "What do we take away? What is next?"},
    questions=("q10",),
    scene="arrival",
)


def is_clip_led(step: PlanStep) -> bool:
    """True when the end of the step's clip ends the step (see the module docstring)."""
    return step.clip is not None and step.kind in CLIP_LED_KINDS


def auto_advances(step: PlanStep) -> bool:
    """True when the step moves on by itself at its planned end."""
    return step.kind in AUTO_ADVANCE_KINDS


def plan_from_videoframe(videoframe: Any) -> list[PlanStep]:
    """Arrival, the videoframe's steps, wrap-up."""
    steps = [ARRIVAL]
    for step in videoframe.steps:
        clip = getattr(step, "clip_path", None)
        steps.append(
            PlanStep(
                id=step.id,
                kind=step.kind,
                title=dict(step.title),
                minutes=float(step.suggested_minutes),
                prompt=dict(getattr(step, "prompt", {}) or {}),
                questions=tuple(step.questions),
                clip=str(clip) if clip else None,
                scene=getattr(step, "scene", None),
            )
        )
    steps.append(WRAPUP)
    return steps


@dataclass(frozen=True)
class SessionState:
    """Where a session is. ``step_started_at`` and ``elapsed_before`` give the time spent on the step.

    ``clip_state`` and ``clip_restart`` describe the current step's clip; ``shown`` holds, per step id, the kader
    questions the tablet chose to show on that step instead of the videoframe's own.
    """

    plan: tuple[PlanStep, ...]
    index: int = 0
    step_started_at: datetime | None = None
    paused_at: datetime | None = None
    elapsed_before: float = 0.0
    ended_at: datetime | None = None
    clip_state: str | None = None
    clip_restart: int = 0
    shown: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        """True once the session has ended."""
        return self.ended_at is not None

    @property
    def step(self) -> PlanStep:
        """The current step."""
        return self.plan[self.index]

    @property
    def phase(self) -> str:
        """``arrival``, the step's kind, ``wrapup`` or ``ended``."""
        return "ended" if self.ended else self.step.kind

    def elapsed(self, now: datetime) -> float:
        """Seconds spent on the current step."""
        if self.step_started_at is None:
            return self.elapsed_before
        until = self.paused_at or now
        return self.elapsed_before + max((until - self.step_started_at).total_seconds(), 0.0)

    def remaining(self, now: datetime) -> float:
        """Seconds left on the current step's plan (negative when over time)."""
        return self.step.minutes * 60 - self.elapsed(now)

    # -- transitions ----------------------------------------------------------------------------------------

    def goto(self, index: int, now: datetime) -> SessionState:
        """Go to step ``index``.

        Raises:
            StateError: The session ended or there is no such step.
        """
        if self.ended:
            raise StateError("the session has ended; start a new one with a badge tap")
        if not 0 <= index < len(self.plan):
            raise StateError(f"there is no step {index + 1}; this session has {len(self.plan)} steps")
        clip_state = "playing" if self.plan[index].clip else None
        return replace(
            self, index=index, step_started_at=now, paused_at=None, elapsed_before=0.0,
            clip_state=clip_state, clip_restart=self.clip_restart + 1,
        )  # fmt: skip

    def next(self, now: datetime) -> SessionState:
        """The next step; from wrap-up, the end.

        Raises:
            StateError: The session already ended.
        """
        if self.ended:
            raise StateError("the session has ended; there is no next step")
        if self.index == len(self.plan) - 1:
            return self.end(now)
        return self.goto(self.index + 1, now)

    def previous(self, now: datetime) -> SessionState:
        """The previous step.

        Raises:
            StateError: Already at the first step, or ended.
        """
        if self.ended:
            raise StateError("the session has ended; there is no previous step")
        if self.index == 0:
            raise StateError("this is the first step; there is no previous one")
        return self.goto(self.index - 1, now)

    def insert_step(self, step: PlanStep, now: datetime) -> SessionState:
        """Put ``step`` right after the current one and go to it (a break the facilitator inserts).

        Raises:
            StateError: The session ended, or a step with that id is in the plan already.
        """
        if self.ended:
            raise StateError("the session has ended")
        if any(s.id == step.id for s in self.plan):
            raise StateError(f"the plan has a step {step.id} already")
        plan = (*self.plan[: self.index + 1], step, *self.plan[self.index + 1 :])
        return replace(self, plan=plan).goto(self.index + 1, now)

    def pause(self, now: datetime) -> SessionState:
        """Stop the step's clock."""
        if self.ended:
            raise StateError("the session has ended")
        if self.paused_at is not None:
            return self
        return replace(self, paused_at=now)

    def resume(self, now: datetime) -> SessionState:
        """Run the step's clock again."""
        if self.ended:
            raise StateError("the session has ended")
        if self.paused_at is None or self.step_started_at is None:
            return self
        spent = (self.paused_at - self.step_started_at).total_seconds()
        return replace(self, paused_at=None, step_started_at=now, elapsed_before=self.elapsed_before + spent)

    def extend(self, minutes: float, now: datetime) -> SessionState:
        """Give the current step more time."""
        if self.ended:
            raise StateError("the session has ended")
        plan = list(self.plan)
        plan[self.index] = replace(self.step, minutes=self.step.minutes + minutes)
        return replace(self, plan=tuple(plan))

    def end(self, now: datetime) -> SessionState:
        """End the session."""
        if self.ended:
            raise StateError("the session has ended already")
        return replace(self, ended_at=now, clip_state="done" if self.clip_state else None)

    # -- the step's clip ------------------------------------------------------------------------------------

    def _require_clip(self, action: str) -> None:
        if self.ended:
            raise StateError("the session has ended")
        if self.clip_state is None:
            raise StateError(f"cannot {action}: step {self.index + 1} ({self.step.title.get('en', self.step.id)}) "
                             "has no clip")  # fmt: skip

    def play_clip(self) -> SessionState:
        """Play (or resume) the clip; a clip that was done plays again from the start.

        Raises:
            StateError: The step has no clip, or the session ended.
        """
        self._require_clip("play")
        if self.clip_state == "done":
            return replace(self, clip_state="playing", clip_restart=self.clip_restart + 1)
        return replace(self, clip_state="playing")

    def pause_clip(self) -> SessionState:
        """Pause the clip.

        Raises:
            StateError: The step has no clip, its clip is done, or the session ended.
        """
        self._require_clip("pause the clip")
        if self.clip_state == "done":
            raise StateError("the clip has already finished; restart it to see it again")
        return replace(self, clip_state="paused")

    def restart_clip(self) -> SessionState:
        """Play the clip again from the start.

        Raises:
            StateError: The step has no clip, or the session ended.
        """
        self._require_clip("restart the clip")
        return replace(self, clip_state="playing", clip_restart=self.clip_restart + 1)

    def is_current_clip(self, step_id: str | None, clip: str | None, restart: int) -> bool:
        """True when a player report speaks about the clip now on screen (same step, file and start)."""
        return (
            not self.ended
            and self.clip_state in ("playing", "paused")
            and restart == self.clip_restart
            and clip == self.step.clip
            and (step_id is None or step_id == self.step.id)
        )

    def clip_finished(self, now: datetime) -> SessionState:
        """The player reports the end of the current clip (or that it cannot play it).

        The clip is ``done``; a clip-led step then moves on to the next step (from wrap-up: the end).
        """
        done = replace(self, clip_state="done")
        if is_clip_led(self.step):
            return done.next(now)
        return done

    # -- questions on screen --------------------------------------------------------------------------------

    @property
    def questions(self) -> tuple[str, ...]:
        """The kader question ids shown on the current step."""
        return self.shown.get(self.step.id, self.step.questions)

    def show_question(self, question_id: str) -> SessionState:
        """Show a kader question on the current step (after the ones shown)."""
        if self.ended:
            raise StateError("the session has ended")
        if question_id in self.questions:
            return self
        return replace(self, shown={**self.shown, self.step.id: (*self.questions, question_id)})

    def hide_question(self, question_id: str) -> SessionState:
        """Hide a kader question on the current step.

        Raises:
            StateError: The question is not shown, or the session ended.
        """
        if self.ended:
            raise StateError("the session has ended")
        if question_id not in self.questions:
            raise StateError(f"question {question_id} is not on the screen; nothing to hide")
        kept = tuple(q for q in self.questions if q != question_id)
        return replace(self, shown={**self.shown, self.step.id: kept})

    # -- views ----------------------------------------------------------------------------------------------

    def view(self, now: datetime) -> dict[str, Any]:
        """The screen's view of the session."""
        remaining = self.remaining(now)
        ends_at = None
        if self.step_started_at is not None and self.paused_at is None:
            ends_at = (now + timedelta(seconds=remaining)).isoformat()
        clip = None
        if self.clip_state in ("playing", "paused") and not self.ended:
            clip = {"src": self.step.clip, "state": self.clip_state, "restart": self.clip_restart, "step": self.step.id}
        return {
            "phase": self.phase,
            "index": self.index,
            "count": len(self.plan),
            "step": {**self.step.as_dict(), "clip_led": is_clip_led(self.step), "auto_advance": auto_advances(self.step)},
            "plan": [{"id": s.id, "kind": s.kind, "title": s.title, "minutes": s.minutes} for s in self.plan],
            "questions": list(self.questions),
            "remaining_seconds": round(remaining),
            "ends_at": ends_at,
            "paused": self.paused_at is not None,
            "warning": 0 < remaining <= WARNING_SECONDS,
            "warning_seconds": WARNING_SECONDS,
            "overtime": remaining < 0,
            "planned_minutes": sum(s.minutes for s in self.plan),
            "elapsed_before_step_minutes": sum(s.minutes for s in self.plan[: self.index]),
            "clip": clip,
            "clip_state": self.clip_state,
        }

    # -- persistence ----------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """What is stored to resume after a restart."""
        return {
            "plan": [s.as_dict() for s in self.plan],
            "index": self.index,
            "step_started_at": self.step_started_at.isoformat() if self.step_started_at else None,
            "paused_at": self.paused_at.isoformat() if self.paused_at else None,
            "elapsed_before": self.elapsed_before,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "clip_state": self.clip_state,
            "clip_restart": self.clip_restart,
            "shown": {step: list(ids) for step, ids in self.shown.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionState:
        """Rebuild from :meth:`to_json`."""

        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        plan = tuple(
            PlanStep(
                id=s["id"], kind=s["kind"], title=s["title"], minutes=s["minutes"], prompt=s.get("prompt", {}),
                questions=tuple(s.get("questions", ())), clip=s.get("clip"), scene=s.get("scene"),
            )
            for s in data["plan"]
        )
        return cls(
            plan=plan,
            index=data["index"],
            step_started_at=when(data["step_started_at"]),
            paused_at=when(data["paused_at"]),
            elapsed_before=data["elapsed_before"],
            ended_at=when(data["ended_at"]),
            clip_state=data.get("clip_state"),
            clip_restart=int(data.get("clip_restart", 0)),
            shown={step: tuple(ids) for step, ids in (data.get("shown") or {}).items()},
        )
