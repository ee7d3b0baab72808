"""Telling systemd the service is ready and alive (``Type=notify`` with ``WatchdogSec=``).

Once the room has started, :class:`SystemdWatchdog` sends ``READY=1``. Then, at half the watchdog interval
systemd asks for (``WATCHDOG_USEC``), it puts a probe event through the room's event queue and sends
``WATCHDOG=1`` only when the probe came back in time. A blocked event loop (a handler that never returns,
a synchronous call that hangs) therefore stops the pings, and systemd kills and restarts the service.
Meanwhile the door stays locked: the strike is fail-secure and nothing drives the relay.

Nothing is sent when ``NOTIFY_SOCKET`` is not set (``roomctl demo``, tests, a shell).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import sdnotify

from roomctl.core.events import Event
from roomctl.core.room import Room

log = logging.getLogger(__name__)

PING_FRACTION = 0.5
"""Ping at this fraction of systemd's watchdog interval (sd_watchdog_enabled(3) recommends half)."""

MICROSECONDS = 1_000_000


@dataclass(frozen=True)
class WatchdogProbe(Event):
    """Goes through the room's event queue to show the queue is moving. No handler needed."""

    source: str = "watchdog"


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between pings asked for by systemd, or ``None`` when the watchdog is off for this process.

    Args:
        environ: The process environment (``WATCHDOG_USEC``, ``WATCHDOG_PID``).
        pid: This process's id; the watchdog applies only if ``WATCHDOG_PID`` is unset or equal to it.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(pid):
        return None
    return int(usec) / MICROSECONDS * PING_FRACTION


class SystemdWatchdog:
    """A room service that reports readiness and liveness to systemd.

    Register it after every other service so ``READY=1`` means the whole room has started.

    Attributes:
        name: The service name in the room.
        pings: How many ``WATCHDOG=1`` were sent (for ``/metrics`` and tests).
        missed: How many pings were withheld because the event queue did not answer.
    """

    name = "systemd-watchdog"

    def __init__(self, room: Room) -> None:
        self._room = room
        self._notifier: sdnotify.SystemdNotifier | None = None
        self._task: asyncio.Task[None] | None = None
        self.pings = 0
        self.missed = 0

    @property
    def active(self) -> bool:
        """True when systemd listens (``NOTIFY_SOCKET`` is set and reachable)."""
        return self._notifier is not None

    def _send(self, state: str) -> None:
        if self._notifier is None:
            return
        try:
            self._notifier.notify(state)
        except OSError as exc:
            log.warning("could not notify systemd (%s): %s", state.split("=")[0], exc)

    async def start(self) -> None:
        """Send ``READY=1`` and start pinging if systemd asked for a watchdog."""
        if not os.environ.get("NOTIFY_SOCKET"):
            log.debug("NOTIFY_SOCKET is not set: not running under systemd, no readiness or watchdog")
            return
        try:
            self._notifier = sdnotify.SystemdNotifier(debug=True)
        except OSError as exc:
            log.warning("NOTIFY_SOCKET is set but cannot be reached (%s); systemd will not see readiness", exc)
            return
        room = self._room.settings.room
        self._send(f"READY=1\nSTATUS=room {room.site}/{room.id} running")
        interval = watchdog_interval(os.environ, os.getpid())
        if interval is None:
            log.info("told systemd the room is ready (no watchdog requested)")
            return
        log.info("told systemd the room is ready; pinging the watchdog every %.1f s", interval)
        self._task = self._room.every(interval, lambda: self._ping(interval), name="systemd-watchdog")

    async def _ping(self, interval: float) -> None:
        try:
            async with asyncio.timeout(interval):
                await self._room.dispatch(WatchdogProbe())
        except TimeoutError:
            self.missed += 1
            log.error(
                "the room's event queue did not answer within %.1f s; withholding the watchdog ping "
                "(systemd restarts the service if this goes on)",
                interval,
            )
            return
        self._send("WATCHDOG=1")
        self.pings += 1

    async def stop(self) -> None:
        """Tell systemd the service is stopping and stop pinging."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._send("STOPPING=1")
