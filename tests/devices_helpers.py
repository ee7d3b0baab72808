"""Helpers for the devices tests: settings with devices, an MQTT watcher, a room with simulated devices."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from roomctl.config import Settings
from roomctl.core.clock import Clock
from roomctl.core.room import Room
from roomctl.devices import capability as devices
from roomctl.devices.broker import Broker
from roomctl.devices.example import example_config
from roomctl.devices.service import DevicesService
from roomctl.devices.settings import DeviceSettings, ScenesSettings
from roomctl.devices.simulator import DeviceSimulator
from roomctl.runtime import install_capabilities
from roomctl.store import open_database
from tests.conftest import wait_for

FAST_SCENES = {"command_timeout_seconds": 0.3, "command_retries": 1, "check_interval_seconds": 600}
"""Short timeouts so failing devices are reported quickly in tests."""


def with_devices(
    settings: Settings,
    devices: list[dict[str, Any]] | None = None,
    scenes: dict[str, Any] | None = None,
) -> Settings:
    """``settings`` with ``[[devices]]`` and ``[scenes]`` (default: the example room, fast timeouts)."""
    example = example_config()
    device_list = [DeviceSettings(**d) for d in (example["devices"] if devices is None else devices)]
    scene_data = {**(example["scenes"] if devices is None else {}), **FAST_SCENES, **(scenes or {})}
    return settings.model_copy(update={"devices": device_list, "scenes": ScenesSettings(**scene_data)})


class Watcher:
    """A separate MQTT client recording every message under a filter."""

    def __init__(self, broker: Broker, topic_filter: str = "#", *, username: str | None = None,
                 password: str | None = None, client_id: str = "watcher") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = lambda c, *_: c.subscribe(topic_filter, 1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        if not self.subscribed.wait(5):
            raise AssertionError("watcher could not subscribe")

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def on(self, topic: str) -> list[bytes]:
        """Payloads seen on ``topic``."""
        with self._lock:
            return [p for t, p, _ in self.messages if t == topic]

    def topics(self) -> set[str]:
        """Every topic seen."""
        with self._lock:
            return {t for t, _, _ in self.messages}

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class SimRoom:
    """A running room with a device simulator on the same broker."""

    room: Room
    sim: DeviceSimulator
    broker: Broker

    @property
    def service(self) -> Any:
        """The devices service."""
        return self.room.service(DevicesService)

    def device(self, device_id: str) -> dict[str, Any]:
        """The device as the registry shows it."""
        result: dict[str, Any] = self.service.registry.get(device_id).as_dict()
        return result


def devices_room(settings: Settings, clock: Clock | None = None) -> Room:
    """A room with only the devices capability installed (fast, and nothing else interferes)."""
    room = Room(settings, open_database(settings.storage.database_path), clock)
    install_capabilities(room, [devices])
    return room


@asynccontextmanager
async def sim_room(
    broker: Broker,
    make_settings: Callable[..., Settings],
    *,
    devices: list[dict[str, Any]] | None = None,
    scenes: dict[str, Any] | None = None,
    delay: float = 0.0,
    clock: Clock | None = None,
) -> AsyncIterator[SimRoom]:
    """The example room (or ``devices``) with simulated devices, all online before the block starts."""
    settings = with_devices(make_settings(mqtt={"enabled": True, "port": broker.port}), devices, scenes)
    sim = DeviceSimulator(settings, delay=delay, sensor_interval=3600)
    await sim.start()
    room = devices_room(settings, clock)
    await room.start()
    try:
        registry = room.service(DevicesService).registry
        await wait_for(
            lambda: all(d.availability in ("online", "assumed") for d in registry.devices.values()), timeout=10
        )
        yield SimRoom(room, sim, broker)
    finally:
        await room.stop()
        await sim.stop()
