"""The access capability: readers, the door, decisions and the audit trail.

Exports what :mod:`roomctl.runtime` wires: :func:`install`, :data:`router` and :data:`MIGRATIONS`.
"""

from __future__ import annotations

from roomctl.access.api import router
from roomctl.access.schema import MIGRATIONS
from roomctl.access.service import AccessService
from roomctl.core.room import Room
from roomctl.devices.bus import MqttBus

__all__ = ["MIGRATIONS", "install", "router"]


def install(room: Room, bus: MqttBus | None) -> None:
    """Add the access service (an ESPHome reader listens on ``bus``), the door's health check and the reader's."""
    service = AccessService(room, bus)
    room.add_service(service)
    room.health.register("door", service.health, critical=True)
    room.health.register("reader", service.reader_health)
