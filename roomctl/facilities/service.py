"""The facilities service: the site view, the room's own status parts, alert checks and their delivery.

It owns one part of the room status (published retained on MQTT): ``heartbeat`` (``{at}``, renewed every
``heartbeat_seconds`` so other rooms can tell a quiet room from a dead one). Active alerts go retained to ``<base>/<site>/<room>/alerts`` and, if configured, to the webhook.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from roomctl.core.room import Room
from roomctl.devices.bus import MqttBus, room_topic
from roomctl.facilities.alerts import (
    AlertStore,
    Condition,
    alarm_conditions,
    device_conditions,
    disk_condition,
    health_conditions,
)
from roomctl.facilities.site import SiteView
from roomctl.facilities.webhook import WebhookPoster

log = logging.getLogger(__name__)

SITE_TICK_FRACTION = 4
"""Staleness is re-evaluated this many times per ``stale_after_seconds``."""
MAX_SITE_TICK_SECONDS = 5.0
"""...but at least this often."""
PUBLISHED_ALERT_FIELDS = ("id", "key", "kind", "severity", "message", "raised_at", "acknowledged")


class FacilitiesService:
    """The facilities capability's service: ``room.service(FacilitiesService)``.

    Attributes:
        alerts: The alerts table.
        site: Every room of the site.
        webhook: The webhook poster, if ``webhook_url`` is set.
    """

    name = "facilities"

    def __init__(self, room: Room, bus: MqttBus | None) -> None:
        self.room = room
        self.settings = room.settings.facilities
        self.alerts = AlertStore(room.db)
        self._heartbeat = room.status.claim("heartbeat", owner=self.name)
        room_settings = room.settings.room
        self.site = SiteView(
            room_settings.site, room_settings.id, room.settings.mqtt.base_topic, room.clock, self.settings.stale_after_seconds
        )
        self.webhook = WebhookPoster(self.settings) if self.settings.webhook_url else None
        self.alerts_topic = room_topic(room.settings.mqtt, room_settings, "alerts")
        self.bus = bus
        self._check_soon: asyncio.Handle | None = None
        self._unsubscribe: Callable[[], None] | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------

    def install(self) -> None:
        """Follow the room status (for alerts and this room's row) and subscribe to the site's rooms."""
        self._unsubscribe = self.room.status.subscribe(self._on_status)
        if self.bus is not None:
            for topic_filter in self.site.filters():
                self.bus.subscribe(topic_filter, self.site.handle)
            self.bus.on_connected(self.publish_alerts)
        self._update_own()

    async def start(self) -> None:
        """Heartbeat, first check, and the periodic loops."""
        self.heartbeat()
        self.check()
        self.room.every(self.settings.heartbeat_seconds, self.heartbeat, name="facilities-heartbeat")
        self.room.every(self.settings.check_interval_seconds, self.check, name="facilities-check")
        tick = min(self.settings.stale_after_seconds / SITE_TICK_FRACTION, MAX_SITE_TICK_SECONDS)
        self.room.every(tick, self.site.tick, name="facilities-site")
        if self.webhook is not None:
            self.room.spawn(self.webhook.run(), name="facilities-webhook")

    async def stop(self) -> None:
        """Stop following the status (loops are cancelled by the room)."""
        if self._check_soon is not None:
            self._check_soon.cancel()
            self._check_soon = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # -- this room's status parts ----------------------------------------------------------------------------

    def heartbeat(self) -> None:
        """Renew the ``heartbeat`` part (and with it the retained state's ``updated_at``)."""
        self._heartbeat.set({"at": self.room.clock.now().isoformat()})

    def _own_state(self) -> dict[str, Any]:
        snapshot = self.room.status.snapshot()
        state = {k: v for k, v in snapshot.items() if k != "version"}
        room = self.room.settings.room
        state["room"] = {"site": room.site, "id": room.id, "name": room.name}
        state["updated_at"] = self.room.clock.now().isoformat()
        return state

    def _update_own(self) -> None:
        self.site.set_own(self._own_state(), self.published_alerts())

    def _on_status(self, snapshot: dict[str, Any]) -> None:
        """The status changed: this room's row and the alerts follow after the change's turn of the loop.

        A tablet command that changes several parts costs one update. It runs before the command's answer and
        its screen messages are written (about 0.2 ms here, see ``bench/bench_ws.py``), not inside the command.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # start-up, a script: at once
            self._update_own()
            return
        if self._check_soon is None:
            self._check_soon = loop.call_soon(self._after_status)

    def _after_status(self) -> None:
        self._check_soon = None
        self._update_own()
        self.check(full=False)

    # -- alerts ---------------------------------------------------------------------------------------------

    def conditions(self, *, full: bool = True) -> list[Condition]:
        """Conditions that hold now; without ``full`` the disk and health checks keep their last result."""
        status = self.room.status.snapshot()
        found = device_conditions(status, self.settings) + alarm_conditions(status)
        if full:
            found += disk_condition(self.room.settings.storage.data_dir, self.settings)
            found += health_conditions(self.room.health.report())
        else:
            kept = {"disk_low", "speech_down"}
            found += [
                Condition(a["key"], a["kind"], a["severity"], a["message"], a["detail"])
                for a in self.alerts.active()
                if a["key"] in kept
            ]
        return found

    def check(self, *, full: bool = True) -> None:
        """Raise and clear alerts to match the conditions; publish what changed."""
        now = self.room.clock.now()
        raised, cleared = self.alerts.reconcile(self.conditions(full=full), now)
        if not raised and not cleared:
            return
        for alert in raised:
            self._notify("raised", alert)
        for alert in cleared:
            self._notify("cleared", alert)
        self.publish_alerts()
        self._update_own()

    def acknowledge(self, alert_id: int, by: str) -> dict[str, Any]:
        """Acknowledge an alert (see :meth:`AlertStore.acknowledge`) and publish the change."""
        alert = self.alerts.acknowledge(alert_id, by, self.room.clock.now())
        self._notify("acknowledged", alert)
        self.publish_alerts()
        self._update_own()
        return alert

    def published_alerts(self) -> list[dict[str, Any]]:
        """The active alerts as other rooms see them."""
        return [{k: a[k] for k in PUBLISHED_ALERT_FIELDS} for a in self.alerts.active()]

    def publish_alerts(self) -> None:
        """Publish the active alerts retained on ``<base>/<site>/<room>/alerts``."""
        if self.bus is None:
            return
        message = {"room": self.room.settings.room.id, "active": self.published_alerts(), "updated_at": self.room.clock.now().isoformat()}
        self.bus.publish(self.alerts_topic, message, retain=True)

    def _notify(self, event: str, alert: dict[str, Any]) -> None:
        if self.webhook is None:
            return
        room = self.room.settings.room
        self.webhook.enqueue({"event": event, "site": room.site, "room": room.id, "room_name": room.name, "alert": alert})

    # -- the facilities page --------------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        """What /facilities shows: the site's rooms and this room's open alerts."""
        return {**self.site.snapshot(), "alerts": self.alerts.listing("open", 50)}
