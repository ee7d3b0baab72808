"""A numeric keypad at the door, for guests' door codes: a USB keypad read through evdev, grabbed while open.

A guest types the code from the invitation and presses Enter; the access service decides, as for a code typed
on the tablet (:class:`~roomctl.session.guests.DoorCodeEntered`), with the same lockout after wrong codes.
Backspace takes back the last digit; Escape, the keypad's ``*`` or a pause of :data:`KEYPAD_PAUSE_SECONDS`
clears what was typed. Only digits count: the keypad's other keys (``/``, ``+``, ``.``, Num Lock) are ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from roomctl.access.readers.wedge import KEY_DOWN, WedgeReader
from roomctl.errors import AdapterError

log = logging.getLogger(__name__)

KEYPAD_READER = "keypad"
"""The keypad's name in the audit trail and the lockout: wrong codes typed on it lock the keypad out for a while."""
KEYPAD_PAUSE_SECONDS = 15.0
"""A pause this long between keys clears a half-typed code (a person types a digit every second or so)."""
MAX_CODE_DIGITS = 16
"""More digits than this are not kept: no door code is that long."""


class KeypadDecoder:
    """Key events in, typed codes out.

    Args:
        pause: Seconds between keys that clear a half-typed code.
    """

    def __init__(self, pause: float = KEYPAD_PAUSE_SECONDS) -> None:
        try:
            from evdev import ecodes
        except ImportError as exc:
            raise AdapterError("python-evdev is missing; install roomctl with the [pi] extra") from exc
        self.pause = pause
        self._digits = {ecodes.ecodes[f"KEY_{d}"]: d for d in "0123456789"}
        self._digits |= {ecodes.ecodes[f"KEY_KP{d}"]: d for d in "0123456789"}
        self._enter = frozenset({ecodes.KEY_ENTER, ecodes.KEY_KPENTER})
        self._clear = frozenset({ecodes.KEY_ESC, ecodes.KEY_KPASTERISK})
        self._back = ecodes.KEY_BACKSPACE
        self._ev_key = ecodes.EV_KEY
        self._typed: list[str] = []
        self._last: float | None = None

    def feed(self, event: Any) -> str | None:
        """Take one ``evdev.InputEvent``; return the code when Enter completes one."""
        if event.type != self._ev_key or event.value != KEY_DOWN:
            return None
        stamp = float(event.timestamp())
        if self._typed and self._last is not None and stamp - self._last > self.pause:
            log.info("keypad: cleared %d digits typed before a pause", len(self._typed))
            self._typed.clear()
        self._last = stamp
        code = event.code
        if code in self._enter:
            typed, self._typed = "".join(self._typed), []
            return typed or None
        if code in self._clear:
            self._typed.clear()
        elif code == self._back:
            if self._typed:
                self._typed.pop()
        elif code in self._digits and len(self._typed) < MAX_CODE_DIGITS:
            self._typed.append(self._digits[code])
        return None


class KeypadReader(WedgeReader):
    """A USB numeric keypad at ``path`` (best a ``/dev/input/by-id/...`` link): codes instead of UIDs.

    Args:
        path: The input device.
        name: Its name in the audit trail and the lockout.
        open_device: Opens the device (``evdev.InputDevice`` by default; tests pass their own).
        backoff: ``min_backoff`` and ``max_backoff`` as for every polling reader.
    """

    kind = "keypad"

    def __init__(self, path: str, name: str = KEYPAD_READER, *, open_device: Any = None, **backoff: float) -> None:
        super().__init__(name, path, open_device=open_device, **backoff)

    def new_decoder(self) -> KeypadDecoder:
        """A decoder of digits, Enter, Backspace and clear."""
        return KeypadDecoder()
