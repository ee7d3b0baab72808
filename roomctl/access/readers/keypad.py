"""A numeric keypad at the door, for guests' door codes: a USB keypad read through evdev, grabbed while open.

A guest types the code from the invitation and presses Enter; the access service decides, as for a code typed
on the tablet (:class:`~roomctl.session.guests.DoorCodeEntered`), with the same lockout after wrong codes.
Backspace takes back the last digit; Escape, the keypad's ``*`` or a pause of :data:`KEYPAD_PAUSE_SECONDS`
clears what was typed. Only digits count: the keypad's other keys (``/``, ``+``, ``.``, Num Lock) are ignored.
"""

from __future__ import annotations

from typing import Any

from roomctl.access.readers.wedge import TypedLine, WedgeReader, digit_keys, ecodes

KEYPAD_READER = "keypad"
"""The keypad's name in the audit trail and the lockout: wrong codes typed on it lock the keypad out for a while."""
KEYPAD_PAUSE_SECONDS = 15.0
"""A pause this long between keys clears a half-typed code (a person types a digit every second or so)."""
MAX_CODE_DIGITS = 16
"""More digits than this are not kept: no door code is that long."""


class KeypadDecoder(TypedLine):
    """Key events in, typed codes out.

    Args:
        pause: Seconds between keys that clear a half-typed code.
    """

    what = "keypad"

    def __init__(self, pause: float = KEYPAD_PAUSE_SECONDS) -> None:
        super().__init__(pause)
        codes = ecodes()
        self._digits = digit_keys(codes)
        self._clear = frozenset({codes.KEY_ESC, codes.KEY_KPASTERISK})
        self._back = codes.KEY_BACKSPACE

    def key(self, code: int, chars: list[str]) -> None:
        """A digit is added (up to :data:`MAX_CODE_DIGITS`), Backspace takes one back, Esc or ``*`` clears."""
        if code in self._clear:
            chars.clear()
        elif code == self._back:
            if chars:
                chars.pop()
        elif code in self._digits and len(chars) < MAX_CODE_DIGITS:
            chars.append(self._digits[code])


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
