"""The room's MQTT connection (paho-mqtt): availability, retained room state, subscriptions.

paho's network thread never decides anything: every message is handed to the event loop with
``call_soon_threadsafe`` and handled there. The client reconnects with backoff by itself; on every
(re)connect the bus publishes ``online``, the latest room state, and subscribes again to every filter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from roomctl.config import MqttSettings, RoomSettings
from roomctl.core.health import ComponentHealth
from roomctl.errors import AdapterError

log = logging.getLogger(__name__)

RECONNECT_MIN_DELAY = 1
"""Seconds before the first reconnect attempt."""
RECONNECT_MAX_DELAY = 30
"""Longest wait between reconnect attempts."""
DISCONNECT_TIMEOUT = 2.0
"""Seconds to wait for the ``offline`` message to leave before disconnecting."""

MessageHandler = Callable[[str, bytes], None]


def room_topic(mqtt_settings: MqttSettings, room: RoomSettings, leaf: str) -> str:
    """``<base>/<site>/<room>/<leaf>``."""
    return f"{mqtt_settings.base_topic}/{room.site}/{room.id}/{leaf}"


class MqttBus:
    """One paho client for the room.

    Args:
        settings: The ``[mqtt]`` section.
        room: The ``[room]`` section (for topics and client id).
        password: The MQTT password (from the environment or a credential), if any.
        name: The service name (``mqtt``).
    """

    def __init__(self, settings: MqttSettings, room: RoomSettings, *, password: str | None = None) -> None:
        self.name = "mqtt"
        self.settings = settings
        self.availability_topic = room_topic(settings, room, "availability")
        self.state_topic = room_topic(settings, room, "state")
        self._client_id = settings.client_id or f"roomctl-{room.site}-{room.id}"
        self._password = password
        self._handlers: list[tuple[str, MessageHandler]] = []
        self._live_only: set[MessageHandler] = set()  # handlers that never get retained messages
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state: bytes | None = None
        self._connected = False
        self._connects = 0
        self._last_error = "not connected yet"
        self._on_connect_hooks: list[Callable[[], None]] = []
        self._stopping = False
        self.client = self._make_client()

    # -- setup ----------------------------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=mqtt.MQTTv311,
        )
        client.will_set(self.availability_topic, b"offline", qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)
        if self.settings.username:
            client.username_pw_set(self.settings.username, self._password)
        if self.settings.tls:
            ca = str(self.settings.ca_file) if self.settings.ca_file else None
            client.tls_set(ca_certs=ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._connected

    @property
    def connects(self) -> int:
        """How many times the bus has connected (1 + reconnects)."""
        return self._connects

    def health(self) -> ComponentHealth:
        """Degraded (never down) without the broker: the door works without it."""
        if self._connected:
            return ComponentHealth("ok", f"connected to {self.settings.host}:{self.settings.port}")
        return ComponentHealth(
            "degraded",
            f"no MQTT broker at {self.settings.host}:{self.settings.port} ({self._last_error}); "
            "devices and other rooms do not hear this room until it is back",
        )

    def on_connected(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` on the event loop after every (re)connect."""
        self._on_connect_hooks.append(hook)

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background; the client keeps reconnecting until :meth:`stop`."""
        self._loop = asyncio.get_running_loop()
        try:
            self.client.connect_async(self.settings.host, self.settings.port, self.settings.keepalive)
        except (OSError, ValueError) as exc:
            raise AdapterError(f"cannot connect to MQTT broker {self.settings.host}:{self.settings.port}: {exc}") from exc
        self.client.loop_start()

    async def stop(self) -> None:
        """Publish ``offline`` and disconnect cleanly (the last will is for unclean ends)."""
        self._stopping = True
        if self._connected:
            info = self.client.publish(self.availability_topic, b"offline", qos=1, retain=True)
            await asyncio.to_thread(info.wait_for_publish, DISCONNECT_TIMEOUT)
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)
        self._connected = False

    # -- use ------------------------------------------------------------------------------------------------

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 1, *, retained: bool = True) -> None:
        """Call ``handler(topic, payload)`` on the event loop for every message matching ``topic_filter``.

        ``retained=False`` skips retained messages (a badge tag kept by the broker is not a tap now; issue 14).
        """
        if not retained:
            self._live_only.add(handler)
        self._handlers.append((topic_filter, handler))
        if self._connected:
            self.client.subscribe(topic_filter, qos)

    def publish(self, topic: str, payload: bytes | str | dict[str, Any], *, qos: int = 1, retain: bool = False) -> None:
        """Publish; while disconnected paho queues QoS>0 messages until the connection is back."""
        if isinstance(payload, dict):
            payload = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        self.client.publish(topic, payload, qos=qos, retain=retain)

    def publish_state(self, state: dict[str, Any]) -> None:
        """Publish the room state retained (and remember it for reconnects)."""
        self._state = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
        if self._connected:
            self.client.publish(self.state_topic, self._state, qos=1, retain=True)

    # -- paho callbacks (paho's thread) ---------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._last_error = str(reason)
            log.warning("MQTT connect refused: %s", reason)
            return
        self._connected = True
        self._connects += 1
        log.info("MQTT connected to %s:%d", self.settings.host, self.settings.port)
        client.publish(self.availability_topic, b"online", qos=1, retain=True)
        if self._state is not None:
            client.publish(self.state_topic, self._state, qos=1, retain=True)
        for topic_filter, _ in self._handlers:
            client.subscribe(topic_filter, 1)
        if self._loop is not None:
            for hook in self._on_connect_hooks:
                self._loop.call_soon_threadsafe(hook)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self._connected and not self._stopping:
            log.warning("MQTT connection lost (%s); reconnecting", reason)
        self._connected = False
        self._last_error = str(reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._loop is None:
            return
        for topic_filter, handler in self._handlers:
            if message.retain and handler in self._live_only:
                continue
            if mqtt.topic_matches_sub(topic_filter, message.topic):
                self._loop.call_soon_threadsafe(self._deliver, handler, message.topic, bytes(message.payload))

    @staticmethod
    def _deliver(handler: MessageHandler, topic: str, payload: bytes) -> None:
        try:
            handler(topic, payload)
        except Exception:
            log.exception("MQTT handler for %s failed; message ignored", topic)
