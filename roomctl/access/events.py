"""Events of the door: taps, the contact, the exit button, and what access decided."""

from __future__ import annotations

from dataclasses import dataclass

from roomctl.access.secure.verify import CardProof
from roomctl.core.events import Event


@dataclass(frozen=True)
class Tap(Event):
    """A badge was presented at a reader. ``uid`` is raw as the reader gave it.

    ``proof`` is what a reader that authenticates cards (a PN532 on this Pi) found out about the card; ``None``
    from readers that only see UIDs (ESPHome nodes, the API, the simulated reader).
    """

    uid: str = ""
    reader: str = "simulated"
    proof: CardProof | None = None


@dataclass(frozen=True)
class ExitPressed(Event):
    """The exit button inside was pressed (the door was already unlocked from the GPIO thread)."""


@dataclass(frozen=True)
class DoorContactChanged(Event):
    """The door contact reports the door open (``True``) or shut (``False``).

    ``let_in`` says, for an opening, whether the strike was energised at that moment or within the grace
    period before (judged on the GPIO thread, so a busy loop cannot turn a let-in opening into "forced").
    """

    open: bool = False
    let_in: bool = True


@dataclass(frozen=True)
class DoorRelocked(Event):
    """The unlock pulse ended and the strike is locked again."""


@dataclass(frozen=True)
class AccessGranted(Event):
    """A member was let in. ``first`` is true for the tap that checked the booking in."""

    member_id: int | None = None
    group_id: int | None = None
    booking_id: int | None = None
    first: bool = False


@dataclass(frozen=True)
class ReaderStatusChanged(Event):
    """A reader went offline or came back."""

    reader: str = ""
    online: bool = True
    detail: str = ""


@dataclass(frozen=True)
class HeldOpenCheck(Event):
    """Timer: is the door still open since opening number ``opening``?"""

    opening: int = 0


@dataclass(frozen=True)
class LockoutEnded(Event):
    """Timer: a reader's lockout is over."""

    reader: str = ""


@dataclass(frozen=True)
class ProvisioningTimeout(Event):
    """Timer: provision-by-tap request ``serial`` waited long enough."""

    serial: int = 0


@dataclass(frozen=True)
class AccessHousekeeping(Event):
    """Timer: audit retention and the LED's booked-soon colour."""
