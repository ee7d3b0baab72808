"""Installs door access: the door service, its health, the audit trail's schema."""

from __future__ import annotations

from roomctl.access.service import AccessService
from roomctl.core.room import Room


def install(room: Room) -> None:
    """Add the access service, the door's (critical) health check and the reader's."""
    service = AccessService(room)
    room.add_service(service)
    room.health.register("door", service.health, critical=True)
    room.health.register("reader", service.reader_health)
