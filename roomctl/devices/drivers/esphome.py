"""ESPHome's MQTT convention.

Commands on ``<node>/<domain>/<object_id>/command`` and ``.../state``, availability as the
birth and will message ``<node>/status`` = ``online``/``offline``.

Lights use the JSON schema (``{"state": "ON", "brightness": 0-255}``); switches and fans take ``ON``/``OFF``;
covers take ``.../position/command`` 0-100 and report ``.../position/state``; sensors report a number on
``<node>/sensor/<object_id>/state``; a presence sensor is a ``binary_sensor`` reporting ``ON``/``OFF``.
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

BRIGHTNESS_TOP = 255
DOMAINS = {
    "light": "light",
    "dimmer": "light",
    "plug": "switch",
    "projector": "switch",
    "fan": "fan",
    "blinds": "cover",
    "co2": "sensor",
    "temperature": "sensor",
    "humidity": "sensor",
    "presence": "binary_sensor",
}


def domain_of(device: DeviceSettings) -> str:
    """The ESPHome component domain a device kind maps to."""
    return DOMAINS[device.kind]


def _base(device: DeviceSettings) -> str:
    return f"{device.topic}/{domain_of(device)}/{device.entity}"


def _command_topic(device: DeviceSettings) -> str:
    suffix = "position/command" if domain_of(device) == "cover" else "command"
    return f"{_base(device)}/{suffix}"


def _state_topic(device: DeviceSettings) -> str:
    suffix = "position/state" if domain_of(device) == "cover" else "state"
    return f"{_base(device)}/{suffix}"


class EsphomeDriver(Driver):
    """An entity on an ESPHome node with the ``mqtt:`` component."""

    name = "esphome"

    def subscriptions(self) -> list[str]:
        """The entity's state and the node's status."""
        return [_state_topic(self.device), f"{self.device.topic}/status"]

    def encode(self, target: State) -> list[Message]:
        """One command in the entity's domain."""
        domain = domain_of(self.device)
        topic = _command_topic(self.device)
        if domain == "cover":
            return [(topic, str(target["position"]).encode())] if "position" in target else []
        if domain == "light":
            body: dict[str, object] = {}
            if "on" in target:
                body["state"] = "ON" if target["on"] else "OFF"
            if "brightness" in target and target.get("on") is not False:
                body["brightness"] = to_scale(target["brightness"], BRIGHTNESS_TOP)
                body.setdefault("state", "ON")
            return [(topic, json.dumps(body).encode())]
        return [(topic, b"ON" if target.get("on") else b"OFF")] if "on" in target else []

    def decode(self, topic: str, payload: bytes) -> Decoded | None:
        """Status text, a light's JSON, a switch's ON/OFF, a cover's position or a sensor's number."""
        if topic == f"{self.device.topic}/status":
            text = parse_text(payload)
            if text not in ("online", "offline"):
                raise MalformedPayloadError(f"status must be online or offline, got {text[:40]!r}")
            return Decoded(online=text == "online")
        if topic != _state_topic(self.device):
            return None
        domain = domain_of(self.device)
        if domain in ("sensor", "binary_sensor"):
            return Decoded(state={"value": sensor_value(self.device.kind, parse_text(payload))})
        if domain == "cover":
            return Decoded(state={"position": round(number(parse_text(payload), 0, 100))})
        if domain == "light":
            data = parse_json(payload)
            state: State = {}
            if "state" in data:
                state["on"] = on_off(data["state"])
            if "brightness" in data:
                state["brightness"] = from_scale(data["brightness"], BRIGHTNESS_TOP)
            return Decoded(state=state) if state else None
        return Decoded(state={"on": on_off(parse_text(payload))})


class EsphomeEmulation(Emulation):
    """Acts as an ESPHome node's entity."""

    def command_topics(self) -> list[str]:
        """The entity's command topic."""
        return [] if domain_of(self.device) in ("sensor", "binary_sensor") else [_command_topic(self.device)]

    def apply(self, topic: str, payload: bytes) -> State | None:
        """Parse a command the way ESPHome's MQTT component does."""
        domain = domain_of(self.device)
        if domain == "cover":
            return {"position": round(number(parse_text(payload), 0, 100))}
        if domain == "light":
            data = parse_json(payload)
            change: State = {}
            if "state" in data:
                change["on"] = on_off(data["state"])
            if "brightness" in data:
                change["brightness"] = from_scale(data["brightness"], BRIGHTNESS_TOP)
            return change or None
        return {"on": on_off(parse_text(payload))}

    def report(self, state: State) -> list[Message]:
        """The entity's state message."""
        topic = _state_topic(self.device)
        domain = domain_of(self.device)
        if "value" in state:
            value = state["value"]
            text = ("ON" if value else "OFF") if domain == "binary_sensor" else f"{value:.1f}"
            return [(topic, text.encode())]
        if domain == "cover":
            return [(topic, str(state.get("position", 0)).encode())]
        if domain == "light":
            body: dict[str, object] = {"state": "ON" if state.get("on") else "OFF", "color_mode": "brightness"}
            body["brightness"] = to_scale(state.get("brightness", 100), BRIGHTNESS_TOP)
            return [(topic, json.dumps(body).encode())]
        return [(topic, b"ON" if state.get("on") else b"OFF")]

    def availability(self, online: bool) -> Message:
        """``<node>/status``."""
        return f"{self.device.topic}/status", b"online" if online else b"offline"
