"""The room on the MQTT bus, against a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from roomctl.config import Settings
from roomctl.devices.broker import Broker
from roomctl.devices.bus import MqttBus
from roomctl.runtime import build_room
from tests.conftest import wait_for


class Watcher:
    """A separate MQTT client that records the last payload of every topic it sees."""

    def __init__(self, broker: Broker, topic_filter: str) -> None:
        self.messages: dict[str, list[bytes]] = {}
        self._lock = threading.Lock()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="watcher")
        self.client.on_connect = lambda c, *_: c.subscribe(topic_filter, 1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.setdefault(msg.topic, []).append(bytes(msg.payload))

    def last(self, topic: str) -> bytes | None:
        with self._lock:
            values = self.messages.get(topic)
            return values[-1] if values else None

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_availability_and_state_are_published_retained(
    broker: Broker, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(mqtt={"enabled": True, "port": broker.port}, room={"site": "hq", "id": "r1"})
    room = build_room(settings)
    await room.start()
    watcher = Watcher(broker, "roomctl/hq/r1/#")
    try:
        await wait_for(lambda: watcher.last("roomctl/hq/r1/availability") == b"online")
        room.status.claim("probe", owner="test").set({"value": 42})
        state = await wait_for(lambda: watcher.last("roomctl/hq/r1/state"))
        await wait_for(lambda: json.loads(watcher.last("roomctl/hq/r1/state") or b"{}").get("probe"))
        state = json.loads(watcher.last("roomctl/hq/r1/state") or b"{}")
        assert state["probe"] == {"value": 42}
        assert state["room"]["id"] == "r1"
        assert room.health.report()["components"]["mqtt"]["status"] == "ok"
    finally:
        await room.stop()
    await wait_for(lambda: watcher.last("roomctl/hq/r1/availability") == b"offline")
    watcher.close()


async def test_broker_restart_republishes_availability_and_state(
    broker: Broker, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(mqtt={"enabled": True, "port": broker.port})
    room = build_room(settings)
    await room.start()
    bus = room.service(MqttBus)
    received: list[bytes] = []
    bus.subscribe("test/in", lambda topic, payload: received.append(payload))
    try:
        await wait_for(lambda: bus.connected)
        room.status.claim("probe", owner="test").set({"name": "arrival"})
        await asyncio.to_thread(broker.restart)  # persistence off: retained messages are gone
        await wait_for(lambda: bus.connects >= 2, timeout=15)
        assert room.health.report()["components"]["mqtt"]["status"] == "ok"
        watcher = Watcher(broker, "roomctl/#")
        try:
            await wait_for(lambda: watcher.last("roomctl/hq/room1/availability") == b"online")
            state = json.loads(await wait_for(lambda: watcher.last("roomctl/hq/room1/state")))
            assert state["probe"] == {"name": "arrival"}
            # the subscription was renewed after the restart
            watcher.client.publish("test/in", b"hello", qos=1)
            await wait_for(lambda: received == [b"hello"])
        finally:
            watcher.close()
    finally:
        await room.stop()


async def test_broker_down_degrades_but_does_not_stop_the_room(make_settings: Callable[..., Settings]) -> None:
    from roomctl.devices.broker import free_port

    settings = make_settings(mqtt={"enabled": True, "port": free_port()})
    room = build_room(settings)
    await room.start()
    try:
        await asyncio.sleep(0.3)
        report = room.health.report()
        assert report["components"]["mqtt"]["status"] == "degraded"
        assert report["status"] == "degraded"
        assert "no MQTT broker" in str(report["components"]["mqtt"]["detail"])
    finally:
        await room.stop()
