"""The trajectory capability: each member's personal learning-work trajectory and their own progress.

Exports what :mod:`roomctl.runtime` wires: :func:`install`, :data:`router` and :data:`MIGRATIONS`.
"""

from __future__ import annotations

from roomctl.core.room import Room
from roomctl.devices.bus import MqttBus
from roomctl.trajectory.api import router
from roomctl.trajectory.schema import MIGRATIONS
from roomctl.trajectory.service import TrajectoryService

__all__ = ["MIGRATIONS", "install", "router"]


def install(room: Room, bus: MqttBus | None) -> None:
    """Add the trajectory service."""
    room.add_service(TrajectoryService(room))
