"""Installs facilities: site view, ``next_booking``/``heartbeat`` status parts, alerts, figures on /metrics."""

from __future__ import annotations

from roomctl.core.room import Room
from roomctl.facilities.metrics import FacilitiesCollector
from roomctl.facilities.service import FacilitiesService


def install(room: Room) -> None:
    """Add the ``facilities`` service, its webhook health (if a webhook is set) and the metrics collector."""
    service = FacilitiesService(room)
    room.add_service(service)
    service.install()
    if service.webhook is not None:
        room.health.register("alert_webhook", service.webhook.health, critical=False)
    room.registry.register(FacilitiesCollector(service))
