"""The ops capability: readiness and watchdog pings to systemd (see :mod:`roomctl.ops.watchdog`)."""

from __future__ import annotations

from roomctl.core.room import Room
from roomctl.ops.watchdog import SystemdWatchdog


def install(room: Room) -> None:
    """Register the systemd watchdog; it does nothing unless the room runs under systemd."""
    room.add_service(SystemdWatchdog(room))
