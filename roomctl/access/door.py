"""The door: a fail-secure strike relay, the door contact, the exit button, an RGB LED and a buzzer.

All are gpiozero devices over the configured pin factory. The relay is created explicitly off (locked); an
unlock is a pulse that relocks by itself on a timer thread, so the door relocks even when the event loop is
busy or hung. The exit button unlocks straight from gpiozero's callback thread, without waiting for the core.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from enum import StrEnum

from gpiozero import RGBLED, Buzzer, DigitalOutputDevice, InputDevice
from gpiozero.pins import Factory

from roomctl.config import DoorSettings, GpioSettings

log = logging.getLogger(__name__)

BUZZER_CHIRP_SECONDS = 0.08
"""One chirp of the buzzer."""
LED_FLASH_SECONDS = 1.5
"""How long the LED shows granted or denied before it returns to its standing colour."""
SIGNAL_REPEAT_SECONDS = 0.5
"""The same flash asked again within this long is not restarted (a flood of denials must not thrash the LED
and buzzer threads)."""


class Signal(StrEnum):
    """What the status LED shows; the standing colour is ``idle``, ``booked_soon`` or ``recording``."""

    IDLE = "idle"
    GRANTED = "granted"
    DENIED = "denied"
    RECORDING = "recording"
    BOOKED_SOON = "booked_soon"
    NOT_SECURE = "not_secure"
    """A plain-UID badge refused because the room requires secure badges: violet, two chirps."""


LED_COLOURS: dict[Signal, tuple[float, float, float]] = {
    Signal.IDLE: (0.0, 0.0, 0.05),
    Signal.GRANTED: (0.0, 1.0, 0.0),
    Signal.DENIED: (1.0, 0.0, 0.0),
    Signal.RECORDING: (1.0, 0.0, 0.4),
    Signal.BOOKED_SOON: (1.0, 0.6, 0.0),
    Signal.NOT_SECURE: (0.6, 0.0, 1.0),
}
FLASHES: dict[Signal, int] = {Signal.GRANTED: 1, Signal.DENIED: 3, Signal.NOT_SECURE: 2}
"""Signals that flash over the standing colour, and how many buzzer chirps go with each."""


class Door:
    """The door hardware.

    Args:
        gpio: Pin numbers and relay polarity.
        door: Unlock time.
        factory: The gpiozero pin factory (a MockFactory in the demo and tests).
        on_contact: Called from a GPIO thread with ``(is_open, let_in)`` when the door opens or shuts;
            ``let_in`` is False for an opening while the strike was locked (beyond the grace period).
        on_exit: Called from a GPIO thread after the exit button unlocked the door.
        on_relock: Called from the timer thread when an unlock pulse ends.
    """

    def __init__(
        self,
        gpio: GpioSettings,
        door: DoorSettings,
        factory: Factory,
        *,
        on_contact: Callable[[bool, bool], None] | None = None,
        on_exit: Callable[[], None] | None = None,
        on_relock: Callable[[], None] | None = None,
    ) -> None:
        self._unlock_seconds = door.unlock_seconds
        self._grace = door.forced_open_grace_seconds
        self._relocked_at = -math.inf  # monotonic time the strike last went off; never energised yet
        self.activations = 0
        """How many times the strike was energised (from locked)."""
        self._on_contact = on_contact
        self._on_exit = on_exit
        self._on_relock = on_relock
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._standing = Signal.IDLE
        self._flashed: tuple[Signal, float] | None = None
        self.relay = DigitalOutputDevice(
            gpio.door_relay, active_high=gpio.relay_active_high, initial_value=False, pin_factory=factory
        )
        self.contact: InputDevice | None = None
        if gpio.door_contact is not None:
            from gpiozero import Button

            # a reed contact to ground: pressed (low) means the door is shut
            self.contact = Button(gpio.door_contact, pull_up=True, pin_factory=factory)
            self.contact.when_pressed = lambda: self._contact_changed(False)
            self.contact.when_released = lambda: self._contact_changed(True)
        self.exit_button: InputDevice | None = None
        if gpio.exit_button is not None:
            from gpiozero import Button

            self.exit_button = Button(gpio.exit_button, pull_up=True, pin_factory=factory)
            self.exit_button.when_pressed = self._exit_pressed
        self.led = RGBLED(gpio.led_red, gpio.led_green, gpio.led_blue, pin_factory=factory)
        self.buzzer = Buzzer(gpio.buzzer, pin_factory=factory) if gpio.buzzer is not None else None
        self.show(Signal.IDLE)

    # -- state ----------------------------------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        """True while the strike is not energised."""
        return not self.relay.value

    @property
    def is_open(self) -> bool | None:
        """From the contact sensor; ``None`` without one (the state is then only assumed)."""
        if self.contact is None:
            return None
        return not self.contact.is_pressed

    def state(self) -> dict[str, object]:
        """The door as pages and MQTT show it."""
        return {
            "locked": self.locked,
            "open": self.is_open,
            "source": "contact" if self.contact is not None else "assumed",
        }

    # -- actions --------------------------------------------------------------------------------------------

    def unlock(self, seconds: float | None = None) -> None:
        """Energise the strike for ``seconds`` (default from config), then relock; a new unlock extends."""
        duration = self._unlock_seconds if seconds is None else seconds
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            if not self.relay.value:
                self.activations += 1
            self.relay.on()
            self._timer = threading.Timer(duration, self._relock)
            self._timer.daemon = True
            self._timer.start()
        log.info("door unlocked for %.1f s", duration)

    def lock(self) -> None:
        """Lock now."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._off()

    def show(self, signal: Signal) -> None:
        """Show a signal on the LED; granted and denied flash, then the standing colour returns."""
        if signal in FLASHES:
            now = time.monotonic()
            if self._flashed and self._flashed[0] is signal and now - self._flashed[1] < SIGNAL_REPEAT_SECONDS:
                return
            self._flashed = (signal, now)
            self.led.blink(
                on_time=LED_FLASH_SECONDS, off_time=0, on_color=LED_COLOURS[signal], off_color=LED_COLOURS[self._standing], n=1
            )
            if self.buzzer is not None:
                self.buzzer.beep(on_time=BUZZER_CHIRP_SECONDS, off_time=BUZZER_CHIRP_SECONDS, n=FLASHES[signal])
            return
        self._standing = signal
        self._flashed = None
        self.led.color = LED_COLOURS[signal]

    def close(self) -> None:
        """Lock and release every pin."""
        self.lock()
        for device in (self.led, self.buzzer, self.contact, self.exit_button, self.relay):
            if device is not None:
                device.close()

    # -- GPIO threads ---------------------------------------------------------------------------------------

    def _relock(self) -> None:
        with self._lock:
            self._off()
            self._timer = None
        log.info("door relocked")
        if self._on_relock:
            self._on_relock()

    def _off(self) -> None:
        if self.relay.value:
            self._relocked_at = time.monotonic()
        self.relay.off()

    def let_in(self) -> bool:
        """True while the strike is energised or within the grace period after it relocked."""
        with self._lock:
            return bool(self.relay.value) or time.monotonic() - self._relocked_at <= self._grace

    def _contact_changed(self, is_open: bool) -> None:
        let_in = self.let_in() if is_open else True
        if self._on_contact:
            self._on_contact(is_open, let_in)

    def _exit_pressed(self) -> None:
        self.unlock()
        if self._on_exit:
            self._on_exit()
