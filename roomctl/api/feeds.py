"""What each caller's screen-state feed (``/ws``) carries: per role and per group scope.

- The pairing PIN (part ``pairing``) is for the projector only: only kiosk tokens get that part.
- The parts that carry a group's work (the session with its choices and notes, the recording, captions and
  the proposal) go only to callers holding the group in the room (:mod:`roomctl.api.scope`); a facilitator
  of another group gets the room's other parts (room, agenda, door, devices) without them.

The filters are one small hook on the push loop's render (:func:`screen_view`); the parts stay their owners'.
"""

from __future__ import annotations

from collections.abc import Callable

from roomctl.api.roles import Role
from roomctl.api.scope import UNRESTRICTED_ROLES, compute_scope, room_group
from roomctl.api.tokens import Principal, still_valid
from roomctl.core.room import Room
from roomctl.core.state import encode

KIOSK_ONLY_PARTS = frozenset({"pairing"})
"""Screen parts only the projector's feed carries."""
GROUP_PARTS = frozenset({"session", "recording", "captions", "proposal", "continuity", "guests", "resources"})
"""Screen parts that carry the work of the group in the room."""


def screen_view(room: Room, principal: Principal, *, delta: bool = False) -> Callable[[], str]:
    """The render function of ``principal``'s ``/ws`` feed: JSON text, shared with every caller who sees the same.

    The state's encoding is shared (:meth:`~roomctl.core.state.StateStore.message`); only the room's ``now`` is
    put in front of it per message, so pages count from the room's time. When what the caller may see changes
    (a session of its group starts), the next message is the whole state again.
    """
    hidden = frozenset() if principal.role == Role.KIOSK else KIOSK_ONLY_PARTS
    follower = room.screen.follower(delta=delta)
    shown: frozenset[str] | None = None

    def render() -> str:
        nonlocal shown
        drop = hidden
        if principal.role not in UNRESTRICTED_ROLES and not compute_scope(room, principal).holds(room_group(room)):
            drop = drop | GROUP_PARTS
        visible = room.screen.names - drop
        if visible != shown:
            shown, follower.parts, follower.version = visible, visible, None
        text = follower.next_message()
        return '{"now":' + encode(room.clock.now().isoformat()).decode() + "," + text[1:]

    return render


def token_alive(room: Room, principal: Principal) -> Callable[[], bool]:
    """Whether ``principal``'s token still holds (the push loop asks now and then)."""
    return lambda: still_valid(room.db, principal, now=room.clock.now())
