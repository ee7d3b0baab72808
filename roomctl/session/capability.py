"""The session capability: the state machine service, videoframes, the kader and tablet pairing.

Exports what :mod:`roomctl.runtime` wires: :func:`install`, :data:`router` and :data:`MIGRATIONS`.
"""

from __future__ import annotations

from roomctl.core.room import Room
from roomctl.devices.bus import MqttBus
from roomctl.session import schema, schema_content
from roomctl.session.api import router
from roomctl.session.guests import GuestService
from roomctl.session.service import SessionService
from roomctl.session.weeks import WeekService

__all__ = ["MIGRATIONS", "install", "router"]

MIGRATIONS = [*schema.MIGRATIONS, *schema_content.MIGRATIONS]


def install(room: Room, bus: MqttBus | None) -> None:
    """Add the session service, the week's service (cycles, continuity) and the guests."""
    room.add_service(SessionService(room))
    room.add_service(WeekService(room))
    room.add_service(GuestService(room))
