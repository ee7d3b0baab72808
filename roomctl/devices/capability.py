"""Installs the room's MQTT bus: availability, the retained room state, health."""

from __future__ import annotations

import logging
from typing import Any

from roomctl.core.room import Room
from roomctl.devices.bus import MqttBus
from roomctl.secrets import read_secret

log = logging.getLogger(__name__)


def install(room: Room) -> None:
    """Add the MQTT bus service (if enabled) and publish ``room.status`` on every change."""
    settings = room.settings
    if not settings.mqtt.enabled:
        log.info("MQTT disabled in the configuration")
        return
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

