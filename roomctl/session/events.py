"""Events of the session: the tablet's commands, step timers, the player's reports, phase changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roomctl.core.events import Event


@dataclass(frozen=True)
class SessionCommand(Event):
    """A command from the tablet (or the CLI): ``next``, ``previous``, ``goto``, ``pause``, ``resume``,
    ``extend``, ``end``, ``play``, ``pause_clip``, ``restart_clip``."""

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
