"""The booking capability: members, groups, bookings and series; the agenda on the screens.

Exports what :mod:`roomctl.runtime` wires: :func:`install`, :data:`router` and :data:`MIGRATIONS`.
"""

from __future__ import annotations

from roomctl.booking.api import router
from roomctl.booking.schema import MIGRATIONS
from roomctl.booking.service import BookingService
from roomctl.core.room import Room
from roomctl.devices.bus import MqttBus

__all__ = ["MIGRATIONS", "install", "router"]


def install(room: Room, bus: MqttBus | None) -> None:
    """Add the booking service (screen part ``booking``, status parts ``occupancy`` and ``next_booking``)."""
    room.add_service(BookingService(room))
