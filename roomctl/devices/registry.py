"""The room's devices at run time: what each reported, whether it is online, and commands that wait for proof.

A command counts as done when the device reports the new state. Without that report within the timeout it is
sent again, and after the last try it is reported as failed; the wanted state is kept, so a device that comes
back (or a broker that restarts) gets it again and the command completes then. A device without feedback is
shown as ``assumed``: roomctl sends and believes. Payloads that break a firmware's convention are logged (not
too often) and ignored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from roomctl.core.clock import Clock
from roomctl.core.health import ComponentHealth
from roomctl.devices.drivers import Driver, MalformedPayloadError, make_driver
from roomctl.devices.drivers.base import State
from roomctl.devices.settings import KIND_TARGET_KEYS, SENSOR_KINDS, DeviceSettings, ScenesSettings
from roomctl.errors import NotFoundError, ValidationError

log = logging.getLogger(__name__)

MALFORMED_LOG_INTERVAL = 60.0
"""Seconds between two log lines about malformed payloads from the same device (floods stay quiet)."""

CommandStatus = Literal["idle", "pending", "confirmed", "failed", "assumed"]


class Bus(Protocol):
    """What the registry needs from :class:`roomctl.devices.bus.MqttBus`."""

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        ...

    def subscribe(self, topic_filter: str, handler: Callable[[str, bytes], None], qos: int = 1) -> None:
        """Call ``handler(topic, payload)`` on the loop for matching messages."""
        ...

    def publish(self, topic: str, payload: Any, *, qos: int = 1, retain: bool = False) -> None:
        """Publish a message."""
        ...

    def on_connected(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` after every (re)connect."""
        ...


@dataclass
class Device:
    """One device's configuration, driver and latest known state."""

    config: DeviceSettings
    driver: Driver
    state: State = field(default_factory=dict)
    online: bool | None = None
    last_seen: datetime | None = None
    desired: State | None = None
    command: CommandStatus = "idle"
    detail: str = ""
    generation: int = 0
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)
    malformed: int = 0
    malformed_logged_at: float = float("-inf")

    @property
    def availability(self) -> str:
        """``online``, ``offline``, ``assumed`` (no feedback) or ``unknown`` (never heard)."""
        if not self.config.feedback:
            return "assumed"
        if self.online is None:
            return "unknown" if self.last_seen is None else "online"
        return "online" if self.online else "offline"

    def as_dict(self) -> dict[str, Any]:
        """The device as shown on screens, in the room state and the API."""
        return {
            "id": self.config.id,
            "name": self.config.name,
            "kind": self.config.kind,
            "driver": self.config.driver,
            "state": dict(self.state),
            "availability": self.availability,
            "last_seen": self.last_seen.isoformat(timespec="seconds") if self.last_seen else None,
            "command": self.command,
            "desired": dict(self.desired) if self.desired else None,
            "detail": self.detail,
        }


class DeviceRegistry:
    """Every device of the room, fed by the bus.

    Args:
        devices: The ``[[devices]]`` entries.
        scenes: The ``[scenes]`` section (timeouts and retries).
        clock: For ``last_seen``.
        client_id: roomctl's MQTT identity (Shelly RPC ``src``).
        metrics: Where to register Prometheus metrics (``None``: a private registry).
    """

    def __init__(
        self,
        devices: list[DeviceSettings],
        scenes: ScenesSettings,
        clock: Clock,
        *,
        client_id: str = "roomctl",
        metrics: CollectorRegistry | None = None,
    ) -> None:
        seen: set[str] = set()
        for device in devices:
            if device.id in seen:
                raise ValidationError(f"device id {device.id!r} is used twice in [[devices]]")
            seen.add(device.id)
        self.devices: dict[str, Device] = {d.id: Device(d, make_driver(d, client_id)) for d in devices}
        self.settings = scenes
        self.clock = clock
        self.bus: Bus | None = None
        self._change_listeners: list[Callable[[], None]] = []
        self._confirm_listeners: list[Callable[[str], None]] = []
        registry = metrics if metrics is not None else CollectorRegistry()
        self._commands = Counter(
            "roomctl_device_commands_total", "Device commands by outcome", ["outcome"], registry=registry
        )
        self._malformed = Counter(
            "roomctl_device_malformed_payloads_total", "Payloads ignored as malformed", ["device"], registry=registry
        )
        self._latency = Histogram(
            "roomctl_device_confirm_seconds", "Time from command to confirmed state", registry=registry
        )

    # -- wiring ---------------------------------------------------------------------------------------------

    def attach(self, bus: Bus) -> None:
        """Subscribe to every device's topics and re-send unconfirmed commands after each reconnect."""
        self.bus = bus
        for device in self.devices.values():
            for topic in device.driver.subscriptions():
                bus.subscribe(topic, self._handler_for(device))
        bus.on_connected(self.resend_pending)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after a device's state, availability or command status changed."""
        self._change_listeners.append(listener)

    def on_confirmed(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(device_id)`` when a device confirmed (or, without feedback, was sent) its target."""
        self._confirm_listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._change_listeners):
            try:
                listener()
            except Exception:
                log.exception("device change listener failed")

    def _confirm(self, device: Device) -> None:
        for listener in list(self._confirm_listeners):
            try:
                listener(device.config.id)
            except Exception:
                log.exception("device confirmation listener failed")

    # -- reading --------------------------------------------------------------------------------------------

    def get(self, device_id: str) -> Device:
        """The device ``device_id``.

        Raises:
            NotFoundError: No such device.
        """
        try:
            return self.devices[device_id]
        except KeyError:
            raise NotFoundError(f"there is no device {device_id!r}; see GET /api/v1/devices") from None

    def snapshot(self) -> list[dict[str, Any]]:
        """Every device as a dict, in configuration order."""
        return [d.as_dict() for d in self.devices.values()]

    def health(self) -> ComponentHealth:
        """Degraded while a device with feedback is offline or a command is unconfirmed."""
        offline = [d.config.name for d in self.devices.values() if d.availability == "offline"]
        failed = [d.config.name for d in self.devices.values() if d.command == "failed"]
        if not offline and not failed:
            return ComponentHealth("ok", f"{len(self.devices)} devices")
        parts = []
        if offline:
            parts.append(f"offline: {', '.join(offline)} (check power and Wi-Fi/Zigbee)")
        if failed:
            parts.append(f"not confirming: {', '.join(failed)}")
        return ComponentHealth("degraded", "; ".join(parts))

    # -- incoming -------------------------------------------------------------------------------------------

    def _handler_for(self, device: Device) -> Callable[[str, bytes], None]:
        def handle(topic: str, payload: bytes) -> None:
            self.handle(device, topic, payload)

        return handle

    def handle(self, device: Device, topic: str, payload: bytes) -> None:
        """Apply one message about ``device`` (malformed ones are counted, logged now and then, and ignored)."""
        try:
            decoded = device.driver.decode(topic, payload)
        except (MalformedPayloadError, KeyError, TypeError, ValueError) as exc:
            self._note_malformed(device, topic, payload, exc)
            return
        if decoded is None:
            return
        changed = False
        came_online = False
        if decoded.online is not None and decoded.online != device.online:
            came_online = decoded.online and device.online is False
            device.online = decoded.online
            log.info("device %s is %s", device.config.id, "online" if decoded.online else "offline")
            changed = True
        if decoded.state:
            now = self.clock.now()
            if device.last_seen is None or (now - device.last_seen).total_seconds() >= 1:
                changed = True
            device.last_seen = now
            if device.online is None:
                device.online = True
            merged = {**device.state, **decoded.state}
            if merged != device.state:
                device.state = merged
                changed = True
            if device.desired is not None and device.driver.matches(device.state, device.desired):
                self._mark_confirmed(device)
                changed = True
        if came_online and device.desired is not None:
            self._send(device, device.desired)
        if changed:
            self._changed()

    def _note_malformed(self, device: Device, topic: str, payload: bytes, exc: Exception) -> None:
        device.malformed += 1
        self._malformed.labels(device.config.id).inc()
        now = asyncio.get_running_loop().time()
        if now - device.malformed_logged_at >= MALFORMED_LOG_INTERVAL:
            device.malformed_logged_at = now
            log.warning(
                "ignoring malformed payload from %s on %s (%r...): %s (%d so far)",
                device.config.id, topic, payload[:40], exc, device.malformed,
            )

    def _mark_confirmed(self, device: Device) -> None:
        if device.command in ("pending", "failed"):
            self._commands.labels("confirmed").inc()
        device.desired = None
        device.command = "confirmed"
        device.detail = ""
        device.confirmed.set()
        self._confirm(device)

    # -- outgoing -------------------------------------------------------------------------------------------

    def validate(self, device: Device, target: State) -> None:
        """Check that ``device`` can take ``target``.

        Raises:
            ValidationError: A sensor, or a key the kind does not have.
        """
        if device.config.kind in SENSOR_KINDS:
            raise ValidationError(f"{device.config.id} is a sensor; it takes no commands")
        allowed = KIND_TARGET_KEYS[device.config.kind]
        extra = set(target) - allowed
        if extra or not target:
            got = ", ".join(sorted(target)) or "nothing"
            raise ValidationError(f"a {device.config.kind} takes {', '.join(sorted(allowed))}; got {got}")

    def _send(self, device: Device, target: State) -> None:
        if self.bus is None:
            return
        for topic, payload in device.driver.encode(target):
            self.bus.publish(topic, payload, qos=1)

    def resend_pending(self) -> None:
        """Send every unconfirmed target again (after the broker came back)."""
        for device in self.devices.values():
            if device.desired is not None and device.config.feedback and device.online is not False:
                self._send(device, device.desired)

    async def command(self, device_id: str, target: State) -> Device:
        """Send ``target`` and wait until the device confirms it, retrying; return the device afterwards.

        The result is in ``device.command``: ``confirmed``, ``assumed`` (no feedback), ``failed`` (the target is
        kept and sent again when the device returns) or ``pending`` when a newer command took over.

        Raises:
            NotFoundError: No such device.
            ValidationError: The device cannot take this target.
        """
        device = self.get(device_id)
        self.validate(device, target)
        device.generation += 1
        generation = device.generation
        if not device.config.feedback:
            self._send(device, target)
            device.state = {**device.state, **target}
            device.command, device.desired, device.detail = "assumed", None, ""
            self._commands.labels("assumed").inc()
            self._confirm(device)
            self._changed()
            return device
        if device.driver.matches(device.state, target) and device.online is not False:
            device.desired = target
            self._send(device, target)  # cheap insurance: the device may have changed without telling
            self._mark_confirmed(device)
            self._changed()
            return device
        device.desired = target
        device.command, device.detail = "pending", ""
        device.confirmed = asyncio.Event()
        confirmed = device.confirmed
        self._changed()
        started = asyncio.get_running_loop().time()
        tries = self.settings.command_retries + 1
        for attempt in range(tries):
            if device.online is not False:
                self._send(device, target)
            try:
                async with asyncio.timeout(self.settings.command_timeout_seconds):
                    await confirmed.wait()
            except TimeoutError:
                if device.generation != generation:
                    return device
                log.info("device %s did not confirm %s (try %d of %d)", device_id, target, attempt + 1, tries)
                continue
            self._latency.observe(asyncio.get_running_loop().time() - started)
            return device
        if device.generation == generation:
            device.command = "failed"
            device.detail = self._failure_detail(device, target)
            self._commands.labels("failed").inc()
            log.warning("device %s: %s", device_id, device.detail)
            self._changed()
        return device

    def _failure_detail(self, device: Device, target: State) -> str:
        tries = self.settings.command_retries + 1
        if device.online is False:
            return f"offline; {target} is sent again when it returns"
        if device.state:
            return f"did not confirm {target} after {tries} tries; it reports {device.state}"
        return f"did not answer {target} after {tries} tries"
