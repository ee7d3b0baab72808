"""Installs the room's devices: the MQTT bus, the device registry, scenes, automation and HA discovery.

The bus publishes ``room.status`` retained; the registry follows every device's own topics; the scene engine
applies the scene of each session phase (``roomctl.session.events.PhaseChanged``); the automation runs the
espresso schedule and the empty-room switch-off; the screen and status part ``devices`` show every device.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from roomctl.booking.repository import BookingRepository
from roomctl.core.room import Room
from roomctl.devices.automation import RoomAutomation
from roomctl.devices.bus import MqttBus
from roomctl.devices.events import PresenceChanged
from roomctl.devices.ha_discovery import HomeAssistantDiscovery
from roomctl.devices.registry import DeviceRegistry
from roomctl.devices.scenes import SceneEngine
from roomctl.secrets import read_secret
from roomctl.session.events import PhaseChanged

log = logging.getLogger(__name__)

PUBLISH_INTERVAL = 0.2
"""Seconds over which device changes are gathered into one screen/status update (a flood stays one update)."""


class DevicesService:
    """The devices capability as a room service: ``room.service("devices")``.

    Attributes:
        registry: Every device and its state.
        engine: Scenes (``await engine.apply_scene(name)`` or ``engine.start_scene(name)``).
        automation: Espresso schedule and empty-room switch-off.
    """

    name = "devices"

    def __init__(self, room: Room, registry: DeviceRegistry, engine: SceneEngine, automation: RoomAutomation) -> None:
        self.room = room
        self.registry = registry
        self.engine = engine
        self.automation = automation
        self._pending: asyncio.TimerHandle | None = None

    async def apply_scene(self, name: str, *, source: str = "api") -> dict[str, Any]:
        """Apply scene ``name`` and wait for it (see :meth:`SceneEngine.apply_scene`)."""
        run = await self.engine.apply_scene(name, source=source)
        return run.as_dict()

    def part(self) -> dict[str, Any]:
        """The ``devices`` part of the screen and the room status."""
        run = self.engine.current
        return {"devices": self.registry.snapshot(), "scene": run.as_dict() if run else None}

    def schedule_publish(self) -> None:
        """Publish the ``devices`` part soon (changes within :data:`PUBLISH_INTERVAL` become one update)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.publish()
            return
        if self._pending is None:
            self._pending = loop.call_later(PUBLISH_INTERVAL, self.publish)

    def publish(self) -> None:
        """Publish the ``devices`` part now."""
        self._pending = None
        part = self.part()
        self.room.screen.set("devices", part)
        self.room.status.set("devices", part)

    async def start(self) -> None:
        """Start the automation's checks."""
        await self.automation.start()

    async def stop(self) -> None:
        """Stop the checks and pending updates."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        await self.automation.stop()


def _install_bus(room: Room) -> MqttBus | None:
    settings = room.settings
    if not settings.mqtt.enabled:
        log.info("MQTT disabled in the configuration: devices cannot be reached")
        return None
    bus = MqttBus(settings.mqtt, settings.room, password=read_secret("mqtt_password"))
    room.add_service(bus)
    room.health.register("mqtt", bus.health)

    def publish(snapshot: dict[str, Any]) -> None:
        state = {k: v for k, v in snapshot.items() if k != "version"}
        state["room"] = {"site": settings.room.site, "id": settings.room.id, "name": settings.room.name}
        state["updated_at"] = room.clock.now().isoformat()
        bus.publish_state(state)

    room.status.subscribe(publish)
    publish(room.status.snapshot())
    return bus


def install(room: Room) -> None:
    """Add the bus, the devices service, their health checks, and the phase and presence handlers."""
    settings = room.settings
    bus = _install_bus(room)
    client_id = settings.mqtt.client_id or f"roomctl-{settings.room.site}-{settings.room.id}"
    registry = DeviceRegistry(settings.devices, settings.scenes, room.clock, client_id=client_id, metrics=room.registry)
    engine = SceneEngine(registry, settings.scenes, room.clock, spawn=lambda coro: room.spawn(coro, name="scene"))
    engine.check()
    automation = RoomAutomation(
        registry, engine, settings.scenes, settings.room.tz, room.clock, bookings=BookingRepository(room.db)
    )
    service = DevicesService(room, registry, engine, automation)
    room.add_service(service)
    room.health.register("devices", registry.health)
    registry.on_change(service.schedule_publish)
    engine.on_change(service.schedule_publish)
    service.publish()
    if bus is not None:
        registry.attach(bus)
        if settings.scenes.home_assistant_discovery:
            HomeAssistantDiscovery(
                settings, bus, engine.names(), lambda name: engine.start_scene(name, source="home-assistant")
            )

    def phase_changed(event: PhaseChanged) -> None:
        name = event.scene or event.phase
        if name in settings.scenes.scenes:
            engine.start_scene(name, source=f"phase:{event.phase}")
        elif event.scene:
            log.warning("phase %s asks for scene %r, which is not configured", event.phase, event.scene)

    def presence_changed(event: PresenceChanged) -> None:
        automation.note_presence(event.present)

    room.on(PhaseChanged, phase_changed)
    room.on(PresenceChanged, presence_changed)
