"""Shelly Gen2/Gen3 (Plus, Pro) over MQTT.

JSON-RPC requests on ``<prefix>/rpc``, the component's full status on
``<prefix>/status/<component>:<id>`` (with ``status_ntf`` enabled) and availability on ``<prefix>/online``
(``true``/``false``, the device's last will).

Switches (plugs, projector, fan, plain lights) use ``Switch.Set`` and report ``output``; dimmers use
``Light.Set`` with ``brightness`` 0-100; blinds use ``Cover.GoToPosition`` and report ``current_pos``; an
H&T reports ``temperature:0`` (``tC``) and ``humidity:0`` (``rh``); presence comes from ``input:<id>``.
"""

from __future__ import annotations

import itertools
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
from roomctl.errors import ConfigError

COMPONENTS = {
    "light": "switch",
    "plug": "switch",
    "projector": "switch",
    "fan": "switch",
    "dimmer": "light",
    "blinds": "cover",
    "temperature": "temperature",
    "humidity": "humidity",
    "presence": "input",
}
SENSOR_FIELDS = {"temperature": "tC", "humidity": "rh", "presence": "state"}
_request_ids = itertools.count(1)


def component_of(device: DeviceSettings) -> str:
    """The Shelly component (``switch``, ``light``, ``cover``, ...) a device kind maps to.

    Raises:
        ConfigError: Shelly has no component for this kind.
    """
    try:
        return COMPONENTS[device.kind]
    except KeyError:
        raise ConfigError(
            f"device {device.id}: Shelly devices have no {device.kind} sensor; use another driver"
        ) from None


def _key(device: DeviceSettings) -> str:
    return f"{component_of(device)}:{device.channel}"


class ShellyGen2Driver(Driver):
    """A Shelly Gen2+ device with MQTT enabled (RPC and status notifications on)."""

    name = "shelly_gen2"

    def __init__(self, device: DeviceSettings, client_id: str = "roomctl") -> None:
        super().__init__(device, client_id)
        component_of(device)

    def subscriptions(self) -> list[str]:
        """The component's status and ``online``."""
        return [f"{self.device.topic}/status/{_key(self.device)}", f"{self.device.topic}/online"]

    def encode(self, target: State) -> list[Message]:
        """One JSON-RPC request; the answer goes to ``<client_id>/rpc`` (the state comes as a status)."""
        component = component_of(self.device)
        params: dict[str, Any] = {"id": self.device.channel}
        if component == "cover":
            if "position" not in target:
                return []
            method, params["pos"] = "Cover.GoToPosition", target["position"]
        elif component == "light":
            method = "Light.Set"
            if "on" in target:
                params["on"] = target["on"]
            if "brightness" in target and target.get("on") is not False:
                params["brightness"] = target["brightness"]
        else:
            if "on" not in target:
                return []
            method, params["on"] = "Switch.Set", target["on"]
        request = {"id": next(_request_ids), "src": self.client_id, "method": method, "params": params}
        return [(f"{self.device.topic}/rpc", json.dumps(request).encode())]

    def decode(self, topic: str, payload: bytes) -> Decoded | None:
        """``online`` true/false, or a component status object."""
        if topic == f"{self.device.topic}/online":
            text = parse_text(payload)
            if text not in ("true", "false"):
                raise MalformedPayloadError(f"online must be true or false, got {text[:40]!r}")
            return Decoded(online=text == "true")
        if topic != f"{self.device.topic}/status/{_key(self.device)}":
            return None
        data = parse_json(payload)
        component = component_of(self.device)
        if self.is_sensor:
            field = SENSOR_FIELDS[self.device.kind]
            return Decoded(state={"value": sensor_value(self.device.kind, data[field])}) if field in data else None
        state: State = {}
        if component == "cover":
            if "current_pos" in data and data["current_pos"] is not None:
                state["position"] = round(number(data["current_pos"], 0, 100))
        else:
            if "output" in data:
                state["on"] = on_off(data["output"])
            if component == "light" and "brightness" in data:
                state["brightness"] = round(number(data["brightness"], 0, 100))
        return Decoded(state=state) if state else None


class ShellyGen2Emulation(Emulation):
    """Acts as a Shelly Gen2 device answering RPC over MQTT."""

    def command_topics(self) -> list[str]:
        """``<prefix>/rpc``."""
        return [f"{self.device.topic}/rpc"]

    def apply(self, topic: str, payload: bytes) -> State | None:
        """``Switch.Set``, ``Light.Set``, ``Cover.GoToPosition``."""
        request = parse_json(payload)
        params = request.get("params")
        if not isinstance(params, dict) or params.get("id") != self.device.channel:
            raise MalformedPayloadError("RPC request without params for this channel")
        method = request.get("method")
        if method == "Switch.Set":
            return {"on": on_off(params.get("on"))}
        if method == "Light.Set":
            change: State = {}
            if "on" in params:
                change["on"] = on_off(params["on"])
            if "brightness" in params:
                change["brightness"] = round(number(params["brightness"], 0, 100))
            return change or None
        if method == "Cover.GoToPosition":
            return {"position": round(number(params.get("pos"), 0, 100))}
        return None

    def report(self, state: State) -> list[Message]:
        """The component's status object."""
        component = component_of(self.device)
        body: dict[str, Any] = {"id": self.device.channel}
        if "value" in state:
            body[SENSOR_FIELDS[self.device.kind]] = state["value"]
        elif component == "cover":
            body.update(state="stopped", source="MQTT", current_pos=state.get("position", 0))
        else:
            body.update(source="MQTT", output=bool(state.get("on")))
            if component == "light":
                body["brightness"] = state.get("brightness", 100)
        return [(f"{self.device.topic}/status/{_key(self.device)}", json.dumps(body).encode())]

    def availability(self, online: bool) -> Message:
        """``<prefix>/online``."""
        return f"{self.device.topic}/online", b"true" if online else b"false"
