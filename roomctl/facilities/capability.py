"""The facilities capability: site view, the ``heartbeat`` status part, alerts, figures on /metrics.

Exports what :mod:`roomctl.runtime` wires: :func:`install`, :data:`router` and :data:`MIGRATIONS`.
"""

from __future__ import annotations

from roomctl.core.room import Room
from roomctl.devices.bus import MqttBus
from roomctl.facilities.api import router
from roomctl.facilities.metrics import FacilitiesCollector
from roomctl.facilities.schema import MIGRATIONS
from roomctl.facilities.service import FacilitiesService

__all__ = ["MIGRATIONS", "install", "router"]


def install(room: Room, bus: MqttBus | None) -> None:
    """Add the facilities service (following other rooms over ``bus``), its webhook health and the metrics."""
    service = FacilitiesService(room, bus)
    room.add_service(service)
    service.install()
    if service.webhook is not None:
        room.health.register("alert_webhook", service.webhook.health, critical=False)
    room.registry.register(FacilitiesCollector(service))
