"""A device simulator: every configured device, speaking its own firmware's topics through the broker.

Used by ``roomctl demo`` (in the roomctl process) and by tests; runs standalone too::

    python -m roomctl.devices.simulator --config /etc/roomctl/roomctl.toml

Each device answers commands the way its firmware does, after a configurable delay; it can be told to drop
its confirmations, to confirm the wrong state, or to go offline (and come back, reporting its state). Sensors
report a slowly wandering value every ``sensor_interval`` seconds. Availability is published retained, as the
real firmwares do with their last will.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from roomctl.config import Settings, load_settings
from roomctl.devices.bus import no_delay
from roomctl.devices.drivers import Emulation, MalformedPayloadError, make_emulation
from roomctl.devices.drivers.base import State
from roomctl.devices.settings import SENSOR_KINDS, DeviceSettings
from roomctl.devices.topics import TopicRouter
from roomctl.errors import AdapterError, NotFoundError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for the broker at start."""
DEFAULT_SENSOR_INTERVAL = 30.0
"""Seconds between two sensor reports."""
SENSOR_START: dict[str, float | bool] = {"co2": 480.0, "temperature": 20.5, "humidity": 45.0, "presence": False}
SENSOR_STEP = {"co2": 25.0, "temperature": 0.2, "humidity": 1.0}
SENSOR_LIMITS = {"co2": (400.0, 2000.0), "temperature": (16.0, 28.0), "humidity": (25.0, 70.0)}


@dataclass
class Behaviour:
    """How a simulated device misbehaves.

    Attributes:
        delay: Seconds between a command and the device's report.
        drop_confirmations: Act on commands but never report.
        wrong_state: Report the opposite of what was asked (on/off) or 0 (levels).
        offline: Ignore everything and show as offline.
    """

    delay: float = 0.0
    drop_confirmations: bool = False
    wrong_state: bool = False
    offline: bool = False


@dataclass
class SimulatedDevice:
    """One simulated device."""

    config: DeviceSettings
    emulation: Emulation
    behaviour: Behaviour
    state: State = field(default_factory=dict)
    commands: int = 0


def _initial_state(device: DeviceSettings) -> State:
    if device.kind in SENSOR_KINDS:
        return {"value": SENSOR_START[device.kind]}
    if device.kind == "blinds":
        return {"position": 100}
    if device.kind == "dimmer":
        return {"on": False, "brightness": 100}
    return {"on": False}


class DeviceSimulator:
    """Simulated devices on the broker of ``settings.mqtt``.

    Args:
        settings: Where the broker is.
        devices: The devices to simulate (default: ``settings.devices``).
        delay: The default answer delay in seconds.
        sensor_interval: Seconds between sensor reports.
        username: MQTT user (``None``: anonymous).
        password: MQTT password.
    """

    name = "device-simulator"

    def __init__(
        self,
        settings: Settings,
        devices: list[DeviceSettings] | None = None,
        *,
        delay: float = 0.0,
        sensor_interval: float = DEFAULT_SENSOR_INTERVAL,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.settings = settings
        self.sensor_interval = sensor_interval
        self.devices = {
            d.id: SimulatedDevice(d, make_emulation(d), Behaviour(delay=delay), _initial_state(d))
            for d in (settings.devices if devices is None else devices)
        }
        self._routes: TopicRouter[SimulatedDevice] = TopicRouter()
        for device in self.devices.values():
            for topic in device.emulation.command_topics():
                self._routes.add(topic, device)
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"roomctl-simulator-{settings.room.site}-{settings.room.id}",
            protocol=mqtt.MQTTv311,
        )
        if username:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(1, 2)
        self._client.on_connect = self._on_connect
        self._client.on_socket_open = lambda client, userdata, sock: no_delay(sock)
        self._client.on_message = self._on_message
        self._connected = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sensor_task: asyncio.Task[None] | None = None
        self._random = random.Random(7)  # noqa: S311 - simulated sensor noise, not security

    # -- control --------------------------------------------------------------------------------------------

    def device(self, device_id: str) -> SimulatedDevice:
        """The simulated device ``device_id``.

        Raises:
            NotFoundError: Not simulated here.
        """
        try:
            return self.devices[device_id]
        except KeyError:
            raise NotFoundError(f"the simulator has no device {device_id!r}") from None

    def behave(self, device_id: str, **changes: Any) -> None:
        """Change how a device behaves (``delay``, ``drop_confirmations``, ``wrong_state``, ``offline``)."""
        device = self.device(device_id)
        was_offline = device.behaviour.offline
        for key, value in changes.items():
            if not hasattr(device.behaviour, key):
                raise ValueError(f"unknown behaviour {key!r}")
            setattr(device.behaviour, key, value)
        if device.behaviour.offline != was_offline:
            self._publish(*device.emulation.availability(not device.behaviour.offline), retain=True)
            if not device.behaviour.offline:
                self._report(device)

    def set_sensor(self, device_id: str, value: float | bool) -> None:
        """Make a sensor report ``value`` now."""
        device = self.device(device_id)
        device.state = {"value": value}
        self._report(device)

    def publish_raw(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish anything (for tests of junk and floods)."""
        self._publish(topic, payload, retain=retain)

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, announce every device online and report its state.

        Raises:
            AdapterError: The broker cannot be reached.
        """
        self._loop = asyncio.get_running_loop()
        mqtt_settings = self.settings.mqtt
        try:
            self._client.connect_async(mqtt_settings.host, mqtt_settings.port, mqtt_settings.keepalive)
        except (OSError, ValueError) as exc:
            raise AdapterError(f"simulator cannot reach MQTT {mqtt_settings.host}:{mqtt_settings.port}: {exc}") from exc
        self._client.loop_start()
        if not await asyncio.to_thread(self._connected.wait, CONNECT_TIMEOUT):
            await self.stop()
            raise AdapterError(f"simulator: no MQTT broker at {mqtt_settings.host}:{mqtt_settings.port}")
        self._sensor_task = asyncio.create_task(self._sensors(), name="simulator-sensors")

    async def stop(self) -> None:
        """Announce every device offline and disconnect."""
        if self._sensor_task is not None:
            self._sensor_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sensor_task
            self._sensor_task = None
        if self._client.is_connected():
            infos = [
                self._client.publish(*d.emulation.availability(False), qos=1, retain=True)
                for d in self.devices.values()
            ]
            for info in infos:
                await asyncio.to_thread(info.wait_for_publish, 2.0)
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    # -- paho thread ----------------------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("simulator: broker refused the connection: %s", reason)
            return
        for topic in self._routes.filters():
            client.subscribe(topic, 1)
        for device in self.devices.values():
            client.publish(*device.emulation.availability(not device.behaviour.offline), qos=1, retain=True)
            if not device.behaviour.offline:
                for topic, payload in device.emulation.report(device.state):
                    client.publish(topic, payload, qos=1)
        self._connected.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._commands, message.topic, bytes(message.payload))

    # -- device behaviour (event loop) ----------------------------------------------------------------------

    def _commands(self, topic: str, payload: bytes) -> None:
        for device in self._routes.match(topic):
            self._command(device, topic, payload)

    def _command(self, device: SimulatedDevice, topic: str, payload: bytes) -> None:
        if device.behaviour.offline:
            return
        try:
            change = device.emulation.apply(topic, payload)
        except (MalformedPayloadError, KeyError, TypeError, ValueError) as exc:
            log.info("simulated %s ignores a malformed command: %s", device.config.id, exc)
            return
        if change is None:
            return
        device.commands += 1
        device.state = {**device.state, **change}
        if device.behaviour.drop_confirmations or not device.config.feedback:
            return
        reported = dict(device.state)
        if device.behaviour.wrong_state:
            reported = {k: (not v if isinstance(v, bool) else 0) for k, v in reported.items()}
        if self._loop is not None and device.behaviour.delay > 0:
            self._loop.call_later(device.behaviour.delay, self._send_report, device, reported)
        else:
            self._send_report(device, reported)

    def _send_report(self, device: SimulatedDevice, state: State) -> None:
        if device.behaviour.offline:
            return
        for topic, payload in device.emulation.report(state):
            self._publish(topic, payload)

    def _report(self, device: SimulatedDevice) -> None:
        if not device.behaviour.offline and device.config.feedback:
            self._send_report(device, device.state)

    def _publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain)

    async def _sensors(self) -> None:
        while True:
            await asyncio.sleep(self.sensor_interval)
            for device in self.devices.values():
                kind = device.config.kind
                if kind in SENSOR_STEP:
                    low, high = SENSOR_LIMITS[kind]
                    value = float(device.state["value"]) + self._random.uniform(-1, 1) * SENSOR_STEP[kind]
                    device.state = {"value": round(min(max(value, low), high), 1)}
                    self._report(device)


async def _run_standalone(settings: Settings, delay: float, sensor_interval: float) -> None:
    simulator = DeviceSimulator(settings, delay=delay, sensor_interval=sensor_interval)
    await simulator.start()
    log.info("simulating %d devices on %s:%d", len(simulator.devices), settings.mqtt.host, settings.mqtt.port)
    try:
        await asyncio.Event().wait()
    finally:
        await simulator.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the simulator for the devices of a configuration file until interrupted."""
    parser = argparse.ArgumentParser(description="Simulate the room's MQTT devices.")
    parser.add_argument("--config", type=Path, required=True, help="roomctl TOML with [[devices]] and [mqtt]")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds before a device answers")
    parser.add_argument("--sensor-interval", type=float, default=DEFAULT_SENSOR_INTERVAL)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(args.config)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_standalone(settings, args.delay, args.sensor_interval))


if __name__ == "__main__":
    main()
