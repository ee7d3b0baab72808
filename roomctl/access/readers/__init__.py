"""Badge readers behind one interface, chosen by ``[reader] kind``."""

from __future__ import annotations

from typing import Any

from roomctl.access.readers.base import PollingReader, Reader, StatusSink, UidSink
from roomctl.access.readers.networked import EsphomeReader, SimulatedReader
from roomctl.config import Settings
from roomctl.errors import ConfigError

__all__ = ["PollingReader", "Reader", "StatusSink", "UidSink", "make_reader"]


def make_reader(settings: Settings, *, bus: Any = None, card_check: Any = None) -> Reader:
    """The reader ``[reader] kind`` names.

    Args:
        settings: The room's settings.
        bus: The room's MQTT bus (needed for ``esphome``).
        card_check: Authenticates NTAG 424 DNA badges on a PN532 (other readers see UIDs only).

    Raises:
        ConfigError: ``esphome`` without MQTT.
    """
    reader = settings.reader
    if reader.kind == "pn532_uart":
        from roomctl.access.readers.pn532 import Pn532Reader

        return Pn532Reader.uart(reader.name, reader.device, card_check=card_check)
    if reader.kind == "pn532_i2c":
        from roomctl.access.readers.pn532 import Pn532Reader

        return Pn532Reader.i2c(reader.name, reader.i2c_address, card_check=card_check)
    if reader.kind == "evdev":
        from roomctl.access.readers.wedge import WedgeReader

        return WedgeReader(reader.name, reader.device)
    if reader.kind == "esphome":
        if bus is None:
            raise ConfigError("[reader] kind = \"esphome\" needs MQTT: set [mqtt] enabled = true and the broker")
        return EsphomeReader(reader.name, bus, reader.esphome_topic)
    return SimulatedReader(reader.name)
