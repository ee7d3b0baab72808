"""The room core: one asyncio loop that owns the room (events in, decisions recorded, effects out)."""

from roomctl.core.clock import Clock, ManualClock, SystemClock
from roomctl.core.events import Event
from roomctl.core.health import ComponentHealth, HealthRegistry
from roomctl.core.room import Room, Service
from roomctl.core.state import StateStore

__all__ = [
    "Clock",
    "ComponentHealth",
    "Event",
    "HealthRegistry",
    "ManualClock",
    "Room",
    "Service",
    "StateStore",
    "SystemClock",
]
