"""Tasmota's MQTT convention.

Commands on ``cmnd/<topic>/<Command>``, answers on ``stat/<topic>/RESULT`` (JSON) and
``stat/<topic>/POWER<n>`` (``ON``/``OFF``), telemetry on ``tele/<topic>/STATE`` and ``tele/<topic>/SENSOR``,
availability as the last will ``tele/<topic>/LWT`` = ``Online``/``Offline``.

Relays are ``POWER`` (channel 0 or 1) or ``POWER<n>``; dimmers take ``Dimmer`` 0-100; blinds use the shutter
driver (``ShutterPosition`` 0-100, reported as ``{"Shutter1": {"Position": n}}``). Sensors report under the
sensor's own name in ``tele/<topic>/SENSOR`` (``{"SCD40": {"CarbonDioxide": 612, "Temperature": 21.3}}``).
"""

from __future__ import annotations

import json
from typing import Any

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
from roomctl.devices.settings import DeviceSettings

SENSOR_FIELDS = {"co2": "CarbonDioxide", "temperature": "Temperature", "humidity": "Humidity"}
SIM_SENSOR_NAME = "SCD40"


def _power(device: DeviceSettings) -> str:
    return "POWER" if device.channel <= 1 else f"POWER{device.channel}"


def _find_sensor(data: dict[str, Any], field: str) -> object | None:
    for value in data.values():
        if isinstance(value, dict) and field in value:
            return value[field]
    return None


class TasmotaDriver(Driver):
    """A device running Tasmota with the default FullTopic ``%prefix%/%topic%/``."""

    name = "tasmota"

    def subscriptions(self) -> list[str]:
        """RESULT, POWER, STATE, SENSOR and LWT."""
        t = self.device.topic
        topics = [f"tele/{t}/LWT"]
        if self.is_sensor:
            return [*topics, f"tele/{t}/SENSOR"]
        return [*topics, f"stat/{t}/RESULT", f"stat/{t}/{_power(self.device)}", f"tele/{t}/STATE"]

    def encode(self, target: State) -> list[Message]:
        """``Dimmer``/``ShutterPosition`` first, ``POWER`` last (``Dimmer`` switches the light on)."""
        t = self.device.topic
        messages: list[Message] = []
        if "position" in target:
            messages.append((f"cmnd/{t}/ShutterPosition", str(target["position"]).encode()))
        if "brightness" in target and target.get("on") is not False:
            messages.append((f"cmnd/{t}/Dimmer", str(target["brightness"]).encode()))
        if "on" in target:
            messages.append((f"cmnd/{t}/{_power(self.device)}", b"ON" if target["on"] else b"OFF"))
        return messages

    def decode(self, topic: str, payload: bytes) -> Decoded | None:
        """LWT, POWER text, RESULT/STATE/SENSOR JSON."""
        t = self.device.topic
        power = _power(self.device)
        if topic == f"tele/{t}/LWT":
            text = parse_text(payload)
            if text not in ("Online", "Offline"):
                raise MalformedPayloadError(f"LWT must be Online or Offline, got {text[:40]!r}")
            return Decoded(online=text == "Online")
        if topic == f"stat/{t}/{power}":
            return Decoded(state={"on": on_off(parse_text(payload))})
        data = parse_json(payload)
        state: State = {}
        if self.is_sensor:
            if self.device.kind == "presence":
                raw = data.get("Switch1")
            else:
                raw = _find_sensor(data, SENSOR_FIELDS[self.device.kind])
            if raw is None:
                return None
            return Decoded(state={"value": sensor_value(self.device.kind, raw)})
        if power in data:
            state["on"] = on_off(data[power])
        if "Dimmer" in data:
            state["brightness"] = round(number(data["Dimmer"], 0, 100))
        shutter = data.get("Shutter1")
        if isinstance(shutter, dict) and "Position" in shutter:
            state["position"] = round(number(shutter["Position"], 0, 100))
        return Decoded(state=state) if state else None


class TasmotaEmulation(Emulation):
    """Acts as a Tasmota device."""

    def command_topics(self) -> list[str]:
        """``cmnd/<topic>/#``."""
        return [f"cmnd/{self.device.topic}/#"]

    def apply(self, topic: str, payload: bytes) -> State | None:
        """POWER, Dimmer, ShutterPosition (case-insensitive, as Tasmota)."""
        command = topic.rsplit("/", 1)[-1].upper()
        text = parse_text(payload)
        if command == _power(self.device).upper():
            return {"on": on_off(text)}
        if command == "DIMMER":
            return {"brightness": round(number(text, 0, 100)), "on": True}
        if command == "SHUTTERPOSITION":
            return {"position": round(number(text, 0, 100))}
        return None

    def report(self, state: State) -> list[Message]:
        """``stat/.../RESULT`` and ``stat/.../POWER`` after a command, ``tele/.../SENSOR`` for sensors."""
        t = self.device.topic
        if "value" in state:
            if self.device.kind == "presence":
                body: dict[str, Any] = {"Switch1": "ON" if state["value"] else "OFF"}
            else:
                body = {SIM_SENSOR_NAME: {SENSOR_FIELDS[self.device.kind]: state["value"]}}
            return [(f"tele/{t}/SENSOR", json.dumps(body).encode())]
        power = _power(self.device)
        result: dict[str, Any] = {}
        if "on" in state:
            result[power] = "ON" if state["on"] else "OFF"
        if "brightness" in state:
            result["Dimmer"] = state["brightness"]
        if "position" in state:
            result["Shutter1"] = {"Position": state["position"], "Direction": 0, "Target": state["position"]}
        messages = [(f"stat/{t}/RESULT", json.dumps(result).encode())]
        if "on" in state:
            messages.append((f"stat/{t}/{power}", result[power].encode()))
        return messages

    def availability(self, online: bool) -> Message:
        """``Online``/``Offline``."""
        return f"tele/{self.device.topic}/LWT", b"Online" if online else b"Offline"
