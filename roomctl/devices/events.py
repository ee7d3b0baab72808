"""Events the devices capability listens to.

``PhaseChanged`` is defined here until the session machine emits its own phase event; the session capability
posts it (``room.post(PhaseChanged(phase="clip"))``) and the scene engine applies the phase's scene.
``PresenceChanged`` comes from any presence source (the PIR on the Pi's GPIO, a presence sensor device).
"""

from __future__ import annotations

from dataclasses import dataclass

from roomctl.core.events import Event


@dataclass(frozen=True)
class PhaseChanged(Event):
    """The session moved to another phase (``arrival``, ``clip``, ``brainstorm``, ``break``, ``leave``)."""

    phase: str = ""


@dataclass(frozen=True)
class PresenceChanged(Event):
    """Someone is (or no longer is) seen in the room."""

    present: bool = False
