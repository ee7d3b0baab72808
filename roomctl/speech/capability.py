"""Installs the brainstorm recording: the speech service, its health check and its screen parts."""

from __future__ import annotations

from roomctl.core.room import Room
from roomctl.speech.service import SpeechService


def install(room: Room) -> None:
    """Add the speech service (screen parts ``recording`` and ``captions``) and its (non-critical) health."""
    service = SpeechService(room)
    room.add_service(service)
    room.health.register("speech", service.health, critical=False)
