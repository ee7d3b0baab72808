"""The room's MQTT connection (paho-mqtt): availability, retained room state, subscriptions.

The connection is driven from the event loop, the way Home Assistant's MQTT client does it: paho's network
thread only reads and writes the socket and hands every event (CONNACK, disconnect, SUBACK, message) to the loop
with ``call_soon_threadsafe``; it never decides anything and paho's own reconnect is off. On the loop, one task
connects, and on every (re)connect it first subscribes again to every filter and waits for the broker's SUBACK,
and only then publishes ``online`` (retained; the last will says ``offline``), the latest room state, and calls
the ``on_connected`` hooks. A broker that refuses the credentials (CONNACK "bad user name or password" or "not
authorized") is not asked again: the bus stays down with a health sentence saying what to fix. Every other
failure is retried with a doubling, bounded backoff while health says ``degraded`` and when the next try is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from roomctl.config import ENV_PREFIX, MqttSettings, RoomSettings
from roomctl.core.health import ComponentHealth
from roomctl.devices.topics import TopicRouter, check_filter
from roomctl.errors import AdapterError

log = logging.getLogger(__name__)

RECONNECT_MIN_DELAY = 1.0
"""Seconds before the first reconnect attempt; the wait doubles after every failed attempt."""
RECONNECT_MAX_DELAY = 30.0
"""Longest wait between reconnect attempts."""
CONNACK_TIMEOUT = 10.0
"""Seconds to wait for the broker's answer to CONNECT before the attempt counts as failed."""
SUBACK_TIMEOUT = 10.0
"""Seconds to wait for the broker to acknowledge the subscriptions before the connection is dropped and retried."""
DISCONNECT_TIMEOUT = 2.0
"""Seconds to wait for the ``offline`` message to leave before disconnecting."""
AUTH_REFUSALS = frozenset({134, 135, 140})
"""CONNACK reason codes that retrying cannot fix: bad user name or password, not authorized, bad auth method
(MQTT 5 codes; paho maps the 3.1.1 return codes 4 and 5 onto 134 and 135)."""
PASSWORD_SECRET = f"{ENV_PREFIX}MQTT_PASSWORD"
"""Where the MQTT password comes from (or the systemd credential ``mqtt_password``)."""

MessageHandler = Callable[[str, bytes], None]
Phase = Literal["idle", "connecting", "subscribing", "online", "reconnecting", "refused", "stopped"]


class ConnectionLostError(AdapterError, ConnectionError):
    """The broker connection ended while the bus waited for an acknowledgement."""


def room_topic(mqtt_settings: MqttSettings, room: RoomSettings, leaf: str) -> str:
    """``<base>/<site>/<room>/<leaf>``."""
    return f"{mqtt_settings.base_topic}/{room.site}/{room.id}/{leaf}"


def no_delay(sock: Any) -> None:
    """Switch Nagle's algorithm off on an MQTT socket (paho leaves it on).

    With it on, a small publish waits for the peer's delayed ACK (40 ms on Linux) whenever an earlier one is
    still unacknowledged: a scene's commands and their confirmations queued behind each other that way.
    """
    raw = getattr(sock, "_socket", sock)  # paho's websocket wrapper keeps the socket inside
    with contextlib.suppress(AttributeError, OSError):
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def reconnect_delay(failures: int) -> float:
    """Seconds to wait after ``failures`` failed attempts in a row (doubling from the minimum, bounded)."""
    return float(min(RECONNECT_MIN_DELAY * 2 ** max(failures - 1, 0), RECONNECT_MAX_DELAY))


class MqttBus:
    """One paho client for the room, driven from the event loop.

    Args:
        settings: The ``[mqtt]`` section.
        room: The ``[room]`` section (for topics and client id).
        password: The MQTT password (from the environment or a credential), if any.

    Attributes:
        name: The service name (``mqtt``).
    """

    def __init__(self, settings: MqttSettings, room: RoomSettings, *, password: str | None = None) -> None:
        self.name = "mqtt"
        self.settings = settings
        self.availability_topic = room_topic(settings, room, "availability")
        self.state_topic = room_topic(settings, room, "state")
        self._client_id = settings.client_id or f"roomctl-{room.site}-{room.id}"
        self._password = password
        self._handlers: TopicRouter[MessageHandler] = TopicRouter()
        self._live_only: set[MessageHandler] = set()  # handlers that never get retained messages
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._connecting: asyncio.Future[Any] | None = None
        self._events: asyncio.Queue[tuple[str, ReasonCode | str]] | None = None
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._state: bytes | None = None
        self._phase: Phase = "idle"
        self._session_up = False
        self._connects = 0
        self._attempts = 0
        self._retry_in = 0.0
        self._last_error = "not connected yet"
        self._refusal = ""
        self._on_connect_hooks: list[Callable[[], None]] = []
        self.client = self._make_client()

    # -- setup ----------------------------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        client.will_set(self.availability_topic, b"offline", qos=1, retain=True)
        if self.settings.username:
            client.username_pw_set(self.settings.username, self._password)
        if self.settings.tls:
            ca = str(self.settings.ca_file) if self.settings.ca_file else None
            client.tls_set(ca_certs=ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    @property
    def connected(self) -> bool:
        """True once the bus is subscribed and has said ``online``, until the connection ends."""
        return self._phase == "online"

    @property
    def phase(self) -> Phase:
        """Where the connection is: connecting, subscribing, online, reconnecting, refused, stopped."""
        return self._phase

    @property
    def connects(self) -> int:
        """How many times the bus has come online (1 + reconnects)."""
        return self._connects

    @property
    def attempts(self) -> int:
        """How many times the bus has tried to connect."""
        return self._attempts

    def health(self) -> ComponentHealth:
        """``ok`` online; ``down`` when the broker refused the credentials; otherwise ``degraded``.

        The component is not critical: the door works without the broker.
        """
        where = f"{self.settings.host}:{self.settings.port}"
        if self._phase == "online":
            return ComponentHealth("ok", f"connected to {where}")
        if self._phase == "refused":
            return ComponentHealth("down", self._refusal)
        if self._phase == "reconnecting":
            state = f"reconnecting in {self._retry_in:g} s, attempt {self._attempts + 1}"
        elif self._attempts > 1:
            state = f"reconnecting, attempt {self._attempts}"
        else:
            state = self._phase
        return ComponentHealth(
            "degraded",
            f"no MQTT broker at {where} ({self._last_error}; {state}); "
            "devices and other rooms do not hear this room until it is back",
        )

    def on_connected(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` on the event loop after every (re)connect, once subscribed and ``online``."""
        self._on_connect_hooks.append(hook)

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background; the bus keeps reconnecting until :meth:`stop`."""
        self._loop = asyncio.get_running_loop()
        self._events = asyncio.Queue()
        self._task = self._loop.create_task(self._run(), name="mqtt-connection")

    async def stop(self) -> None:
        """Publish ``offline`` and disconnect cleanly (the last will is for unclean ends)."""
        if self._phase == "online":
            info = self.client.publish(self.availability_topic, b"offline", qos=1, retain=True)
            await asyncio.to_thread(info.wait_for_publish, DISCONNECT_TIMEOUT)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._connecting is not None and not self._connecting.done():  # let paho's connect finish, then close
            with contextlib.suppress(OSError, ValueError):
                await self._connecting
        self._phase = "stopped"
        self._session_up = False
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)

    # -- the connection, on the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                was_online = await self._session()
            except Exception as exc:  # a bug here must not end the reconnecting for good
                log.exception("MQTT connection handling failed; retrying")
                self._last_error = f"internal error: {exc}"
                was_online = False
            if self._phase == "refused":
                return
            failures = 1 if was_online else failures + 1
            self._retry_in = reconnect_delay(failures)
            self._phase = "reconnecting"
            await asyncio.sleep(self._retry_in)

    async def _session(self) -> bool:
        """Connect once and serve the connection until it ends; True if it got ``online``."""
        assert self._events is not None
        self._phase = "connecting"
        self._attempts += 1
        self._connecting = asyncio.ensure_future(
            asyncio.to_thread(self.client.connect, self.settings.host, self.settings.port, self.settings.keepalive)
        )
        try:
            await asyncio.shield(self._connecting)
        except (OSError, ValueError) as exc:
            self._last_error = str(exc) or type(exc).__name__
            log.debug("MQTT connect to %s:%d failed: %s", self.settings.host, self.settings.port, exc)
            return False
        no_delay(self.client.socket())
        self.client.loop_start()
        was_online = False
        try:
            try:
                async with asyncio.timeout(CONNACK_TIMEOUT):
                    kind, reason = await self._events.get()
            except TimeoutError:
                self._last_error = f"no CONNACK within {CONNACK_TIMEOUT:g} s"
                return False
            if kind != "connack":
                self._last_error = str(reason)
                return False
            assert isinstance(reason, ReasonCode)
            if reason.is_failure:
                self._refused_or_failed(reason)
                return False
            was_online = await self._go_online()
            while kind != "lost":
                kind, reason = await self._events.get()
            self._last_error = f"connection lost: {reason}"
            log.warning(
                "MQTT connection to %s:%d lost (%s); reconnecting", self.settings.host, self.settings.port, reason
            )
            return was_online
        finally:
            await self._end_session()

    def _refused_or_failed(self, reason: ReasonCode) -> None:
        where = f"{self.settings.host}:{self.settings.port}"
        if reason.value not in AUTH_REFUSALS:
            self._last_error = f"connection refused: {reason}"
            log.warning("MQTT broker %s refused the connection: %s", where, reason)
            return
        user = self.settings.username
        fix = f"[mqtt] username and the password ({PASSWORD_SECRET} or the credential mqtt_password)"
        if user:
            what = f"refused the credentials for user {user!r} ({reason}); fix"
        else:
            what = f"refused this room without credentials ({reason}); set"
        self._refusal = f"the broker at {where} {what} {fix}, then restart roomctl"
        self._phase = "refused"
        log.error("MQTT: %s; not retrying", self._refusal)

    async def _go_online(self) -> bool:
        """Subscribe again to every filter, wait for the SUBACK, then say ``online`` and run the hooks."""
        self._session_up = True
        self._phase = "subscribing"
        filters = self._handlers.filters()
        if filters:
            result, mid = self.client.subscribe([(topic_filter, 1) for topic_filter in filters])
            if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
                self._last_error = f"subscribe failed: {mqtt.error_string(result)}"
                self.client.disconnect()  # ends the session: the loss event comes and the bus tries again
                return False
            try:
                await self._wait_for_ack(mid, SUBACK_TIMEOUT)
            except (TimeoutError, ConnectionLostError) as exc:
                self._last_error = f"no SUBACK: {exc or 'timeout'}"
                log.warning("MQTT broker did not acknowledge the subscriptions (%s); reconnecting", self._last_error)
                self.client.disconnect()
                return False
        self.client.publish(self.availability_topic, b"online", qos=1, retain=True)
        if self._state is not None:
            self.client.publish(self.state_topic, self._state, qos=1, retain=True)
        self._phase = "online"
        self._connects += 1
        log.info("MQTT online at %s:%d (%d subscriptions)", self.settings.host, self.settings.port, len(filters))
        for hook in list(self._on_connect_hooks):
            try:
                hook()
            except Exception:
                log.exception("MQTT on_connected hook %r failed", hook)
        return True

    async def _wait_for_ack(self, mid: int, timeout: float) -> None:
        assert self._loop is not None
        future = self._acks.setdefault(mid, self._loop.create_future())
        try:
            async with asyncio.timeout(timeout):
                await future
        finally:
            self._acks.pop(mid, None)

    async def _end_session(self) -> None:
        """Close the connection, stop paho's thread and drop the events the connection left behind."""
        assert self._events is not None
        self._session_up = False
        if self._phase in ("online", "subscribing"):
            self._phase = "connecting"
        for future in self._acks.values():
            if not future.done():
                future.set_exception(ConnectionLostError("the connection ended"))
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)
        # every hand-over paho made before its thread ended has run by now (the loop runs callbacks in order)
        while not self._events.empty():
            self._events.get_nowait()

    # -- use ------------------------------------------------------------------------------------------------

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 1, *, retained: bool = True) -> None:
        """Call ``handler(topic, payload)`` on the event loop for every message matching ``topic_filter``.

        ``retained=False`` skips retained messages (a badge tag kept by the broker is not a tap now).

        Raises:
            ValidationError: ``topic_filter`` is not a valid MQTT topic filter.
        """
        check_filter(topic_filter)
        if not retained:
            self._live_only.add(handler)
        self._handlers.add(topic_filter, handler)
        if self._session_up:
            self.client.subscribe(topic_filter, qos)

    def publish(self, topic: str, payload: bytes | str | dict[str, Any], *, qos: int = 1, retain: bool = False) -> None:
        """Publish; while disconnected paho queues QoS>0 messages until the connection is back."""
        if isinstance(payload, dict):
            payload = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        self.client.publish(topic, payload, qos=qos, retain=retain)

    def publish_state(self, state: dict[str, Any]) -> None:
        """Publish the room state retained (and remember it for reconnects)."""
        self._state = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
        if self._phase == "online":
            self.client.publish(self.state_topic, self._state, qos=1, retain=True)

    # -- events handed over from paho's thread, handled on the loop -----------------------------------------

    def _handle_event(self, kind: str, reason: ReasonCode | str) -> None:
        if kind == "lost":
            self._session_up = False
            for future in self._acks.values():
                if not future.done():
                    future.set_exception(ConnectionLostError(str(reason)))
        if self._events is not None:
            self._events.put_nowait((kind, reason))

    def _handle_suback(self, mid: int, reasons: list[ReasonCode]) -> None:
        for reason in reasons:
            if reason.is_failure:
                log.warning("MQTT broker refused a subscription (mid %d): %s", mid, reason)
        if self._loop is None:
            return
        future = self._acks.setdefault(mid, self._loop.create_future())
        if not future.done():
            future.set_result(None)

    def _dispatch(self, topic: str, payload: bytes, retained: bool = False) -> None:
        for handler in self._handlers.match(topic):
            if retained and handler in self._live_only:
                continue
            try:
                handler(topic, payload)
            except Exception:
                log.exception("MQTT handler for %s failed; message ignored", topic)

    # -- paho callbacks (paho's thread): hand over, nothing else --------------------------------------------

    def _hand_over(self, callback: Callable[..., None], *args: Any) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed while paho was still delivering
            self._loop.call_soon_threadsafe(callback, *args)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any) -> None:
        self._hand_over(self._handle_event, "connack", reason)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        self._hand_over(self._handle_event, "lost", reason)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], properties: Any
    ) -> None:
        self._hand_over(self._handle_suback, mid, list(reasons))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._hand_over(self._dispatch, message.topic, bytes(message.payload), bool(message.retain))
