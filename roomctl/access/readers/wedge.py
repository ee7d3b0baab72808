"""A USB keyboard-wedge badge reader through evdev.

These readers pretend to be a keyboard: they type the UID in hex and press Enter. The device is grabbed
(``EVIOCGRAB``) so the keystrokes reach only roomctl, never a terminal or the kiosk browser. The decoder turns
key events into a UID string; anything that is not a hex digit makes the string malformed, so the access
service rejects and logs it.
"""

from __future__ import annotations

import logging
import select
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from typing import Any

from roomctl.access.readers.base import PollingReader
from roomctl.errors import AdapterError

log = logging.getLogger(__name__)

KEY_DOWN = 1
"""evdev key event value for a press (0 is release, 2 is autorepeat)."""
KEY_GAP_SECONDS = 0.5
"""A pause this long between keys starts a new UID (the reader types a whole UID in milliseconds)."""
MAX_WEDGE_CHARS = 64
"""Longer input is cut and marked malformed."""
WAIT_SECONDS = 0.25
"""How long one read waits for key events before checking whether to stop."""
MALFORMED_MARK = "?"
"""Stands for a key that is not a hex digit; makes the UID malformed on purpose."""


def ecodes() -> Any:
    """python-evdev's key codes (imported when a reader or keypad is built: only a Pi with one needs evdev)."""
    try:
        from evdev import ecodes as codes
    except ImportError as exc:
        raise AdapterError("python-evdev is missing; install roomctl with the [pi] extra") from exc
    return codes


def digit_keys(codes: Any) -> dict[int, str]:
    """The digit keys of a keyboard's top row and of its number block, each with its digit."""
    return {codes.ecodes[f"KEY_{row}{d}"]: d for row in ("", "KP") for d in "0123456789"}


class TypedLine(ABC):
    """Key presses typed into a line that Enter completes; a pause of ``gap`` seconds drops a half-typed one.

    Subclasses say what each other key does to the line (:meth:`key`).

    Args:
        gap: Seconds between keys that drop what was typed so far.
    """

    what = "input"
    """Named in the log line when a pause drops keys."""

    def __init__(self, gap: float) -> None:
        codes = ecodes()
        self.gap = gap
        self._ev_key = codes.EV_KEY
        self._enter = frozenset({codes.KEY_ENTER, codes.KEY_KPENTER})
        self._chars: list[str] = []
        self._last: float | None = None

    def feed(self, event: Any) -> str | None:
        """Take one ``evdev.InputEvent``; return the line when Enter completes one (nothing for an empty line)."""
        if event.type != self._ev_key or event.value != KEY_DOWN:
            return None
        stamp = float(event.timestamp())
        if self._chars and self._last is not None and stamp - self._last > self.gap:
            log.info("%s: dropped %d keys typed before a pause", self.what, len(self._chars))
            self._chars.clear()
        self._last = stamp
        if event.code in self._enter:
            typed, self._chars = "".join(self._chars), []
            return typed or None
        self.key(event.code, self._chars)
        return None

    @abstractmethod
    def key(self, code: int, chars: list[str]) -> None:
        """What the key ``code`` (not Enter) does to the line typed so far."""


class WedgeDecoder(TypedLine):
    """Key events in, UID strings out: hex digits; any other key marks the UID malformed.

    Args:
        gap: Seconds between keys that end a half-typed UID.
    """

    what = "wedge reader"

    def __init__(self, gap: float = KEY_GAP_SECONDS) -> None:
        super().__init__(gap)
        codes = ecodes()
        self._keys = digit_keys(codes) | {codes.ecodes[f"KEY_{letter}"]: letter for letter in "ABCDEF"}
        self._ignored = frozenset(
            {codes.KEY_LEFTSHIFT, codes.KEY_RIGHTSHIFT, codes.KEY_CAPSLOCK, codes.KEY_NUMLOCK, codes.KEY_TAB}
        )

    def key(self, code: int, chars: list[str]) -> None:
        """A hex digit, or the malformed mark; shift and lock keys do nothing; overlong input is cut."""
        if code not in self._ignored and len(chars) <= MAX_WEDGE_CHARS:
            chars.append(self._keys.get(code, MALFORMED_MARK))


class WedgeReader(PollingReader):
    """A keyboard-wedge reader at ``path`` (best a stable ``/dev/input/by-id/...`` link), grabbed while open.

    Args:
        name: The reader's name.
        path: The input device.
        open_device: Opens the device (``evdev.InputDevice`` by default; tests pass their own).
        min_backoff: First wait after a failure.
        max_backoff: Longest wait between attempts.
    """

    kind = "evdev"

    def __init__(
        self, name: str, path: str, *, open_device: Callable[[str], Any] | None = None, **backoff: float
    ) -> None:
        super().__init__(name, **backoff)
        self.path = path
        self._open_device = open_device or _open_input_device
        self._decoder = self.new_decoder()
        self._pending: deque[str] = deque()

    def new_decoder(self) -> Any:
        """What turns this device's key events into strings (a fresh one each time the device is opened)."""
        return WedgeDecoder()

    def _open(self) -> Any:
        device = self._open_device(self.path)
        try:
            device.grab()
        except Exception:
            device.close()
            raise
        self._decoder = self.new_decoder()
        log.info("%s reader %s: %s grabbed", self.kind, self.name, self.path)
        return device

    def _read(self, handle: Any) -> str | None:
        if self._pending:
            return self._pending.popleft()
        ready, _, _ = select.select([handle.fd], [], [], WAIT_SECONDS)
        if not ready:
            return None
        for event in handle.read():
            uid = self._decoder.feed(event)
            if uid:
                self._pending.append(uid)
        return self._pending.popleft() if self._pending else None

    def _close(self, handle: Any) -> None:
        try:
            handle.ungrab()
        except Exception:
            log.debug("ungrab of %s failed (device gone?)", self.path, exc_info=True)
        handle.close()


def _open_input_device(path: str) -> Any:
    try:
        import evdev
    except ImportError as exc:
        raise AdapterError("python-evdev is missing; install roomctl with the [pi] extra") from exc
    return evdev.InputDevice(path)
