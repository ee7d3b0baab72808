"""The reader interface, and the polling thread every hardware reader shares.

A reader turns a badge at the door into a UID string and hands it to a sink (the access service wires the sink
to ``room.post(Tap(...))``); it never decides. It reports whether it is online, so the room can show a
degraded ``reader`` health and raise a "reader offline" alarm. Hardware readers run in their own thread: a
failure (garbage on the line, a device that disappears) is logged, the device is closed and opened again with
exponential backoff, and the thread carries on.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from roomctl.core.health import ComponentHealth

log = logging.getLogger(__name__)

UidSink = Callable[..., None]
"""Receives a UID as the reader read it (hex, maybe with separators); called from the reader's thread.

Readers that authenticate cards (a PN532 with a card check) call it as ``sink(uid, proof)``; the others as
``sink(uid)``.
"""
StatusSink = Callable[[bool, str], None]
"""Receives ``(online, detail)`` whenever a reader goes offline or comes back; called from its thread."""

RECONNECT_MIN_SECONDS = 0.5
"""First wait before opening a failed reader again."""
RECONNECT_MAX_SECONDS = 30.0
"""Longest wait between attempts (the backoff doubles up to this)."""
OFFLINE_AFTER_FAILURES = 3
"""Consecutive failures before a reader is reported offline (one garbled frame is not an outage)."""
STOP_JOIN_SECONDS = 5.0
"""How long :meth:`PollingReader.stop` waits for the thread."""


class Reader(ABC):
    """A badge reader at the door.

    Args:
        name: The reader's name in the audit trail and alarms.
    """

    kind: str = "reader"

    def __init__(self, name: str) -> None:
        self.name = name
        self._sink: UidSink | None = None
        self._status: StatusSink | None = None
        self._online = False
        self._detail = "not started"

    @property
    def online(self) -> bool:
        """True while the reader can read badges."""
        return self._online

    def start(self, sink: UidSink, status: StatusSink) -> None:
        """Begin reading; UIDs go to ``sink``, online/offline changes to ``status``."""
        self._sink = sink
        self._status = status
        self._begin()

    @abstractmethod
    def _begin(self) -> None:
        """Start the reader's own work (a thread, a subscription)."""

    def stop(self) -> None:  # noqa: B027 - readers without a thread have nothing to stop
        """Stop reading and release the device; must not raise."""

    def health(self) -> ComponentHealth:
        """Degraded while offline (the door still opens from inside and by API)."""
        if self._online:
            return ComponentHealth("ok", f"{self.kind} reader {self.name}: {self._detail}")
        return ComponentHealth("degraded", f"{self.kind} reader {self.name} is offline: {self._detail}")

    def _emit(self, uid: str, proof: Any = None) -> None:
        if self._sink is None:
            return
        if proof is None:
            self._sink(uid)
        else:
            self._sink(uid, proof)

    def _set_online(self, online: bool, detail: str) -> None:
        changed = online != self._online
        self._online = online
        self._detail = detail
        if changed:
            if online:
                log.info("reader %s online: %s", self.name, detail)
            else:
                log.warning("reader %s offline: %s", self.name, detail)
            if self._status is not None:
                self._status(online, detail)


class PollingReader(Reader):
    """A reader served by one thread that opens the device, reads from it and reopens it after failures.

    Subclasses implement :meth:`_open` (returns a handle, raises when the device is absent), :meth:`_read`
    (returns the next UID, or ``(uid, proof)`` for an authenticated card, or ``None`` after a short wait; raises
    on garbage or loss) and :meth:`_close`.

    Args:
        name: The reader's name.
        min_backoff: First wait after a failure.
        max_backoff: Longest wait.
    """

    def __init__(
        self, name: str, *, min_backoff: float = RECONNECT_MIN_SECONDS, max_backoff: float = RECONNECT_MAX_SECONDS
    ) -> None:
        super().__init__(name)
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.failures = 0
        """Consecutive failures so far (0 while reading fine)."""
        self.opens = 0
        """How many times the device was opened."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle: Any = None

    @abstractmethod
    def _open(self) -> Any:
        """Open the device and return a handle."""

    @abstractmethod
    def _read(self, handle: Any) -> str | tuple[str, Any] | None:
        """The next UID (with its proof, if the reader authenticates), or ``None`` when no badge came."""

    def _close(self, handle: Any) -> None:
        """Release the handle (must not raise)."""

    def _begin(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"reader-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close the device."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_JOIN_SECONDS)
            if self._thread.is_alive():
                log.warning("reader %s did not stop within %.0f s", self.name, STOP_JOIN_SECONDS)
            self._thread = None

    def backoff(self) -> float:
        """The wait after the current run of failures."""
        return float(min(self.min_backoff * 2 ** max(self.failures - 1, 0), self.max_backoff))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._handle is None:
                    self._handle = self._open()
                    self.opens += 1
                reading = self._read(self._handle)
            except Exception as exc:
                self._failed(exc)
                continue
            if self.failures or not self.online:
                self.failures = 0
                self._set_online(True, "reading")
            uid, proof = reading if isinstance(reading, tuple) else (reading, None)
            if uid:
                try:
                    self._emit(uid, proof)
                except Exception:
                    log.exception("reader %s could not hand over a tap", self.name)
        self._release()

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self._release()
        wait = self.backoff()
        log.warning(
            "reader %s failed (%s: %s); reopening in %.1f s (failure %d)",
            self.name, type(exc).__name__, exc, wait, self.failures,
        )
        if self.failures >= OFFLINE_AFTER_FAILURES:
            self._set_online(False, f"{type(exc).__name__}: {exc}; retrying every {wait:.0f} s or sooner")
        self._stop.wait(wait)

    def _release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                self._close(handle)
            except Exception:
                log.debug("closing reader %s failed", self.name, exc_info=True)

