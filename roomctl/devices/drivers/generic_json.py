"""A generic JSON device (custom firmware, Node-RED, a bridge).

Commands on ``<topic>/set`` as
``{"on": true, "brightness": 0-100, "position": 0-100}``, state on ``<topic>/state`` with the same keys (and
``value`` for sensors), availability on ``<topic>/availability`` = ``online``/``offline``.
"""

from __future__ import annotations

import json

from roomctl.devices.drivers.base import (
    Decoded,
    Driver,
    Emulation,
    MalformedPayloadError,
    Message,
    State,
    number,
    on_off,
    parse_json,
    parse_text,
    sensor_value,
)


def _read(data: dict[str, object]) -> State:
    state: State = {}
    if "on" in data:
        state["on"] = on_off(data["on"])
    if "brightness" in data:
        state["brightness"] = round(number(data["brightness"], 0, 100))
    if "position" in data:
        state["position"] = round(number(data["position"], 0, 100))
    return state


class GenericJsonDriver(Driver):
    """A device that speaks roomctl's own normalised JSON."""

    name = "generic_json"

    def subscriptions(self) -> list[str]:
        """State and availability."""
        return [f"{self.device.topic}/state", f"{self.device.topic}/availability"]

    def encode(self, target: State) -> list[Message]:
        """The target as JSON on ``/set``."""
        return [(f"{self.device.topic}/set", json.dumps(target, sort_keys=True).encode())]

    def decode(self, topic: str, payload: bytes) -> Decoded | None:
        """``online``/``offline`` or a state object."""
        if topic == f"{self.device.topic}/availability":
            text = parse_text(payload)
            if text not in ("online", "offline"):
                raise MalformedPayloadError(f"availability must be online or offline, got {text[:40]!r}")
            return Decoded(online=text == "online")
        if topic != f"{self.device.topic}/state":
            return None
        data = parse_json(payload)
        if self.is_sensor:
            return Decoded(state={"value": sensor_value(self.device.kind, data["value"])}) if "value" in data else None
        state = _read(data)
        return Decoded(state=state) if state else None


class GenericJsonEmulation(Emulation):
    """Acts as a generic JSON device."""

    def command_topics(self) -> list[str]:
        """``<topic>/set``."""
        return [f"{self.device.topic}/set"]

    def apply(self, topic: str, payload: bytes) -> State | None:
        """The keys it knows."""
        return _read(parse_json(payload)) or None

    def report(self, state: State) -> list[Message]:
        """The whole state."""
        return [(f"{self.device.topic}/state", json.dumps(state, sort_keys=True).encode())]

    def availability(self, online: bool) -> Message:
        """``online``/``offline``."""
        return f"{self.device.topic}/availability", b"online" if online else b"offline"
