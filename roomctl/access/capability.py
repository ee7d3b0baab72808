"""Installs door access: the door service, its health, the audit trail's schema."""

from __future__ import annotations

from roomctl.access.service import AccessService
from roomctl.core.room import Room


def install(room: Room) -> None:
    """Add the access service and its (critical) health check."""
    service = AccessService(room)
    room.add_service(service)
    room.health.register("door", service.health, critical=True)
