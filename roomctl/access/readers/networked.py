"""Readers that are not on this Pi's pins: an ESPHome reader node over MQTT, and the simulated reader.

The ESPHome node (``firmware_config/esphome/door-reader.yaml``) publishes each tag's UID on
``door-reader/tag`` from its ``on_tag`` trigger, in ESPHome's dashed hex (``04-A1-B2-C3``), and its
availability on ``door-reader/status`` (``online``/``offline``, retained, last will). The simulated reader
takes taps from the CLI, the API and the demo page.
"""

from __future__ import annotations

import logging
from typing import Any

from roomctl.access.readers.base import Reader

log = logging.getLogger(__name__)

DEFAULT_ESPHOME_TOPIC = "door-reader/tag"
"""The tag topic of the door reader node in firmware_config/esphome/door-reader.yaml."""
MAX_TAG_PAYLOAD_BYTES = 256
"""Longer payloads are cut before they are handed on (and then rejected as malformed)."""


def status_topic(tag_topic: str) -> str:
    """The node's availability topic: ``<topic_prefix>/status`` beside ``<topic_prefix>/tag``."""
    prefix = tag_topic.rsplit("/", 1)[0] if "/" in tag_topic else tag_topic
    return f"{prefix}/status"


class EsphomeReader(Reader):
    """Tags from an ESPHome node, through the room's MQTT bus.

    Args:
        name: The reader's name.
        bus: The room's :class:`~roomctl.devices.bus.MqttBus` (``subscribe(filter, handler)``).
        topic: The node's tag topic.
    """

    kind = "esphome"

    def __init__(self, name: str, bus: Any, topic: str = DEFAULT_ESPHOME_TOPIC) -> None:
        super().__init__(name)
        self.bus = bus
        self.topic = topic or DEFAULT_ESPHOME_TOPIC
        self.status_topic = status_topic(self.topic)
        self._detail = f"waiting for {self.status_topic}"

    def _begin(self) -> None:
        self.bus.subscribe(self.topic, self._tag, retained=False)  # a retained tag is an old tap replayed
        self.bus.subscribe(self.status_topic, self._availability)

    def _tag(self, topic: str, payload: bytes) -> None:
        text = payload[:MAX_TAG_PAYLOAD_BYTES].decode("utf-8", errors="replace").strip()
        if not self.online:
            # a tag proves the node is up even if its birth message was missed
            self._set_online(True, f"tags arrive on {self.topic}")
        self._emit(text)

    def _availability(self, topic: str, payload: bytes) -> None:
        state = payload[:16].decode("utf-8", errors="replace").strip().lower()
        if state == "online":
            self._set_online(True, f"node online ({self.status_topic})")
        elif state == "offline":
            self._set_online(False, f"the node reports offline on {self.status_topic}; check its power and Wi-Fi")
        else:
            log.warning("ESPHome reader %s: unexpected availability %r", self.name, state)


class SimulatedReader(Reader):
    """Taps injected by the CLI, the API or the demo page; always online."""

    kind = "simulated"

    def _begin(self) -> None:
        self._set_online(True, "simulated")

    def tap(self, uid: str) -> None:
        """Present ``uid`` as if a badge touched the reader."""
        self._emit(uid)
