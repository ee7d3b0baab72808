"""What the room does by itself: the espresso machine follows the day's bookings, an empty room goes dark.

The espresso plug is switched on ``espresso_lead_minutes`` before the day's first booking (so it is warm when
the group arrives) and off ``espresso_off_after_minutes`` after the day's last one. It is switched only when
that wish changes, so someone who switches it by hand is not overruled every check. The plug's own firmware
(Tasmota ``PulseTime``) switches it off as well if roomctl is gone.

A room with no booking running and no presence for ``empty_off_minutes`` gets the ``empty_scene`` (all off),
once per empty spell.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from roomctl.core.clock import Clock
from roomctl.devices.registry import DeviceRegistry
from roomctl.devices.scenes import SceneEngine
from roomctl.devices.settings import ScenesSettings
from roomctl.errors import ConfigError

log = logging.getLogger(__name__)

ESPRESSO_REARM_SECONDS = 300.0
"""While the espresso plug should be on and is on, send ON this often: Tasmota restarts its PulseTime
auto-off on every ``Power ON``, so the plug stays on while roomctl lives and goes off when it does not."""


class BookingLike(Protocol):
    """A booking with a start and an end (timezone-aware)."""

    @property
    def start(self) -> datetime:
        """When it starts."""
        ...

    @property
    def end(self) -> datetime:
        """When it ends."""
        ...


class BookingSource(Protocol):
    """Where the automation reads bookings (``roomctl.booking.repository.BookingRepository`` fits)."""

    def overlapping(self, start: datetime, end: datetime) -> Sequence[BookingLike]:
        """Active bookings overlapping ``[start, end)``, in time order."""
        ...


class RoomAutomation:
    """Espresso schedule and empty-room switch-off, checked every ``check_interval_seconds``.

    Args:
        registry: The room's devices.
        engine: The scene engine.
        settings: The ``[scenes]`` section.
        tz: The room's time zone (a day is a local day).
        clock: The room's clock.
        bookings: Where bookings come from; ``None`` until the booking capability provides one.
    """

    name = "devices-automation"

    def __init__(
        self,
        registry: DeviceRegistry,
        engine: SceneEngine,
        settings: ScenesSettings,
        tz: ZoneInfo,
        clock: Clock,
        bookings: BookingSource | None = None,
    ) -> None:
        if settings.espresso_device and settings.espresso_device not in registry.devices:
            raise ConfigError(f"scenes.espresso_device: there is no device {settings.espresso_device!r}")
        if settings.empty_scene not in settings.scenes:
            raise ConfigError(f"scenes.empty_scene: there is no scene {settings.empty_scene!r}")
        self.registry = registry
        self.engine = engine
        self.settings = settings
        self.tz = tz
        self.clock = clock
        self.bookings = bookings
        self.espresso_wanted: bool | None = None
        self._espresso_sent_at = float("-inf")
        self.last_presence: datetime | None = None
        self.empty_since: datetime | None = None
        self.switched_off = False
        self._booking_error_logged = False

    # -- inputs ---------------------------------------------------------------------------------------------

    def note_presence(self, present: bool) -> None:
        """Someone was seen (or the last person left); resets the empty-room timer when present."""
        if present:
            self.last_presence = self.clock.now()
            self.empty_since = None
            self.switched_off = False

    def _bookings_today(self, now: datetime) -> list[BookingLike]:
        if self.bookings is None:
            return []
        local_day = now.astimezone(self.tz).date()
        start = datetime.combine(local_day, time(0), self.tz)
        end = datetime.combine(local_day + timedelta(days=1), time(0), self.tz)
        try:
            found = list(self.bookings.overlapping(start, end))
        except Exception as exc:
            if not self._booking_error_logged:
                log.warning("cannot read bookings (%s); espresso and empty-room rules see no bookings", exc)
                self._booking_error_logged = True
            return []
        self._booking_error_logged = False
        return found

    # -- decisions ------------------------------------------------------------------------------------------

    def tick(self) -> dict[str, Any]:
        """Check both rules now; return what was decided (for logs and tests)."""
        now = self.clock.now()
        bookings = self._bookings_today(now)
        for device in self.registry.devices.values():
            if device.config.kind == "presence" and device.state.get("value") is True:
                self.note_presence(True)
        return {"espresso": self._espresso(now, bookings), "empty": self._empty_room(now, bookings)}

    def _espresso(self, now: datetime, bookings: list[BookingLike]) -> bool | None:
        device_id = self.settings.espresso_device
        if not device_id:
            return None
        wanted = False
        if bookings:
            first = min(b.start for b in bookings) - timedelta(minutes=self.settings.espresso_lead_minutes)
            last = max(b.end for b in bookings) + timedelta(minutes=self.settings.espresso_off_after_minutes)
            wanted = first <= now < last
        mono = self.clock.monotonic()
        if wanted != self.espresso_wanted:
            self.espresso_wanted = wanted
            log.info("espresso machine %s", "on: the day's first booking is near" if wanted else "off")
        else:
            is_on = self.registry.devices[device_id].state.get("on") is True
            if not (wanted and is_on) or mono - self._espresso_sent_at < ESPRESSO_REARM_SECONDS:
                return wanted
        self._espresso_sent_at = mono
        self.engine.spawn(self.registry.command(device_id, {"on": wanted}))
        return wanted

    def _empty_room(self, now: datetime, bookings: list[BookingLike]) -> bool:
        """True when the room has been empty for ``empty_off_minutes`` (the scene is applied once)."""
        if any(b.start <= now < b.end for b in bookings):
            self.empty_since = None
            self.switched_off = False
            return False
        ended = [b.end for b in bookings if b.end <= now]
        known = [t for t in (self.last_presence, max(ended) if ended else None) if t is not None]
        self.empty_since = max([t for t in (self.empty_since, *known) if t is not None], default=now)
        if now - self.empty_since < timedelta(minutes=self.settings.empty_off_minutes):
            return False
        if not self.switched_off:
            self.switched_off = True
            minutes, scene = self.settings.empty_off_minutes, self.settings.empty_scene
            log.info("room empty for %d minutes: applying scene %s", minutes, scene)
            self.engine.start_scene(self.settings.empty_scene, source="empty-room")
        return True
