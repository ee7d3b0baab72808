"""The speech capability: consent, recording, and transcribing the brainstorm on the Pi.

Exports what :mod:`roomctl.runtime` wires: :func:`install`, :data:`router` and :data:`MIGRATIONS`.
"""

from __future__ import annotations

from roomctl.core.room import Room
from roomctl.devices.bus import MqttBus
from roomctl.speech.api import router
from roomctl.speech.schema import MIGRATIONS
from roomctl.speech.service import SpeechService

__all__ = ["MIGRATIONS", "install", "router"]


def install(room: Room, bus: MqttBus | None) -> None:
    """Add the speech service (screen parts ``recording`` and ``captions``) and its (non-critical) health."""
    service = SpeechService(room)
    room.add_service(service)
    room.health.register("speech", service.health, critical=False)
