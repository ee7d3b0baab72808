"""Home Assistant MQTT discovery for the room: occupancy, session phase, door, scene select and alarms.

Every entity reads the room's retained state (``roomctl/<site>/<room>/state``) with a template that tolerates
a missing part, and shares the room's availability topic. The configs are published retained on every
(re)connect under ``<discovery_prefix>/<component>/roomctl_<site>_<room>/<object>/config``. The scene select
commands ``roomctl/<site>/<room>/scene/set`` with a scene name.

State parts the templates read: ``occupancy.occupied`` (bool), ``session.phase`` (str), ``door.open`` (bool),
``alarms.active`` (list), ``devices.scene.name`` (str).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from roomctl.config import Settings
from roomctl.devices.bus import room_topic
from roomctl.devices.registry import Bus

log = logging.getLogger(__name__)

MAX_SCENE_NAME = 64


def node_id(settings: Settings) -> str:
    """``roomctl_<site>_<room>`` (Home Assistant's node id: letters, digits, _ and -)."""
    return f"roomctl_{settings.room.site}_{settings.room.id}".replace("-", "_")


def scene_command_topic(settings: Settings) -> str:
    """Where Home Assistant's scene select publishes the chosen scene."""
    return room_topic(settings.mqtt, settings.room, "scene/set")


def discovery_messages(settings: Settings, scene_names: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The retained discovery configs: ``[(topic, config)]``."""
    node = node_id(settings)
    state_topic = room_topic(settings.mqtt, settings.room, "state")
    base: dict[str, Any] = {
        "state_topic": state_topic,
        "availability_topic": room_topic(settings.mqtt, settings.room, "availability"),
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {
            "identifiers": [node],
            "name": settings.room.name,
            "manufacturer": "roomctl",
            "model": "Vitale Weekcyclus learning room",
        },
    }

    def entity(component: str, obj: str, name: str, **extra: Any) -> tuple[str, dict[str, Any]]:
        config = {**base, "name": name, "unique_id": f"{node}_{obj}", "object_id": f"{node}_{obj}", **extra}
        return f"{settings.scenes.discovery_prefix}/{component}/{node}/{obj}/config", config

    return [
        entity(
            "binary_sensor",
            "occupancy",
            "Bezetting",
            device_class="occupancy",
            value_template="{{ 'ON' if (value_json.phase is defined and value_json.phase.name "
            "not in ['idle', 'ended']) or (value_json.occupancy is defined and value_json.occupancy.occupied) "
            "else 'OFF' }}",
        ),
        entity(
            "sensor",
            "phase",
            "Fase",
            icon="mdi:timeline-clock",
            value_template="{{ value_json.phase.name if (value_json.phase is defined "
            "and value_json.phase.name is defined and value_json.phase.name) else 'idle' }}",
        ),
        entity(
            "binary_sensor",
            "door",
            "Deur",
            device_class="door",
            value_template="{{ 'ON' if (value_json.door is defined and value_json.door.open) else 'OFF' }}",
        ),
        entity(
            "select",
            "scene",
            "Scène",
            icon="mdi:lightbulb-group",
            command_topic=scene_command_topic(settings),
            options=scene_names,
            value_template="{{ value_json.devices.scene.name if (value_json.devices is defined "
            "and value_json.devices.scene is defined and value_json.devices.scene) else None }}",
        ),
        entity(
            "binary_sensor",
            "alarms",
            "Alarmen",
            device_class="problem",
            value_template="{{ 'ON' if (value_json.alarms is defined and value_json.alarms.active) else 'OFF' }}",
            json_attributes_topic=state_topic,
            json_attributes_template="{{ {'active': value_json.alarms.active if value_json.alarms is defined "
            "else []} | tojson }}",
        ),
    ]


class HomeAssistantDiscovery:
    """Publishes the discovery configs on every connect and applies scenes chosen in Home Assistant.

    Args:
        settings: The room's settings.
        bus: The MQTT bus.
        scene_names: The scenes to offer.
        start_scene: Called with a scene name chosen in Home Assistant.
    """

    def __init__(
        self, settings: Settings, bus: Bus, scene_names: list[str], start_scene: Callable[[str], object]
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.scene_names = scene_names
        self.start_scene = start_scene
        bus.on_connected(self.publish)
        bus.subscribe(scene_command_topic(settings), self._scene_chosen)
        if bus.connected:
            self.publish()

    def publish(self) -> None:
        """Publish every discovery config, retained."""
        for topic, config in discovery_messages(self.settings, self.scene_names):
            self.bus.publish(topic, json.dumps(config, separators=(",", ":")), qos=1, retain=True)

    def _scene_chosen(self, topic: str, payload: bytes) -> None:
        try:
            name = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            log.warning("ignoring a scene command that is not text")
            return
        if len(name) > MAX_SCENE_NAME or name not in self.scene_names:
            log.warning("ignoring unknown scene %r from Home Assistant", name[:MAX_SCENE_NAME])
            return
        self.start_scene(name)
