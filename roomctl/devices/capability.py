"""The devices capability: the device registry, scenes, automation and HA discovery over the room's MQTT bus.

The registry follows every device's own topics; the scene engine applies the scene of each session phase
(``roomctl.session.events.PhaseChanged``); the automation runs the espresso schedule and the empty-room
switch-off; the screen and status part ``devices`` show every device. The bus itself is made by
:mod:`roomctl.runtime` and passed in.

Exports what :mod:`roomctl.runtime` wires: :func:`install`, :data:`router` and :data:`MIGRATIONS` (none).
"""

from __future__ import annotations

import logging

from roomctl.booking.repository import BookingRepository
from roomctl.core.room import Room
from roomctl.devices.api import router
from roomctl.devices.automation import RoomAutomation
from roomctl.devices.bus import MqttBus
from roomctl.devices.events import PresenceChanged
from roomctl.devices.ha_discovery import HomeAssistantDiscovery
from roomctl.devices.registry import DeviceRegistry
from roomctl.devices.scenes import SceneEngine
from roomctl.devices.service import DevicesService
from roomctl.session.events import PhaseChanged
from roomctl.store.migrations import Migration

__all__ = ["MIGRATIONS", "install", "router"]

log = logging.getLogger(__name__)

MIGRATIONS: list[Migration] = []
"""The devices keep no tables: their state lives in the registry and on the bus."""


def install(room: Room, bus: MqttBus | None) -> None:
    """Add the devices service, its health check, and the phase and presence handlers (``bus``: the room's MQTT link)."""
    settings = room.settings
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
