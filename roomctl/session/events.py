"""Events of the session: the tablet's commands, step timers, the player's reports, phase changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roomctl.core.events import Event


@dataclass(frozen=True)
class SessionCommand(Event):
    """A command from the tablet (or the CLI) for the session service; see ``SessionService.COMMANDS``."""

    command: str = ""
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepTimer(Event):
    """A step's warning or planned end arrived (ignored if the step changed meanwhile)."""

    session_id: int = 0
    index: int = 0
    moment: str = "end"


@dataclass(frozen=True)
class PhaseChanged(Event):
    """The session entered a new phase (``arrival``, a step kind, ``wrapup``, ``ended``, ``idle``)."""

    phase: str = "idle"
    scene: str | None = None
    session_id: int | None = None


@dataclass(frozen=True)
class ClipReport(Event):
    """The kiosk player reports playback of a clip (on every change and about once a second while playing).

    ``restart`` and ``step`` echo the screen state the player acted on, so a report about an earlier start of
    the clip, or about the previous step's clip, is recognised and dropped.
    """

    clip: str = ""
    step: str | None = None
    restart: int = 0
    state: str = "playing"
    position_ms: int = 0
    length_ms: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class SessionStarted(Event):
    """A group's session began (its arrival phase is on screen)."""

    session_id: int = 0
    group_id: int = 0
    booking_id: int | None = None


@dataclass(frozen=True)
class StepChanged(Event):
    """The running session moved to another step (also sent when a session starts or resumes).

    ``question_id`` is the kader question the step is about (the first shown or planned one), if any.
    """

    session_id: int = 0
    group_id: int = 0
    booking_id: int | None = None
    index: int = 0
    step_id: str = ""
    kind: str = ""
    question_id: str | None = None


@dataclass(frozen=True)
class SessionEnded(Event):
    """The running session ended (from the tablet, its plan, or its booking)."""

    session_id: int = 0
    group_id: int = 0
    booking_id: int | None = None
