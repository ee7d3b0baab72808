"""The room on the MQTT bus, against a real Mosquitto."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from roomctl.config import Settings
from roomctl.devices import bus as bus_module
from roomctl.devices.broker import Broker, free_port
from roomctl.devices.bus import MqttBus, reconnect_delay
from roomctl.devices.topics import MATCH_CACHE_SIZE, TopicRouter
from roomctl.errors import ValidationError
from roomctl.runtime import build_room
from tests.conftest import wait_for

FAST_RETRY = 0.02
"""Seconds of reconnect backoff in these tests (patched in, so a retry loop would show many attempts)."""
SUBSCRIBE_HOLD = 0.3
"""Seconds the slow link holds every SUBSCRIBE back: long enough for a probe to overtake a late subscription."""
MQTT_SUBSCRIBE = 8


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


class SlowLink:
    """A TCP proxy between the bus and the real Mosquitto: a network link that can be slow or cut.

    It holds every SUBSCRIBE packet from the client back for ``subscribe_hold`` seconds (the stream stays in
    order, so everything the client sends after it waits too), counts connections, and :meth:`cut` aborts
    them all while the broker stays up (with a clean session the broker then forgets the subscriptions).
    """

    def __init__(self, broker: Broker, *, subscribe_hold: float = 0.0) -> None:
        self.broker = broker
        self.subscribe_hold = subscribe_hold
        self.connections = 0
        self.port = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> SlowLink:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(self.broker.host, self.broker.port)
        pair = [writer, up_writer]
        self._writers.extend(pair)
        await asyncio.gather(self._upstream(reader, up_writer, pair), self._pipe(up_reader, writer, pair))

    async def _upstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair: list[Any]) -> None:
        try:
            while True:
                header = bytearray(await reader.readexactly(1))
                length, shift = 0, 0
                while True:  # MQTT remaining length: a base-128 varint
                    byte = (await reader.readexactly(1))[0]
                    header.append(byte)
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                body = await reader.readexactly(length)
                if header[0] >> 4 == MQTT_SUBSCRIBE and self.subscribe_hold:
                    await asyncio.sleep(self.subscribe_hold)
                writer.write(bytes(header) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for end in pair:
                end.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair: list[Any]) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            for end in pair:
                end.transport.abort()


class Prober:
    """Another MQTT client: whenever it sees the bus say ``online`` live, it publishes a probe at once.

    Only live messages count (a retained ``online`` delivered on subscribing is old news). The bus must have
    its subscriptions back before it says ``online``, or the probe reaches a broker that drops it.
    """

    def __init__(self, broker: Broker, availability_topic: str, probe_topic: str) -> None:
        self.onlines = 0
        self.subscribed = threading.Event()
        self.probe_topic = probe_topic
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="prober")
        self.client.on_connect = lambda c, *_: c.subscribe(availability_topic, 1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.payload == b"online" and not msg.retain:
            self.onlines += 1
            client.publish(self.probe_topic, f"probe-{self.onlines}".encode(), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def fast_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnect backoff in hundredths of a second."""
    monkeypatch.setattr(bus_module, "RECONNECT_MIN_DELAY", FAST_RETRY)
    monkeypatch.setattr(bus_module, "RECONNECT_MAX_DELAY", 5 * FAST_RETRY)


def test_backoff_doubles_and_is_bounded() -> None:
    delays = [reconnect_delay(failures) for failures in range(1, 10)]
    assert delays[0] == bus_module.RECONNECT_MIN_DELAY
    assert all(
        later == min(2 * earlier, bus_module.RECONNECT_MAX_DELAY) for earlier, later in itertools.pairwise(delays)
    )
    assert max(delays) == bus_module.RECONNECT_MAX_DELAY


def test_topic_router_matches_like_paho_in_the_order_added() -> None:
    filters = ["zigbee2mqtt/#", "zigbee2mqtt/+", "zigbee2mqtt/lamp", "+/+/state", "#", "roomctl/+/+/state"]
    filters += ["zigbee2mqtt/lamp", "shellies/+/rpc", "stat/plug/RESULT", "$SYS/#"]
    topics = ["zigbee2mqtt/lamp", "zigbee2mqtt/lamp/set", "roomctl/hq/r1/state", "stat/plug/RESULT", "$SYS/load"]
    topics += ["shellies/fan/rpc", "zigbee2mqtt", "a/b/state", "nothing/here/at/all", "roomctl/hq/r1/state"]
    router: TopicRouter[int] = TopicRouter()
    for index, topic_filter in enumerate(filters):
        router.add(topic_filter, index)
    for topic in topics:
        expected = tuple(i for i, topic_filter in enumerate(filters) if mqtt.topic_matches_sub(topic_filter, topic))
        assert router.match(topic) == expected, topic
    router.add("nothing/#", 99)  # a new filter is seen by topics matched (and remembered) before
    assert router.match("nothing/here/at/all") == (4, 99)
    assert router.filters() == list(dict.fromkeys([*filters, "nothing/#"]))
    for n in range(MATCH_CACHE_SIZE + 10):  # junk topics do not grow the cache without end
        router.match(f"junk/{n}")
    assert len(router._cache) <= MATCH_CACHE_SIZE


@pytest.mark.parametrize("topic_filter", ["a/#/b", "a/b#", "a/+b/c", "", "x\0y"])
def test_a_filter_the_broker_would_refuse_is_refused_at_once(
    topic_filter: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(mqtt={"enabled": True})
    bus = MqttBus(settings.mqtt, settings.room)
    with pytest.raises(ValidationError, match="not an MQTT topic filter"):
        bus.subscribe(topic_filter, lambda topic, payload: None)
    bus.subscribe("a/+/b/#", lambda topic, payload: None)  # wildcards as whole levels are fine


async def test_resubscribes_before_it_says_online_and_handles_everything_on_the_loop(
    broker: Broker, make_settings: Callable[..., Settings], fast_retry: None
) -> None:
    link = await SlowLink(broker, subscribe_hold=SUBSCRIBE_HOLD).start()
    settings = make_settings(mqtt={"enabled": True, "port": link.port})
    bus = MqttBus(settings.mqtt, settings.room)
    loop_thread = threading.get_ident()
    received: list[bytes] = []
    handler_threads: set[int] = set()
    hook_threads: list[int] = []

    def probe_arrived(topic: str, payload: bytes) -> None:
        handler_threads.add(threading.get_ident())
        received.append(payload)

    bus.subscribe("test/probe", probe_arrived)
    bus.on_connected(lambda: hook_threads.append(threading.get_ident()))
    prober = Prober(broker, bus.availability_topic, "test/probe")
    try:
        await wait_for(prober.subscribed.is_set)
        await bus.start()
        await wait_for(lambda: received == [b"probe-1"])
        link.cut()  # the broker stays up and forgets the bus's subscriptions
        await wait_for(lambda: bus.connects == 2)
        await wait_for(lambda: received == [b"probe-1", b"probe-2"])
        assert link.connections == 2
        assert prober.onlines == 2
        assert handler_threads == {loop_thread}
        assert hook_threads == [loop_thread, loop_thread]
        assert bus.health().status == "ok"
        sock = bus.client.socket()
        assert sock is not None and sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), "Nagle is off"
    finally:
        prober.close()
        await bus.stop()
        await link.close()


@pytest.fixture
def password_broker(tmp_path: Path) -> Any:
    """Mosquitto that only lets user ``roomctl`` with password ``right-password`` in."""
    passwd = tmp_path / "mosquitto.passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "roomctl", "right-password"], check=True)
    config = f"allow_anonymous false\npassword_file {passwd}"
    with Broker(workdir=tmp_path / "mosquitto", extra_config=config) as running:
        yield running


@pytest.mark.parametrize(
    ("username", "password", "status", "detail"),
    [
        ("roomctl", "right-password", "ok", "connected to"),
        ("roomctl", "wrong-password", "down", "refused the credentials for user 'roomctl'"),
        ("", None, "down", "refused this room without credentials"),
    ],
)
async def test_refused_credentials_stop_the_retries_and_say_what_to_fix(
    password_broker: Broker,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fast_retry: None,
    username: str,
    password: str | None,
    status: str,
    detail: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    if password is not None:
        monkeypatch.setenv("ROOMCTL_MQTT_PASSWORD", password)
    link = await SlowLink(password_broker).start()
    room = build_room(make_settings(mqtt={"enabled": True, "port": link.port, "username": username}))
    await room.start()
    try:

        def mqtt_health() -> dict[str, Any]:
            return room.health.report()["components"]["mqtt"]  # type: ignore[index]

        await wait_for(lambda: mqtt_health()["status"] != "degraded")
        await asyncio.sleep(20 * FAST_RETRY)  # a retry loop would have tried again many times by now
        assert mqtt_health()["status"] == status
        assert detail in mqtt_health()["detail"]
        assert link.connections == 1
        assert room.health.report()["status"] in ("ok", "degraded")  # never down: the door works without MQTT
        if status == "down":
            assert "fix [mqtt] username" in mqtt_health()["detail"] or "set [mqtt] username" in mqtt_health()["detail"]
            assert "ROOMCTL_MQTT_PASSWORD" in mqtt_health()["detail"]
        if password:
            assert password not in caplog.text
            assert password not in str(room.health.report())
    finally:
        await room.stop()
        await link.close()


async def test_other_failures_back_off_then_connect_when_the_broker_comes(
    tmp_path: Path, make_settings: Callable[..., Settings], fast_retry: None
) -> None:
    port = free_port()
    settings = make_settings(mqtt={"enabled": True, "port": port})
    bus = MqttBus(settings.mqtt, settings.room)
    await bus.start()
    late = Broker(port, workdir=tmp_path / "late-mosquitto")
    try:
        await wait_for(lambda: bus.attempts >= 4)
        health = bus.health()
        assert health.status == "degraded"
        assert "reconnecting" in health.detail
        assert not bus.connected
        late.start()
        await wait_for(lambda: bus.connected)
        assert bus.health().status == "ok"
    finally:
        await bus.stop()
        late.stop()


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
    threads: set[int] = set()

    def arrived(topic: str, payload: bytes) -> None:
        threads.add(threading.get_ident())
        received.append(payload)

    bus.subscribe("test/in", arrived)
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
            assert threads == {threading.get_ident()}  # handled on the loop, not on paho's thread
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
