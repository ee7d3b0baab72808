"""The ops capability: readiness and watchdog pings to systemd (see :mod:`roomctl.ops.watchdog`).

Exports what :mod:`roomctl.runtime` wires: :func:`install`, :data:`router` (none) and :data:`MIGRATIONS` (none).
"""

from __future__ import annotations

from fastapi import APIRouter

from roomctl.core.room import Room
from roomctl.devices.bus import MqttBus
from roomctl.ops.watchdog import SystemdWatchdog
from roomctl.store.migrations import Migration

__all__ = ["MIGRATIONS", "install", "router"]

router: APIRouter | None = None
"""Ops has no routes: health and metrics are the core's."""
MIGRATIONS: list[Migration] = []


def install(room: Room, bus: MqttBus | None) -> None:
    """Register the systemd watchdog; it does nothing unless the room runs under systemd."""
    room.add_service(SystemdWatchdog(room))
