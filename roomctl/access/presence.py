"""The PIR motion sensor on the Pi's GPIO: someone is in the room.

It only reports presence (for the empty-room switch-off of the devices capability); it never opens the door
and records nothing about who is there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gpiozero import MotionSensor
from gpiozero.pins import Factory

log = logging.getLogger(__name__)

PIR_QUEUE_LEN = 1
"""Readings averaged; 1 reacts to the first edge (gpiozero's mock pins miss it with a longer, empty queue)."""
PIR_SAMPLE_RATE = 10
"""Readings per second."""


class PresenceSensor:
    """A PIR on ``pin``; ``on_change(present)`` is called from gpiozero's thread."""

    def __init__(self, pin: int, factory: Factory, on_change: Callable[[bool], None]) -> None:
        self.sensor = MotionSensor(pin, queue_len=PIR_QUEUE_LEN, sample_rate=PIR_SAMPLE_RATE, pin_factory=factory)
        self.sensor.when_motion = lambda: on_change(True)
        self.sensor.when_no_motion = lambda: on_change(False)

    @property
    def present(self) -> bool:
        """True while the sensor sees motion."""
        return bool(self.sensor.motion_detected)

    def close(self) -> None:
        """Release the pin."""
        self.sensor.close()
