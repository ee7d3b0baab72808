"""Observable state made of named parts: the screen state and the room status.

The screen state is pushed over ``/ws``; the room status is published retained on MQTT.

Every part has exactly one owner. A capability claims its parts when it is installed
(``room.screen.claim("door", owner="access")``) and replaces a part whole through the :class:`Part` it got
back; a second claim of the same part is refused, so no two capabilities can write one part. Other
capabilities never read a part to learn state: they listen to typed events or ask a typed service.
Listeners hear every change with the new version number.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from roomctl.errors import StateError

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]


class Part:
    """The one writer of a part, handed out by :meth:`StateStore.claim`."""

    def __init__(self, store: StateStore, name: str, owner: str) -> None:
        self.store = store
        self.name = name
        self.owner = owner

    def set(self, value: Any) -> None:
        """Replace the part (``None`` removes it); listeners hear it if it changed."""
        self.store._set(self.name, value)

    def get(self, default: Any = None) -> Any:
        """A copy of the part as last written (its owner's own view)."""
        return self.store.get(self.name, default)


class StateStore:
    """A versioned dict of parts, each written by its one owner; listeners are called after each change."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._parts: dict[str, Any] = {}
        self._owners: dict[str, str] = {}
        self._version = 0
        self._listeners: list[Listener] = []

    def claim(self, part: str, *, owner: str) -> Part:
        """Become the one writer of ``part``.

        Raises:
            StateError: Another owner claimed the part already.
        """
        if part in self._owners:
            raise StateError(
                f"the {self.name} part {part!r} belongs to {self._owners[part]}; {owner} may not write it too"
            )
        self._owners[part] = owner
        return Part(self, part, owner)

    @property
    def owners(self) -> dict[str, str]:
        """Each claimed part and its owner."""
        return dict(self._owners)

    @property
    def version(self) -> int:
        """Increments on every change."""
        return self._version

    def get(self, part: str, default: Any = None) -> Any:
        """A copy of one part."""
        return copy.deepcopy(self._parts.get(part, default))

    def _set(self, part: str, value: Any) -> None:
        if part not in self._owners:
            raise StateError(f"the {self.name} part {part!r} has no owner; claim it first")
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

    def _notify(self) -> None:
        snapshot = self.snapshot()
        for listener in list(self._listeners):
            try:
                listener(snapshot)
            except Exception:
                log.exception("%s state listener failed", self.name)
