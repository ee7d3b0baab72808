"""Observable state made of named parts: the screen state and the room status.

The screen state is pushed over ``/ws``; the room status is published retained on MQTT.

Every part has exactly one owner. A capability claims its parts when it is installed
(``room.screen.claim("door", owner="access")``) and replaces a part whole through the :class:`Part` it got
back; a second claim of the same part is refused, so no two capabilities can write one part. Other
capabilities never read a part to learn state: they listen to typed events or ask a typed service.
Listeners hear every change with the new version number. Watchers (the WebSocket push loops) are only told
that something changed, once for all the changes of one turn of the event loop and after it: the request that
made a change answers before its fan-out starts, and a command that changes three parts wakes each client once.

A part is kept as its JSON text, encoded once when it is written: that text is the store's private copy
(later changes to the written value do not leak in), it tells whether a write changed anything, and the
messages for WebSocket clients are spliced from it, so one change is encoded once however many clients
follow it. A :class:`Follower` hands one client the whole state first and then only the parts that changed
since the version it was last given (see :meth:`StateStore.message`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from typing import Any

import orjson

from roomctl.errors import StateError

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]
Watcher = Callable[[], None]

RESERVED_NAMES = frozenset({"version", "delta"})
"""Keys of a message that no part may be named."""
ENCODE_OPTIONS = orjson.OPT_NON_STR_KEYS
"""Like ``json.dumps``: dict keys that are numbers become strings."""


def encode(value: Any) -> bytes:
    """``value`` as compact JSON (UTF-8).

    Raises:
        StateError: ``value`` is not JSON-able.
    """
    try:
        return orjson.dumps(value, option=ENCODE_OPTIONS)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise StateError(f"a state part must be JSON-able: {exc}") from exc


class Part:
    """The one writer of a part, handed out by :meth:`StateStore.claim`."""

    def __init__(self, store: StateStore, name: str, owner: str) -> None:
        self.store = store
        self.name = name
        self.owner = owner

    def set(self, value: Any) -> None:
        """Replace the part (``None`` removes it); listeners hear it if its JSON changed.

        Raises:
            StateError: ``value`` is not JSON-able.
        """
        self.store._set(self.name, value)

    def get(self, default: Any = None) -> Any:
        """A copy of the part as last written (its owner's own view), as JSON gives it back (lists, strings)."""
        return self.store.get(self.name, default)


class StateStore:
    """A versioned dict of parts, each written by its one owner; listeners are called after each change."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._parts: dict[str, bytes] = {}
        self._owners: dict[str, str] = {}
        self._names: frozenset[str] = frozenset()
        self._changed_at: dict[str, int] = {}
        self._version = 0
        self._listeners: list[Listener] = []
        self._watchers: list[Watcher] = []
        self._wake_pending = False
        self._messages: dict[tuple[int | None, frozenset[str] | None], str] = {}

    def claim(self, part: str, *, owner: str) -> Part:
        """Become the one writer of ``part``.

        Raises:
            StateError: Another owner claimed the part already, or the name is reserved for messages.
        """
        if part in RESERVED_NAMES:
            raise StateError(f"{part!r} cannot name a {self.name} part: messages use it")
        if part in self._owners:
            raise StateError(
                f"the {self.name} part {part!r} belongs to {self._owners[part]}; {owner} may not write it too"
            )
        self._owners[part] = owner
        self._names = frozenset(self._owners)
        return Part(self, part, owner)

    @property
    def owners(self) -> dict[str, str]:
        """Each claimed part and its owner."""
        return dict(self._owners)

    @property
    def names(self) -> frozenset[str]:
        """The claimed parts' names (the same object until the next claim: cheap to ask on every message)."""
        return self._names

    @property
    def version(self) -> int:
        """Increments on every change."""
        return self._version

    def get(self, part: str, default: Any = None) -> Any:
        """A copy of one part."""
        text = self._parts.get(part)
        return default if text is None else orjson.loads(text)

    def _set(self, part: str, value: Any) -> None:
        if part not in self._owners:
            raise StateError(f"the {self.name} part {part!r} has no owner; claim it first")
        if value is None:
            if part not in self._parts:
                return
            del self._parts[part]
        else:
            text = encode(value)
            if self._parts.get(part) == text:
                return
            self._parts[part] = text
        self._version += 1
        self._changed_at[part] = self._version
        self._messages.clear()
        self._notify()

    def snapshot(self) -> dict[str, Any]:
        """All parts and the version, as one JSON-able dict (a fresh copy)."""
        result: dict[str, Any] = orjson.loads(self.message())
        return result

    def message(self, since: int | None = None, parts: Collection[str] | None = None) -> str:
        """The JSON text that brings a client from version ``since`` to now.

        Without ``since`` (or for a ``since`` that is not a version this store gave out) it is the whole state,
        ``{"version": 7, "session": {...}, ...}``, like :meth:`snapshot`. With ``since`` it is
        ``{"version": 7, "delta": {"session": {...}, "captions": null}}``: every part that changed after
        ``since`` whole, ``null`` for a part removed since. The same text is returned to every caller until
        the next change, so many clients share one encoding.

        Args:
            since: The version the client has.
            parts: Only these parts (``None``: all), for clients that may see only some.
        """
        if since is not None and not 0 <= since <= self._version:
            since = None
        visible = None if parts is None else frozenset(parts)
        key = (since, visible)
        cached = self._messages.get(key)
        if cached is not None:
            return cached
        chunks = [b'{"version":', str(self._version).encode()]
        if since is None:
            for name, part in self._parts.items():
                if visible is None or name in visible:
                    chunks += (b",", orjson.dumps(name), b":", part)
        else:
            chunks.append(b',"delta":{')
            first = True
            for name, at in self._changed_at.items():
                if at > since and (visible is None or name in visible):
                    chunks += (b"" if first else b",", orjson.dumps(name), b":", self._parts.get(name, b"null"))
                    first = False
            chunks.append(b"}")
        chunks.append(b"}")
        message = b"".join(chunks).decode()
        self._messages[key] = message
        return message

    def follower(self, *, delta: bool, parts: Collection[str] | None = None) -> Follower:
        """A follower for one client: whole states only, or the whole state first and then changes."""
        return Follower(self, delta=delta, parts=parts)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(snapshot)`` on every change; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        """Call ``watcher()`` soon after changes: once per turn of the event loop that changed anything.

        Unlike :meth:`subscribe` it builds no snapshot, and it runs after the current callback (the request
        that made the change, say), not inside it. Returns a function that stops the watching.
        """
        self._watchers.append(watcher)

        def unwatch() -> None:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

        return unwatch

    def _notify(self) -> None:
        if self._watchers and not self._wake_pending:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # changed outside the loop (start-up, a script): tell them now
                self._wake()
            else:
                self._wake_pending = True
                loop.call_soon(self._wake)
        if not self._listeners:
            return
        snapshot = self.snapshot()
        for listener in list(self._listeners):
            try:
                listener(snapshot)
            except Exception:
                log.exception("%s state listener failed", self.name)

    def _wake(self) -> None:
        self._wake_pending = False
        for watcher in list(self._watchers):
            try:
                watcher()
            except Exception:
                log.exception("%s state watcher failed", self.name)


class Follower:
    """What one client of a :class:`StateStore` has been given; :meth:`next_message` brings it up to date."""

    def __init__(self, store: StateStore, *, delta: bool, parts: Collection[str] | None = None) -> None:
        self.store = store
        self.delta = delta
        self.parts = None if parts is None else frozenset(parts)
        self.version: int | None = None

    def next_message(self) -> str:
        """The next message for this client (the whole state the first time, or always without ``delta``)."""
        text = self.store.message(self.version if self.delta else None, self.parts)
        self.version = self.store.version
        return text
