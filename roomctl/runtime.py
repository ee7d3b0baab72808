"""Putting a room together: settings → database → room core → MQTT bus → capabilities → HTTP app.

The capabilities are the modules in :data:`CAPABILITIES`, in start order. Each is a capability's
``capability`` module and exports three things:

- ``install(room, bus)``: registers its services, event handlers, health checks and the screen and status
  parts it owns; ``bus`` is the room's MQTT link (``None`` when MQTT is off), passed in rather than found;
- ``router``: its FastAPI routes (or ``None``), mounted under :data:`API_PREFIX`;
- ``MIGRATIONS``: its named schema migrations, applied in this list's order after the core's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from roomctl.access import capability as access
from roomctl.booking import capability as booking
from roomctl.config import Settings
from roomctl.core.clock import Clock
from roomctl.core.room import Room
from roomctl.devices import capability as devices
from roomctl.devices.bus import MqttBus
from roomctl.facilities import capability as facilities
from roomctl.ops import capability as ops
from roomctl.proposal import capability as proposal
from roomctl.secrets import read_secret
from roomctl.session import capability as session
from roomctl.speech import capability as speech
from roomctl.store import open_database
from roomctl.trajectory import capability as trajectory

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
"""Where every capability's routes are mounted."""

CAPABILITIES: tuple[ModuleType, ...] = (
    devices, booking, access, session, speech, proposal, facilities, trajectory, ops,
)
"""The capability modules, in start order."""


def capability_name(module: ModuleType) -> str:
    """``roomctl.booking.capability`` → ``booking``."""
    return module.__name__.split(".")[1]


def make_bus(room: Room) -> MqttBus | None:
    """The room's MQTT link, publishing the room status retained (``None`` when MQTT is switched off)."""
    settings = room.settings
    if not settings.mqtt.enabled:
        log.info("MQTT disabled in the configuration: devices and other rooms cannot be reached")
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


def install_capabilities(room: Room, capabilities: Iterable[ModuleType] = CAPABILITIES) -> MqttBus | None:
    """Make the bus and install ``capabilities`` into ``room`` in order; returns the bus."""
    room_part = room.screen.claim("room", owner="core")
    settings = room.settings.room
    room_part.set({"name": settings.name, "id": settings.id, "language": settings.language, "timezone": settings.timezone})
    bus = make_bus(room)
    for capability in capabilities:
        capability.install(room, bus)
    return bus


def build_room(settings: Settings, clock: Clock | None = None) -> Room:
    """Open the database (running migrations) and build the room with every capability installed."""
    db = open_database(settings.storage.database_path)
    room = Room(settings, db, clock)
    install_capabilities(room)
    return room
