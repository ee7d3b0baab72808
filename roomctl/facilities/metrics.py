"""The facilities figures for Prometheus: a custom collector on ``room.registry``.

The room-use figures are those of :func:`roomctl.facilities.analytics.utilisation` over the last 7 and 30
days (label ``window``), computed at most once per :data:`CACHE_SECONDS`; alerts and site rooms are live.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from roomctl.facilities.analytics import utilisation
from roomctl.facilities.period import Period

if TYPE_CHECKING:
    from roomctl.facilities.service import FacilitiesService

log = logging.getLogger(__name__)

CACHE_SECONDS = 60.0
WINDOWS = {"7d": 7, "30d": 30}
FIGURES = (
    ("booked_hours", "roomctl_room_booked_hours", "Hours booked (planned bookings) in the window"),
    ("used_hours", "roomctl_room_used_hours", "Hours the room ran sessions in the window"),
    ("walkin_hours", "roomctl_room_walkin_hours", "Hours of walk-in bookings in the window"),
    ("used_share_of_booked", "roomctl_room_used_share_of_booked", "Used hours divided by booked hours"),
    ("no_show_rate", "roomctl_room_no_show_ratio", "Started planned bookings released because nobody came"),
    ("released_reused", "roomctl_room_released_reused", "Released bookings re-used by walk-ins"),
    ("average_session_minutes", "roomctl_room_average_session_minutes", "Average session length"),
    ("proposals_validated", "roomctl_room_proposals_validated", "Proposals accepted by their group"),
    ("sessions", "roomctl_room_sessions", "Sessions in the window"),
)


class FacilitiesCollector(Collector):
    """Yields the room-use gauges, active alerts per kind and the site's rooms per status."""

    def __init__(self, service: FacilitiesService) -> None:
        self.service = service
        self._cache: dict[str, dict[str, Any]] = {}
        self._cached_at = float("-inf")

    def _reports(self) -> dict[str, dict[str, Any]]:
        room = self.service.room
        if room.clock.monotonic() - self._cached_at >= CACHE_SECONDS or not self._cache:
            now = room.clock.now()
            self._cache = {
                window: utilisation(room.db, Period(now - timedelta(days=days), now), room.settings.room.tz, now)
                for window, days in WINDOWS.items()
            }
            self._cached_at = room.clock.monotonic()
        return self._cache

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """No fixed description: the values come from the database at scrape time."""
        return iter(())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges (a database error is logged and the room-use gauges are left out)."""
        room = self.service.room
        labels = {"site": room.settings.room.site, "room": room.settings.room.id}
        try:
            reports = self._reports()
        except Exception:
            log.exception("room-use figures for /metrics failed")
            reports = {}
        for key, name, help_text in FIGURES:
            family = GaugeMetricFamily(name, help_text, labels=["site", "room", "window"])
            for window, report in reports.items():
                value = report["summary"].get(key)
                if value is not None:
                    family.add_metric([labels["site"], labels["room"], window], float(value))
            yield family
        alerts = GaugeMetricFamily("roomctl_alerts_active", "Active alerts by kind", labels=["kind"])
        for kind, count in sorted(self.service.alerts.count_active_by_kind().items()):
            alerts.add_metric([kind], count)
        yield alerts
        rooms = GaugeMetricFamily("roomctl_site_rooms", "Rooms of the site by status", labels=["status"])
        for status, count in sorted(self.service.site.snapshot()["counts"].items()):
            rooms.add_metric([status], count)
        yield rooms
