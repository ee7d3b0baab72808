"""Zigbee2MQTT's MQTT convention.

Commands on ``<base>/<friendly_name>/set`` with JSON, state on ``<base>/<friendly_name>``, availability on
``<base>/<friendly_name>/availability`` as ``{"state": "online"}`` (plain ``online`` before 2.0).

Brightness is 0-254; covers take ``position`` 0-100 (100 = open); sensors report ``co2``, ``temperature``,
``humidity`` and ``occupancy`` keys in the device's state object.
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
    from_scale,
    number,
    on_off,
    parse_json,
    parse_text,
    sensor_value,
    to_scale,
)
from roomctl.devices.settings import DeviceSettings

DEFAULT_BASE = "zigbee2mqtt"
BRIGHTNESS_TOP = 254
SENSOR_KEYS = {"co2": "co2", "temperature": "temperature", "humidity": "humidity", "presence": "occupancy"}


def _topics(device: DeviceSettings) -> tuple[str, str, str]:
    base = f"{device.topic or DEFAULT_BASE}/{device.friendly_name}"
    return base, f"{base}/set", f"{base}/availability"


class Zigbee2MqttDriver(Driver):
    """A device paired with Zigbee2MQTT."""

    name = "zigbee2mqtt"

    def subscriptions(self) -> list[str]:
        """State and availability."""
        state, _, availability = _topics(self.device)
        return [state, availability]

    def encode(self, target: State) -> list[Message]:
        """One JSON ``/set`` message."""
        body: dict[str, object] = {}
        if "on" in target:
            body["state"] = "ON" if target["on"] else "OFF"
        if "brightness" in target and target.get("on") is not False:
            body["brightness"] = to_scale(target["brightness"], BRIGHTNESS_TOP)
        if "position" in target:
            body["position"] = target["position"]
        return [(_topics(self.device)[1], json.dumps(body).encode())]

    def decode(self, topic: str, payload: bytes) -> Decoded | None:
        """A state object or an availability message."""
        state_topic, _, availability_topic = _topics(self.device)
        if topic == availability_topic:
            text = parse_text(payload)
            value = parse_json(payload).get("state") if text.startswith("{") else text
            if value not in ("online", "offline"):
                raise MalformedPayloadError(f"availability must be online or offline, got {str(value)[:40]!r}")
            return Decoded(online=value == "online")
        if topic != state_topic:
            return None
        data = parse_json(payload)
        state: State = {}
        if self.is_sensor:
            key = SENSOR_KEYS[self.device.kind]
            if key not in data:
                return None
            state["value"] = sensor_value(self.device.kind, data[key])
            return Decoded(state=state)
        if "state" in data and self.device.kind != "blinds":
            state["on"] = on_off(data["state"])
        if "brightness" in data:
            state["brightness"] = from_scale(data["brightness"], BRIGHTNESS_TOP)
        if "position" in data:
            state["position"] = round(number(data["position"], 0, 100))
        return Decoded(state=state) if state else None


class Zigbee2MqttEmulation(Emulation):
    """Acts as Zigbee2MQTT for one device."""

    def command_topics(self) -> list[str]:
        """``/set``."""
        return [_topics(self.device)[1]]

    def apply(self, topic: str, payload: bytes) -> State | None:
        """Read a ``/set`` object."""
        data = parse_json(payload)
        change: State = {}
        if "state" in data:
            change["on"] = on_off(data["state"])
        if "brightness" in data:
            change["brightness"] = from_scale(data["brightness"], BRIGHTNESS_TOP)
            change.setdefault("on", True)
        if "position" in data:
            change["position"] = round(number(data["position"], 0, 100))
        return change or None

    def report(self, state: State) -> list[Message]:
        """The full state object, as Zigbee2MQTT publishes it."""
        body: dict[str, object] = {"linkquality": 120}
        if "value" in state:
            body[SENSOR_KEYS[self.device.kind]] = state["value"]
        if "on" in state:
            body["state"] = "ON" if state["on"] else "OFF"
        if "brightness" in state:
            body["brightness"] = to_scale(state["brightness"], BRIGHTNESS_TOP)
        if "position" in state:
            body["position"] = state["position"]
            body["state"] = "OPEN" if state["position"] > 0 else "CLOSE"
        return [(_topics(self.device)[0], json.dumps(body).encode())]

    def availability(self, online: bool) -> Message:
        """``{"state": "online"}``."""
        return _topics(self.device)[2], json.dumps({"state": "online" if online else "offline"}).encode()
