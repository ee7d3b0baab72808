"""What every driver does: encode a target into its firmware's commands, decode state and availability.

A driver is the controller side of one firmware's MQTT convention; an :class:`Emulation` is the device side of
the same convention, used by the device simulator. Both sides live in the driver's module so they cannot
drift apart.

State is normalised to ``{"on": bool, "brightness": 0-100, "position": 0-100}`` for actuators and
``{"value": number | bool}`` for sensors, whatever the firmware's own scale.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from roomctl.devices.settings import SENSOR_KINDS, DeviceSettings
from roomctl.errors import ValidationError

Message = tuple[str, bytes]
"""A topic and its payload."""
State = dict[str, Any]

BRIGHTNESS_TOLERANCE = 1
"""Percent a reported brightness may differ from the wanted one (firmware scales round)."""
MAX_PAYLOAD_BYTES = 16_384
"""Payloads longer than this are not parsed (no room device sends that much)."""


class MalformedPayloadError(ValidationError):
    """A device sent something its firmware convention does not allow; logged and ignored."""


@dataclass(frozen=True)
class Decoded:
    """What one message said: availability, state (normalised), or both."""

    online: bool | None = None
    state: State | None = None


def parse_json(payload: bytes) -> dict[str, Any]:
    """A JSON object from ``payload``.

    Raises:
        MalformedPayloadError: Too long, not UTF-8, not JSON, or not an object.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MalformedPayloadError(f"payload of {len(payload)} bytes is too long")
    try:
        value = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedPayloadError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise MalformedPayloadError("expected a JSON object")
    return value


def parse_text(payload: bytes) -> str:
    """A short UTF-8 text payload, stripped.

    Raises:
        MalformedPayloadError: Too long or not UTF-8.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MalformedPayloadError(f"payload of {len(payload)} bytes is too long")
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise MalformedPayloadError("not UTF-8 text") from None


def on_off(value: object) -> bool:
    """``ON``/``OFF`` (any case), ``true``/``false``, 1/0 → bool.

    Raises:
        MalformedPayloadError: Anything else.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("on", "true", "1"):
            return True
        if lowered in ("off", "false", "0"):
            return False
    raise MalformedPayloadError(f"expected ON or OFF, got {str(value)[:40]!r}")


def number(value: object, low: float, high: float) -> float:
    """A finite number within ``[low, high]``.

    Raises:
        MalformedPayloadError: Not a number, not finite, or out of range.
    """
    if isinstance(value, bool):
        raise MalformedPayloadError("expected a number, got a boolean")
    if isinstance(value, str):
        text = value
        try:
            value = float(text)
        except ValueError:
            raise MalformedPayloadError(f"expected a number, got {text[:40]!r}") from None
    if not isinstance(value, int | float) or not math.isfinite(value) or not low <= value <= high:
        raise MalformedPayloadError(f"expected a number in [{low}, {high}], got {str(value)[:40]!r}")
    return float(value)


def to_scale(percent: int, top: int) -> int:
    """0-100 → 0-top."""
    return round(percent * top / 100)


def from_scale(value: object, top: int) -> int:
    """0-top → 0-100 (a malformed value raises :class:`MalformedPayloadError`)."""
    return round(number(value, 0, top) * 100 / top)


SENSOR_RANGES: dict[str, tuple[float, float]] = {
    "co2": (0, 40_000),
    "temperature": (-40, 85),
    "humidity": (0, 100),
}
"""Plausible ranges of sensor readings; a reading outside is malformed."""


def sensor_value(kind: str, raw: object) -> float | bool:
    """A sensor reading of ``kind`` checked against its plausible range (presence is on/off)."""
    if kind == "presence":
        return on_off(raw)
    low, high = SENSOR_RANGES[kind]
    return round(number(raw, low, high), 2)


class Driver(ABC):
    """The controller side of one firmware convention for one device.

    Args:
        device: The device's configuration.
        client_id: Who roomctl is on the bus (Shelly RPC wants a ``src``).
    """

    name: ClassVar[str]

    def __init__(self, device: DeviceSettings, client_id: str = "roomctl") -> None:
        self.device = device
        self.client_id = client_id

    @property
    def is_sensor(self) -> bool:
        """True for devices that only report."""
        return self.device.kind in SENSOR_KINDS

    @abstractmethod
    def subscriptions(self) -> list[str]:
        """The topics (filters) this device reports on."""

    @abstractmethod
    def encode(self, target: State) -> list[Message]:
        """The messages that make the device reach ``target``."""

    @abstractmethod
    def decode(self, topic: str, payload: bytes) -> Decoded | None:
        """What a message on one of :meth:`subscriptions` says; ``None`` when it says nothing about state.

        Raises:
            MalformedPayloadError: The payload breaks the firmware's convention.
        """

    def matches(self, state: State, target: State) -> bool:
        """True when the reported ``state`` fulfils ``target``."""
        for key, wanted in target.items():
            have = state.get(key)
            if have is None:
                return False
            if key == "brightness" and target.get("on") is False:
                continue
            if key in ("brightness", "position"):
                if abs(int(have) - int(wanted)) > BRIGHTNESS_TOLERANCE:
                    return False
            elif have != wanted:
                return False
        return True


class Emulation(ABC):
    """The device side of one firmware convention (the simulator uses it to act as the device)."""

    def __init__(self, device: DeviceSettings) -> None:
        self.device = device

    @abstractmethod
    def command_topics(self) -> list[str]:
        """The topics the real device listens on."""

    @abstractmethod
    def apply(self, topic: str, payload: bytes) -> State | None:
        """The state change a command asks for (``None``: not a state command)."""

    @abstractmethod
    def report(self, state: State) -> list[Message]:
        """The messages the device sends about its (normalised) state."""

    @abstractmethod
    def availability(self, online: bool) -> Message:
        """The device's availability message (retained on the broker)."""
