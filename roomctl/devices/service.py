"""The devices service: the registry, the scene engine and the automation as one room service.

Other capabilities and the routes reach it as ``room.service(DevicesService)``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from roomctl.core.room import Room
from roomctl.devices.automation import RoomAutomation
from roomctl.devices.registry import DeviceRegistry
from roomctl.devices.scenes import SceneEngine

log = logging.getLogger(__name__)

PUBLISH_INTERVAL = 0.2
"""Seconds over which device changes are gathered into one screen/status update (a flood stays one update)."""


class DevicesService:
    """The devices capability as a room service: ``room.service(DevicesService)``.

    Attributes:
        registry: Every device and its state.
        engine: Scenes (``await engine.apply_scene(name)`` or ``engine.start_scene(name)``).
        automation: Espresso schedule and empty-room switch-off.
    """

    name = "devices"

    def __init__(self, room: Room, registry: DeviceRegistry, engine: SceneEngine, automation: RoomAutomation) -> None:
        self.room = room
        self.registry = registry
        self.engine = engine
        self.automation = automation
        self._pending: asyncio.TimerHandle | None = None
        self._screen = room.screen.claim("devices", owner=self.name)
        self._status = room.status.claim("devices", owner=self.name)

    async def apply_scene(self, name: str, *, source: str = "api") -> dict[str, Any]:
        """Apply scene ``name`` and wait for it (see :meth:`SceneEngine.apply_scene`)."""
        run = await self.engine.apply_scene(name, source=source)
        return run.as_dict()

    def scene_names(self) -> list[str]:
        """The scenes this room has configured."""
        return self.engine.names()

    def part(self) -> dict[str, Any]:
        """The ``devices`` part of the screen and the room status."""
        run = self.engine.current
        return {"devices": self.registry.snapshot(), "scene": run.as_dict() if run else None}

    def schedule_publish(self) -> None:
        """Publish the ``devices`` part soon (changes within :data:`PUBLISH_INTERVAL` become one update)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.publish()
            return
        if self._pending is None:
            self._pending = loop.call_later(PUBLISH_INTERVAL, self.publish)

    def publish(self) -> None:
        """Publish the ``devices`` part now."""
        self._pending = None
        part = self.part()
        self._screen.set(part)
        self._status.set(part)

    async def start(self) -> None:
        """Check the automation now and then every ``check_interval_seconds``."""
        interval = self.automation.settings.check_interval_seconds
        self.room.every(interval, self.automation.tick, name="devices-automation", first=0)

    async def stop(self) -> None:
        """Stop the checks and pending updates."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
