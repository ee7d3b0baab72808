"""Scenes: a named set of device targets, applied together; one per session phase plus any the room defines.

A scene is complete when every device in it confirmed its target (devices without feedback count once sent).
A scene whose device was offline or did not answer stays ``incomplete`` and becomes ``complete`` when that
device returns and confirms: the registry keeps each unconfirmed target and sends it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from roomctl.core.clock import Clock
from roomctl.devices.drivers.base import State
from roomctl.devices.registry import DeviceRegistry
from roomctl.devices.settings import ScenesSettings
from roomctl.errors import ConfigError, NotFoundError, ValidationError

log = logging.getLogger(__name__)

KIND_PREFIX = "kind:"

RunStatus = Literal["running", "complete", "incomplete", "superseded"]
Spawner = Callable[[Awaitable[Any]], Any]


@dataclass
class SceneRun:
    """One application of a scene."""

    name: str
    targets: dict[str, State]
    source: str
    started_at: datetime
    started_mono: float
    status: RunStatus = "running"
    outstanding: set[str] = field(default_factory=set)
    seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for screens, the room state and the API."""
        return {
            "name": self.name,
            "source": self.source,
            "status": self.status,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "devices": sorted(self.targets),
            "waiting_for": sorted(self.outstanding),
            "seconds": round(self.seconds, 3) if self.seconds is not None else None,
        }


class SceneEngine:
    """Applies scenes through the device registry.

    Args:
        registry: The room's devices.
        settings: The ``[scenes]`` section.
        clock: For start times.
        spawn: Runs a coroutine in the background (``room.spawn`` wrapped to take only the coroutine).
    """

    def __init__(
        self, registry: DeviceRegistry, settings: ScenesSettings, clock: Clock, spawn: Spawner | None = None
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.clock = clock
        self.spawn = spawn or (lambda coro: asyncio.ensure_future(coro))
        self.current: SceneRun | None = None
        self._listeners: list[Callable[[], None]] = []
        registry.on_confirmed(self._device_confirmed)

    def names(self) -> list[str]:
        """The scenes this room knows."""
        return sorted(self.settings.scenes)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` whenever the current scene run changes."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("scene listener failed")

    def resolve(self, name: str) -> dict[str, State]:
        """The device targets of scene ``name``.

        ``kind:`` entries apply to every device of that kind (except the espresso plug, which follows the
        bookings); entries by device id win over them.

        Raises:
            NotFoundError: No such scene.
        """
        try:
            entries = self.settings.scenes[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise NotFoundError(f"there is no scene {name!r}; known scenes: {known}") from None
        targets: dict[str, State] = {}
        for key, target in entries.items():
            if key.startswith(KIND_PREFIX):
                kind = key[len(KIND_PREFIX) :]
                for device in self.registry.devices.values():
                    if device.config.kind == kind and device.config.id != self.settings.espresso_device:
                        targets.setdefault(device.config.id, target.as_dict())
        for key, target in entries.items():
            if not key.startswith(KIND_PREFIX):
                targets[key] = target.as_dict()
        return targets

    def check(self) -> None:
        """Validate every scene against the devices (at start-up).

        Raises:
            ConfigError: A scene names an unknown device or gives a device a target its kind cannot take.
        """
        for name in self.names():
            for key in self.settings.scenes[name]:
                if not key.startswith(KIND_PREFIX) and key not in self.registry.devices:
                    raise ConfigError(f"scenes.{name}: there is no device {key!r} in [[devices]]")
            for device_id, target in self.resolve(name).items():
                try:
                    self.registry.validate(self.registry.devices[device_id], target)
                except ValidationError as exc:
                    raise ConfigError(f"scenes.{name}.{device_id}: {exc.detail}") from None

    async def apply_scene(self, name: str, *, source: str = "api") -> SceneRun:
        """Apply scene ``name`` and wait until every device confirmed or ran out of tries.

        Raises:
            NotFoundError: No such scene.
        """
        run = self._begin(name, source)
        await self._run(run)
        return run

    def start_scene(self, name: str, *, source: str = "api") -> SceneRun:
        """Start scene ``name`` in the background and return its run at once.

        Raises:
            NotFoundError: No such scene.
        """
        run = self._begin(name, source)
        self.spawn(self._run(run))
        return run

    def _begin(self, name: str, source: str) -> SceneRun:
        targets = self.resolve(name)
        if self.current is not None and self.current.status in ("running", "incomplete"):
            self.current.status = "superseded"
        run = SceneRun(
            name, targets, source, self.clock.now(), asyncio.get_running_loop().time(), outstanding=set(targets)
        )
        self.current = run
        log.info("scene %s (%s): %d devices", name, source, len(targets))
        self._changed()
        return run

    async def _run(self, run: SceneRun) -> None:
        results = await asyncio.gather(
            *(self.registry.command(device_id, target) for device_id, target in run.targets.items()),
            return_exceptions=True,
        )
        for device_id, result in zip(run.targets, results, strict=True):
            if isinstance(result, BaseException):
                log.error("scene %s: device %s failed: %s", run.name, device_id, result)
        if run.status != "running":
            return
        if run.outstanding:
            run.status = "incomplete"
            log.warning("scene %s incomplete, waiting for: %s", run.name, ", ".join(sorted(run.outstanding)))
        else:
            self._finish(run)
        self._changed()

    def _finish(self, run: SceneRun) -> None:
        run.status = "complete"
        run.seconds = asyncio.get_running_loop().time() - run.started_mono
        log.info("scene %s complete in %.3f s", run.name, run.seconds)

    def _device_confirmed(self, device_id: str) -> None:
        run = self.current
        if run is None or device_id not in run.outstanding:
            return
        run.outstanding.discard(device_id)
        if run.status == "incomplete" and not run.outstanding:
            self._finish(run)
            self._changed()
