"""Events the devices capability listens to besides the session's ``PhaseChanged``.

``PresenceChanged`` comes from any presence source that is not a device on the bus (the PIR on the Pi's GPIO,
for example): ``room.post(PresenceChanged(present=True))`` resets the empty-room timer.
"""

from __future__ import annotations

from dataclasses import dataclass

from roomctl.core.events import Event


@dataclass(frozen=True)
class PresenceChanged(Event):
    """Someone is (or no longer is) seen in the room."""

    present: bool = False
