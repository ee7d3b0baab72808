"""What each caller's screen-state feed (``/ws``) carries: per role and per group scope.

- The pairing PIN (part ``pairing``) is for the projector only: only kiosk tokens get that part.
- The parts that carry a group's work (the session with its choices and notes, the recording, captions and
  the proposal) go only to callers holding the group in the room (:mod:`roomctl.api.scope`); a facilitator
  of another group gets the room's other parts (room, agenda, door, devices) without them.

The filters are one small hook on the push loop's render (:func:`screen_view`); the parts stay their owners'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from roomctl.api.roles import Role
from roomctl.api.scope import UNRESTRICTED_ROLES, compute_scope, room_group
from roomctl.api.tokens import Principal, still_valid
from roomctl.core.room import Room

KIOSK_ONLY_PARTS = frozenset({"pairing"})
"""Screen parts only the projector's feed carries."""
GROUP_PARTS = frozenset({"session", "recording", "captions", "proposal", "continuity", "guests", "resources"})
"""Screen parts that carry the work of the group in the room."""


def screen_view(room: Room, principal: Principal) -> Callable[[], dict[str, Any]]:
    """The render function of ``principal``'s ``/ws`` feed."""
    hidden = frozenset() if principal.role == Role.KIOSK else KIOSK_ONLY_PARTS

    def render() -> dict[str, Any]:
        view = room.screen.snapshot()
        drop = hidden
        if principal.role not in UNRESTRICTED_ROLES and not compute_scope(room, principal).holds(room_group(room)):
            drop = drop | GROUP_PARTS
        for name in drop:
            view.pop(name, None)
        view["now"] = room.clock.now().isoformat()  # pages count from the room's time, not the device's clock
        return view

    return render


def token_alive(room: Room, principal: Principal) -> Callable[[], bool]:
    """Whether ``principal``'s token still holds (the push loop asks now and then)."""
    return lambda: still_valid(room.db, principal, now=room.clock.now())
