"""Every room of the site at a glance, from the retained room states on MQTT.

Each roomctl publishes its state retained to ``<base>/<site>/<room>/state`` and ``online``/``offline`` to
``.../availability`` (last will). :class:`SiteView` subscribes to ``<base>/<site>/+/state``,
``.../+/availability`` and ``.../+/alerts`` and keeps one :class:`RoomEntry` per room. This room itself is
always read from its own status store (fresher, and works without a broker).

A room is *stale* (never shown as free) when its availability is ``offline`` or its state is older than
``[facilities] stale_after_seconds``; the room republishes a heartbeat well within that time. A message that
is not a JSON object of the expected shape is ignored with a log line, and the room keeps its last good state.

What the view holds is what facilities staff may see: occupancy, phase, next booking, door, alarms, devices and
sensor readings; never who is present.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from roomctl.core.clock import Clock
from roomctl.errors import ValidationError

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024
"""A room state larger than this is junk."""
ROOM_ID_LIMIT = 64
SENSOR_KINDS = ("co2", "temperature", "humidity")

Listener = Callable[[], None]


class JunkPayloadError(ValidationError):
    """A message on a room topic that is not what a roomctl publishes there."""


def _parse_instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def parse_state(payload: bytes) -> dict[str, Any]:
    """A room state message as a dict.

    Raises:
        JunkPayloadError: Not a JSON object with an ``updated_at`` instant.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise JunkPayloadError(f"{len(payload)} bytes is too large for a room state")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise JunkPayloadError(f"not JSON: {payload[:40]!r}") from None
    if not isinstance(data, dict):
        raise JunkPayloadError(f"not a JSON object but {type(data).__name__}")
    if _parse_instant(data.get("updated_at")) is None:
        raise JunkPayloadError("no updated_at instant with an offset")
    for part in ("door", "phase", "occupancy", "devices", "alarms", "next_booking", "room"):
        if part in data and data[part] is not None and not isinstance(data[part], dict):
            raise JunkPayloadError(f"part {part!r} is not an object")
    return data


def _devices(state: dict[str, Any]) -> list[dict[str, Any]]:
    part = state.get("devices") or {}
    items = part.get("devices") if isinstance(part, dict) else None
    if not isinstance(items, list):
        return []
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        out.append(
            {
                "id": str(item.get("id", "?")),
                "name": str(item.get("name", item.get("id", "?"))),
                "kind": str(item.get("kind", "")),
                "availability": str(item.get("availability", "unknown")),
                "last_seen": item.get("last_seen") if isinstance(item.get("last_seen"), str) else None,
                "state": item.get("state") if isinstance(item.get("state"), dict) else {},
            }
        )
    return out


def sensor_readings(devices: list[dict[str, Any]]) -> dict[str, float]:
    """The first usable reading per sensor kind (co2, temperature, humidity)."""
    readings: dict[str, float] = {}
    for device in devices:
        kind = device.get("kind")
        value = (device.get("state") or {}).get("value")
        usable = isinstance(value, int | float) and not isinstance(value, bool) and device.get("availability") != "offline"
        if kind in SENSOR_KINDS and kind not in readings and usable:
            readings[str(kind)] = float(value)  # type: ignore[arg-type]
    return readings


def active_alarms(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``alarms`` part's active alarms as dicts with at least a ``kind`` (strings are accepted too)."""
    part = state.get("alarms") or {}
    items = part.get("active") if isinstance(part, dict) else None
    if not isinstance(items, list):
        return []
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, str):
            out.append({"kind": item})
        elif isinstance(item, dict):
            kind = item.get("kind") or item.get("type") or item.get("code") or "alarm"
            out.append({**item, "kind": str(kind)})
    return out


@dataclass
class RoomEntry:
    """What is known about one room of the site."""

    room_id: str
    state: dict[str, Any] | None = None
    availability: str | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    local: bool = False
    junk: int = 0

    def view(self, now: datetime, stale_after: float) -> dict[str, Any]:
        """The room as the facilities page shows it."""
        state = self.state or {}
        updated = _parse_instant(state.get("updated_at"))
        age = (now - updated).total_seconds() if updated else None
        info: dict[str, Any] = state["room"] if isinstance(state.get("room"), dict) else {}
        phase_part = state.get("phase") or {}
        phase = phase_part.get("name") if isinstance(phase_part.get("name"), str) else None
        occupancy = state.get("occupancy") or {}
        devices = _devices(state)
        presence = next(
            (d["state"].get("value") for d in devices if d["kind"] == "presence" and isinstance(d["state"].get("value"), bool)),
            None,
        )
        session_running = phase is not None and phase != "idle"
        if self.state is None:
            status, reason = "stale", "no state received yet"
        elif self.availability == "offline" and not self.local:
            status, reason = "stale", "the room's controller is offline"
        elif age is None or (age > stale_after and not self.local):
            status, reason = "stale", f"no state for {round(age or 0)} s"
        elif session_running or occupancy.get("occupied") is True or presence is True:
            status, reason = "occupied", "session running" if session_running else "presence detected"
        elif occupancy.get("booked") is True:
            status, reason = "booked", "booked now, nobody in yet"
        else:
            status, reason = "free", ""
        door = state.get("door") if isinstance(state.get("door"), dict) else None
        next_booking = state.get("next_booking") if isinstance(state.get("next_booking"), dict) else None
        return {
            "id": self.room_id,
            "name": str(info.get("name") or self.room_id),
            "local": self.local,
            "status": status,
            "status_reason": reason,
            "availability": "online" if self.local else (self.availability or "unknown"),
            "updated_at": updated.isoformat() if updated else None,
            "age_seconds": round(age, 1) if age is not None else None,
            "phase": phase,
            "next_booking": {k: next_booking.get(k) for k in ("start", "end", "status")} if next_booking else None,
            "door": {k: door.get(k) for k in ("locked", "open", "source")} if door else None,
            "alarms": active_alarms(state),
            "devices": [{k: d[k] for k in ("id", "name", "kind", "availability", "last_seen")} for d in devices],
            "sensors": sensor_readings(devices),
            "alerts": self.alerts,
        }


class SiteView:
    """The rooms of one site, kept from MQTT and this room's own status.

    Args:
        site: The site id.
        own_id: This room's id (read from ``own_state``, never from MQTT).
        base_topic: The MQTT base topic (``roomctl``).
        clock: Where "now" comes from.
        stale_after: Seconds after which a room's state is stale.
    """

    def __init__(self, site: str, own_id: str, base_topic: str, clock: Clock, stale_after: float) -> None:
        self.site = site
        self.own_id = own_id
        self.base_topic = base_topic
        self.clock = clock
        self.stale_after = stale_after
        self.rooms: dict[str, RoomEntry] = {own_id: RoomEntry(own_id, local=True)}
        self.version = 0
        self._listeners: list[Listener] = []
        self._statuses: dict[str, str] = {}

    # -- wiring ---------------------------------------------------------------------------------------------

    def filters(self) -> list[str]:
        """The MQTT filters to subscribe to."""
        prefix = f"{self.base_topic}/{self.site}/+"
        return [f"{prefix}/state", f"{prefix}/availability", f"{prefix}/alerts"]

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener()`` after every change; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _changed(self) -> None:
        self.version += 1
        self._statuses = {rid: self._status(rid) for rid in self.rooms}
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("site view listener failed")

    def _status(self, room_id: str) -> str:
        return str(self.rooms[room_id].view(self.clock.now(), self.stale_after)["status"])

    # -- input ----------------------------------------------------------------------------------------------

    def set_own(self, state: dict[str, Any], alerts: list[dict[str, Any]]) -> None:
        """This room's state (the status snapshot as it is published) and active alerts."""
        entry = self.rooms[self.own_id]
        entry.state, entry.alerts = state, alerts
        self._changed()

    def handle(self, topic: str, payload: bytes) -> None:
        """One MQTT message on a room topic; junk is logged and ignored."""
        parts = topic.split("/")
        base_parts = self.base_topic.split("/")
        if len(parts) != len(base_parts) + 3 or parts[: len(base_parts)] != base_parts:
            return
        room_id, leaf = parts[-2], parts[-1]
        if room_id == self.own_id or not room_id or len(room_id) > ROOM_ID_LIMIT:
            return
        entry = self.rooms.get(room_id)
        if not payload:  # a cleared retained topic: that room is gone from the site
            if entry is not None and leaf == "state":
                del self.rooms[room_id]
                log.info("room %s cleared its state; removed from the site view", room_id)
                self._changed()
            return
        try:
            if leaf == "state":
                state = parse_state(payload)
                declared = state.get("room") or {}
                if declared.get("id") not in (None, room_id):
                    raise JunkPayloadError(f"state names room {declared.get('id')!r}")
                entry = entry or self.rooms.setdefault(room_id, RoomEntry(room_id))
                entry.state = state
            elif leaf == "availability":
                text = payload.decode("utf-8", "replace").strip()
                if text not in ("online", "offline"):
                    raise JunkPayloadError(f"availability {text[:40]!r} is neither online nor offline")
                entry = entry or self.rooms.setdefault(room_id, RoomEntry(room_id))
                entry.availability = text
            elif leaf == "alerts":
                data = json.loads(payload)
                active = data.get("active") if isinstance(data, dict) else None
                if not isinstance(active, list) or not all(isinstance(a, dict) for a in active):
                    raise JunkPayloadError("alerts message has no list of active alerts")
                entry = entry or self.rooms.setdefault(room_id, RoomEntry(room_id))
                entry.alerts = active
            else:
                return
        except (JunkPayloadError, UnicodeDecodeError, ValueError) as exc:
            if entry is not None:
                entry.junk += 1
            log.warning("ignored junk on %s: %s", topic, exc)
            return
        self._changed()

    def tick(self) -> None:
        """Re-evaluate staleness; listeners hear about rooms whose status changed with time."""
        now_statuses = {rid: self._status(rid) for rid in self.rooms}
        if now_statuses != self._statuses:
            self._changed()

    # -- output ---------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Every room, this one first then by id, with counts per status."""
        now = self.clock.now()
        ordered = sorted(self.rooms.values(), key=lambda e: (not e.local, e.room_id))
        rooms = [entry.view(now, self.stale_after) for entry in ordered]
        counts: dict[str, int] = {}
        for room in rooms:
            counts[room["status"]] = counts.get(room["status"], 0) + 1
        return {
            "site": self.site,
            "room": self.own_id,
            "version": self.version,
            "at": now.isoformat(),
            "stale_after_seconds": self.stale_after,
            "counts": counts,
            "rooms": rooms,
        }
