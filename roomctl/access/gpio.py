"""Choosing gpiozero's pin factory from the configuration, the way gpiozero itself does."""

from __future__ import annotations

import logging

from gpiozero import Device
from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory, MockPWMPin

from roomctl.config import GpioSettings
from roomctl.errors import AdapterError

log = logging.getLogger(__name__)


def make_pin_factory(settings: GpioSettings) -> Factory:
    """The pin factory for ``settings.factory``.

    ``mock`` reuses a MockFactory already set on :class:`gpiozero.Device` (tests set one), else makes one with
    PWM pins (the RGB LED needs them).

    Raises:
        AdapterError: ``lgpio`` was asked for (or ``auto`` found) but cannot be used here.
    """
    if settings.factory == "mock":
        current = Device.pin_factory
        if isinstance(current, MockFactory):
            return current
        return MockFactory(pin_class=MockPWMPin)
    try:
        from gpiozero.pins.lgpio import LGPIOFactory
    except ImportError as exc:
        raise AdapterError("the lgpio pin factory is missing; install roomctl with the [pi] extra") from exc
    try:
        return LGPIOFactory()
    except Exception as exc:
        raise AdapterError(f"cannot open the GPIO chip ({exc}); is this a Raspberry Pi, and is the user in group gpio?") from exc
