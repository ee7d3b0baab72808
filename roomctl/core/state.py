"""Observable state made of named parts: the screen state and the room status.

The screen state is pushed over ``/ws``; the room status is published retained on MQTT.

Each capability owns its part (``session``, ``booking``, ``door``, ``captions``, ...) and replaces it whole
with :meth:`StateStore.set`; listeners hear every change with the new version number.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]


class StateStore:
    """A versioned dict of parts; listeners are called on the event loop after each change."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._parts: dict[str, Any] = {}
        self._version = 0
        self._listeners: list[Listener] = []

    @property
    def version(self) -> int:
        """Increments on every change."""
        return self._version

    def get(self, part: str, default: Any = None) -> Any:
        """A copy of one part."""
        return copy.deepcopy(self._parts.get(part, default))

    def set(self, part: str, value: Any) -> None:
        """Replace ``part`` (``None`` removes it) and notify listeners if it changed."""
        if value is None:
            if part not in self._parts:
                return
            del self._parts[part]
        else:
            if self._parts.get(part) == value:
                return
            self._parts[part] = copy.deepcopy(value)
        self._version += 1
        self._notify()

    def snapshot(self) -> dict[str, Any]:
        """All parts and the version, as one JSON-able dict."""
        return {"version": self._version, **copy.deepcopy(self._parts)}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(snapshot)`` on every change; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def subscribe_queue(self, maxsize: int = 64) -> tuple[asyncio.Queue[dict[str, Any]], Callable[[], None]]:
        """Snapshots into a queue (for a WebSocket). A slow reader only ever misses intermediate states."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)

        def put(snapshot: dict[str, Any]) -> None:
            while queue.full():
                queue.get_nowait()
            queue.put_nowait(snapshot)

        return queue, self.subscribe(put)

    def _notify(self) -> None:
        snapshot = self.snapshot()
        for listener in list(self._listeners):
            try:
                listener(snapshot)
            except Exception:
                log.exception("%s state listener failed", self.name)
