"""evdev stand-ins for the wedge reader's and the keypad's tests: a fake input device with real ``InputEvent``s."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

from evdev import InputEvent, ecodes


def key_events(codes: list[int], start: float = 100.0, step: float = 0.004) -> list[InputEvent]:
    """A press and a release of each key in ``codes``, ``step`` seconds apart, each followed by a SYN report."""
    events: list[InputEvent] = []
    t = start
    for code in codes:
        for value in (1, 0):
            sec, usec = int(t), round((t - int(t)) * 1_000_000)
            events.append(InputEvent(sec, usec, ecodes.EV_KEY, code, value))
            events.append(InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_REPORT, 0))
        t += step
    return events


class FakeInputDevice:
    """Stands in for ``evdev.InputDevice``: a pipe fd for select(), queued events, grab bookkeeping."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.grabbed = False
        self.closed = False
        self.gone = False
        self._r, self._w = os.pipe()
        self.fd = self._r
        self._events: list[InputEvent] = []
        self._lock = threading.Lock()

    def grab(self) -> None:
        assert not self.grabbed, "grabbed twice"
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def push(self, events: list[InputEvent]) -> None:
        with self._lock:
            self._events.extend(events)
        os.write(self._w, b"x")

    def vanish(self) -> None:
        self.gone = True
        os.write(self._w, b"x")

    def read(self) -> Iterator[InputEvent]:
        os.read(self._r, 4096)
        if self.gone:
            raise OSError(19, "No such device")
        with self._lock:
            events, self._events = self._events, []
        return iter(events)

    def close(self) -> None:
        self.closed = True
        os.close(self._r)
        os.close(self._w)
