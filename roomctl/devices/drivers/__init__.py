"""Drivers, one per firmware convention, each with its device-side emulation for the simulator."""

from __future__ import annotations

from roomctl.devices.drivers.base import Decoded, Driver, Emulation, MalformedPayloadError
from roomctl.devices.drivers.esphome import EsphomeDriver, EsphomeEmulation
from roomctl.devices.drivers.generic_json import GenericJsonDriver, GenericJsonEmulation
from roomctl.devices.drivers.shelly_gen2 import ShellyGen2Driver, ShellyGen2Emulation
from roomctl.devices.drivers.tasmota import TasmotaDriver, TasmotaEmulation
from roomctl.devices.drivers.zigbee2mqtt import Zigbee2MqttDriver, Zigbee2MqttEmulation
from roomctl.devices.settings import DeviceSettings

DRIVERS: dict[str, tuple[type[Driver], type[Emulation]]] = {
    "zigbee2mqtt": (Zigbee2MqttDriver, Zigbee2MqttEmulation),
    "tasmota": (TasmotaDriver, TasmotaEmulation),
    "esphome": (EsphomeDriver, EsphomeEmulation),
    "shelly_gen2": (ShellyGen2Driver, ShellyGen2Emulation),
    "generic_json": (GenericJsonDriver, GenericJsonEmulation),
}


def make_driver(device: DeviceSettings, client_id: str = "roomctl") -> Driver:
    """The controller-side driver for ``device``."""
    return DRIVERS[device.driver][0](device, client_id)


def make_emulation(device: DeviceSettings) -> Emulation:
    """The device-side emulation for ``device`` (the simulator)."""
    return DRIVERS[device.driver][1](device)


__all__ = ["DRIVERS", "Decoded", "Driver", "Emulation", "MalformedPayloadError", "make_driver", "make_emulation"]
