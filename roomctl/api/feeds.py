"""What each caller's screen-state feed (``/ws``) carries: per role and per group scope.

- The pairing PIN (part ``pairing``) is for the projector only: only kiosk tokens get that part.
- The parts that carry a group's work (the session with its choices and notes, the recording, captions and
  the proposal) go only to callers holding the group in the room (:mod:`roomctl.api.scope`); a facilitator
  of another group gets the room's other parts (room, agenda, door, devices) without them.

The filters are one small hook on the push loop's render (:func:`screen_view`); the parts stay their owners'.
"""

from __future__ import annotations

import time
import weakref
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
SHARE_SECONDS = 0.02
"""How long the renders of one change share their work (real time): the room's ``now`` in front of the message,
and which parts each caller may see. One change reaches fifty clients within a few milliseconds, so each of them
no longer reads the clock and the scope for itself; a page's clock is then off by at most this."""


def screen_view(room: Room, principal: Principal, *, delta: bool = False) -> Callable[[], str]:
    """The render function of ``principal``'s ``/ws`` feed: JSON text, shared with every caller who sees the same.

    The state's encoding is shared (:meth:`~roomctl.core.state.StateStore.message`), and so are the room's
    ``now`` put in front of it, so pages count from the room's time, and the scope check, for the renders of one
    change (:class:`_SharedRenders`). When what the caller may see changes (a session of its group starts), the
    next message is the whole state again.
    """
    shared = _shared_renders(room)
    follower = room.screen.follower(delta=delta)
    shown: frozenset[str] | None = None

    def render() -> str:
        nonlocal shown
        shared.refresh(room)
        visible = shared.visible(room, principal)
        if visible != shown:
            shown, follower.parts, follower.version = visible, visible, None
        return shared.stamped(follower.next_message())

    return render


class _SharedRenders:
    """What the renders of one change of a room's screen state have in common, kept for :data:`SHARE_SECONDS`.

    Everything is dropped when the state changes again or the time is up, so a render never uses a scope or a
    ``now`` older than that. A revoked token is the push loop's business (:func:`token_alive`), not this cache's.
    """

    def __init__(self) -> None:
        self._version = -1
        self._until = float("-inf")
        self._stamp = ""
        self._visible: dict[Principal, frozenset[str]] = {}
        self._stamped: dict[int, tuple[str, str]] = {}

    def refresh(self, room: Room) -> None:
        """Start over when ``room``'s state changed or :data:`SHARE_SECONDS` passed since the last start."""
        at = time.monotonic()
        if room.screen.version == self._version and at < self._until:
            return
        self._version, self._until = room.screen.version, at + SHARE_SECONDS
        self._stamp = '{"now":' + encode(room.clock.now().isoformat()).decode() + ","
        self._visible.clear()
        self._stamped.clear()

    def visible(self, room: Room, principal: Principal) -> frozenset[str]:
        """The parts of ``room``'s state that ``principal``'s feed carries now."""
        known = self._visible.get(principal)
        if known is not None:
            return known
        drop = frozenset() if principal.role == Role.KIOSK else KIOSK_ONLY_PARTS
        if principal.role not in UNRESTRICTED_ROLES and not compute_scope(room, principal).holds(room_group(room)):
            drop = drop | GROUP_PARTS
        visible = self._visible[principal] = room.screen.names - drop
        return visible

    def stamped(self, text: str) -> str:
        """``text`` (a state message) with the room's ``now`` in front: ``{"now": ..., "version": ...}``."""
        known = self._stamped.get(id(text))
        if known is not None and known[0] is text:
            return known[1]
        stamped = self._stamp + text[1:]
        self._stamped[id(text)] = (text, stamped)
        return stamped


_SHARED: weakref.WeakKeyDictionary[Room, _SharedRenders] = weakref.WeakKeyDictionary()


def _shared_renders(room: Room) -> _SharedRenders:
    """The one :class:`_SharedRenders` of ``room`` (gone with the room)."""
    shared = _SHARED.get(room)
    if shared is None:
        shared = _SHARED[room] = _SharedRenders()
    return shared


def token_alive(room: Room, principal: Principal) -> Callable[[], bool]:
    """Whether ``principal``'s token still holds (the push loop asks now and then)."""
    return lambda: still_valid(room.db, principal, now=room.clock.now())
