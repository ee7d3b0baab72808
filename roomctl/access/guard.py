"""Taps before they are decided: one decision per card held on a reader, and lockout after repeated denials.

A reader polls a card that lies on it several times a second; :class:`HoldFilter` turns that into one
decision. :class:`Lockout` counts denied taps per reader and locks a reader out for a while when someone tries
too many cards. Both run on the event loop with the room's monotonic clock and keep bounded memory: reader
names come from API clients too.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Generic, TypeVar

HOLD_WINDOW_SECONDS = 1.5
"""The same UID at the same reader within this long of its previous read is the same (held) card."""
NETWORK_READERS = "network"
"""The lockout key all networked (API) readers count under together, beside their own; never a reader's name
(API readers are named ``net:<name>``), so a network flood cannot lock out the physical reader."""
NETWORK_LOCKOUT_FACTOR = 2
"""All networked readers together are locked out after this many times one reader's denied taps."""
MAX_TRACKED_READERS = 256
"""Readers remembered at once; the least recently used is forgotten first."""

T = TypeVar("T")


class _Bounded(OrderedDict[str, T], Generic[T]):
    def touch(self, key: str, value: T) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > MAX_TRACKED_READERS:
            self.popitem(last=False)


@dataclass
class _Held(Generic[T]):
    uid: str
    last_seen: float
    outcome: T


class HoldFilter(Generic[T]):
    """Remembers the last card per reader and its outcome.

    Args:
        window: Seconds between reads of a held card that still count as the same presentation.
    """

    def __init__(self, window: float = HOLD_WINDOW_SECONDS) -> None:
        self.window = window
        self._held: _Bounded[_Held[T]] = _Bounded()

    def repeat_of(self, reader: str, uid: str, now: float) -> T | None:
        """The outcome of the presentation this read continues, or ``None`` for a new tap.

        A continued read refreshes the hold, so a card lying on the reader for minutes is one tap.
        """
        held = self._held.get(reader)
        if held is None or held.uid != uid or now - held.last_seen > self.window:
            return None
        held.last_seen = now
        return held.outcome

    def remember(self, reader: str, uid: str, now: float, outcome: T) -> None:
        """Record the outcome of a new tap."""
        self._held.touch(reader, _Held(uid, now, outcome))


class Lockout:
    """Locks a reader out after ``taps`` denials within ``window`` seconds, for ``duration`` seconds.

    Args:
        taps: Denied taps that trigger a lockout.
        window: Seconds the denials are counted over.
        duration: Seconds the reader stays locked out.
    """

    def __init__(self, taps: int, window: float, duration: float) -> None:
        self.taps = taps
        self.window = window
        self.duration = duration
        self._denials: _Bounded[deque[float]] = _Bounded()
        self._until: _Bounded[float] = _Bounded()

    def locked(self, reader: str, now: float) -> bool:
        """True while ``reader`` is locked out."""
        until = self._until.get(reader)
        if until is None:
            return False
        if now >= until:
            del self._until[reader]
            return False
        return True

    def remaining(self, reader: str, now: float) -> float:
        """Seconds of lockout left for ``reader`` (0 when not locked out)."""
        until = self._until.get(reader)
        return max(until - now, 0.0) if until is not None else 0.0

    def denied(self, reader: str, now: float) -> bool:
        """Count a denied tap; True when it starts a lockout."""
        times = self._denials.get(reader) or deque()
        times.append(now)
        while times and now - times[0] > self.window:
            times.popleft()
        if len(times) >= self.taps:
            self._denials.pop(reader, None)
            self._until.touch(reader, now + self.duration)
            return True
        self._denials.touch(reader, times)
        return False

    def locked_readers(self, now: float) -> list[str]:
        """Readers locked out at ``now``."""
        return [reader for reader in list(self._until) if self.locked(reader, now)]
