"""Alerts: conditions that need facilities staff, raised once, cleared when they end, acknowledged by a person.

Each condition has a stable key (``device_offline:projector``, ``co2_high:co2``, ``disk_low``, ...). The
monitor computes the set of conditions that hold now; :meth:`AlertStore.reconcile` raises the new ones and
clears the ones that ended. At most one alert per key is active (a unique index says so too), so a condition
that flaps makes a new alert each time it comes back, with its own times.
"""

from __future__ import annotations

import collections
import copy
import json
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from roomctl.errors import ConflictError, NotFoundError, ValidationError
from roomctl.facilities.settings import FacilitiesSettings
from roomctl.facilities.site import active_alarms

log = logging.getLogger(__name__)

ALERT_STATES = ("active", "open", "all")
"""``active``: not cleared; ``open``: active or not yet acknowledged; ``all``: everything."""
MAX_LIST = 500

ALARM_KINDS = (
    ("held", "door_held_open", "warning", "De deur staat te lang open / door held open"),
    ("forced", "door_forced", "critical", "De deur is geforceerd / door forced open"),
    ("lock", "reader_locked_out", "warning", "Lezer geblokkeerd na mislukte pogingen / reader locked out"),
    ("reader_offline", "reader_offline", "warning", "Lezer offline / reader offline"),
)
"""How the access capability's alarm kinds (matched by substring) become alerts."""


@dataclass(frozen=True)
class Condition:
    """A condition that holds now and should have an active alert."""

    key: str
    kind: str
    severity: str
    message: str
    detail: dict[str, Any]


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    detail = json.loads(row["detail_json"]) if row.get("detail_json") else {}
    state = "cleared" if row["cleared_at"] else "active"
    return {
        "id": row["id"],
        "key": row["key"],
        "kind": row["kind"],
        "severity": row["severity"],
        "message": row["message"],
        "detail": detail,
        "state": state,
        "acknowledged": row["acknowledged_at"] is not None,
        "raised_at": row["raised_at"],
        "cleared_at": row["cleared_at"],
        "acknowledged_at": row["acknowledged_at"],
        "acknowledged_by": row["acknowledged_by"],
    }


class AlertStore:
    """The ``alerts`` table.

    The active alerts are kept in memory between changes: every change of the room status asks for them (each
    tablet command changes the status), and they change only through this store, which the room's process is
    the one writer of.
    """

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._active: list[dict[str, Any]] | None = None  # as last read; None: read them again

    def _active_now(self) -> list[dict[str, Any]]:
        if self._active is None:
            sql = "select * from alerts where cleared_at is null order by raised_at desc, id desc"
            self._active = [_decode(r) for r in self.db.query(sql)]
        return self._active

    def get(self, alert_id: int) -> dict[str, Any]:
        """One alert.

        Raises:
            NotFoundError: No such alert.
        """
        rows = list(self.db.query("select * from alerts where id = ?", [alert_id]))
        if not rows:
            raise NotFoundError(f"alert {alert_id} does not exist")
        return _decode(rows[0])

    def active(self) -> list[dict[str, Any]]:
        """Alerts not cleared, newest first (copies: the caller may change them)."""
        return copy.deepcopy(self._active_now())

    def listing(self, state: str = "open", limit: int = 100) -> list[dict[str, Any]]:
        """Alerts in ``state`` (see :data:`ALERT_STATES`), newest first.

        Raises:
            ValidationError: Unknown state or a limit out of range.
        """
        if state not in ALERT_STATES:
            raise ValidationError(f"state must be one of {', '.join(ALERT_STATES)}")
        if not 1 <= limit <= MAX_LIST:
            raise ValidationError(f"limit must be from 1 to {MAX_LIST}")
        where = {
            "active": "where cleared_at is null",
            "open": "where cleared_at is null or acknowledged_at is null",
            "all": "",
        }[state]
        sql = f"select * from alerts {where} order by raised_at desc, id desc limit ?"  # noqa: S608
        return [_decode(r) for r in self.db.query(sql, [limit])]

    def reconcile(self, conditions: list[Condition], now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Raise alerts for new conditions and clear those whose condition ended; returns (raised, cleared).

        When the conditions match the active alerts, nothing is written (nor read, once they are in memory).
        """
        wanted = {c.key: c for c in conditions}
        active = {a["key"]: a for a in self._active_now()}
        if wanted.keys() == active.keys():
            return [], []
        raised_ids: list[int] = []
        cleared_ids: list[int] = []
        stamp = now.isoformat()
        self._active = None
        with self.db.atomic():
            for key, condition in wanted.items():
                if key in active:
                    continue
                table = self.db.table("alerts")
                table.insert(
                    {
                        "key": key,
                        "kind": condition.kind,
                        "severity": condition.severity,
                        "message": condition.message,
                        "detail_json": json.dumps(condition.detail, sort_keys=True),
                        "raised_at": stamp,
                    }
                )
                raised_ids.append(int(table.last_pk))  # type: ignore[arg-type]
            for key, row in active.items():
                if key not in wanted:
                    self.db.execute("update alerts set cleared_at = ? where id = ?", [stamp, row["id"]])
                    cleared_ids.append(int(row["id"]))
        raised = [self.get(i) for i in raised_ids]
        cleared = [self.get(i) for i in cleared_ids]
        for alert in raised:
            log.warning("alert raised: %s (%s)", alert["message"], alert["key"])
        for alert in cleared:
            log.info("alert cleared: %s (%s)", alert["message"], alert["key"])
        return raised, cleared

    def acknowledge(self, alert_id: int, by: str, now: datetime) -> dict[str, Any]:
        """Record that a person has seen the alert.

        Raises:
            NotFoundError: No such alert.
            ConflictError: It was acknowledged already (by whom and when is named).
        """
        alert = self.get(alert_id)
        if alert["acknowledged"]:
            raise ConflictError(
                f"alert {alert_id} was acknowledged already by {alert['acknowledged_by']} at {alert['acknowledged_at']}",
                acknowledged_by=alert["acknowledged_by"],
                acknowledged_at=alert["acknowledged_at"],
            )
        self._active = None
        with self.db.atomic():
            self.db.execute(
                "update alerts set acknowledged_at = ?, acknowledged_by = ? where id = ? and acknowledged_at is null",
                [now.isoformat(), by, alert_id],
            )
        return self.get(alert_id)

    def count_active_by_kind(self) -> dict[str, int]:
        """Active alerts per kind (for /metrics)."""
        return dict(collections.Counter(str(a["kind"]) for a in self._active_now()))


# -- conditions ---------------------------------------------------------------------------------------------


def device_conditions(status: dict[str, Any], settings: FacilitiesSettings) -> list[Condition]:
    """Devices offline and sensors out of range, from the room status' ``devices`` part."""
    part = status.get("devices") or {}
    devices = part.get("devices") if isinstance(part, dict) else None
    found: list[Condition] = []
    for device in devices if isinstance(devices, list) else []:
        if not isinstance(device, dict):
            continue
        device_id, name = str(device.get("id")), str(device.get("name") or device.get("id"))
        if device.get("availability") == "offline":
            found.append(
                Condition(
                    f"device_offline:{device_id}", "device_offline", "warning",
                    f"{name}: offline", {"device": device_id, "last_seen": device.get("last_seen")},
                )
            )
            continue
        value = (device.get("state") or {}).get("value")
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        kind = device.get("kind")
        if kind == "co2" and value > settings.co2_limit_ppm:
            found.append(
                Condition(
                    f"co2_high:{device_id}", "sensor_out_of_range", "warning",
                    f"{name}: CO2 {value:.0f} ppm (limit {settings.co2_limit_ppm:.0f})",
                    {"device": device_id, "value": value, "limit": settings.co2_limit_ppm},
                )
            )
        elif kind == "temperature" and not settings.temperature_min <= value <= settings.temperature_max:
            found.append(
                Condition(
                    f"temperature:{device_id}", "sensor_out_of_range", "warning",
                    f"{name}: {value:.1f} °C (range {settings.temperature_min:g}-{settings.temperature_max:g})",
                    {"device": device_id, "value": value},
                )
            )
    return found


def alarm_conditions(status: dict[str, Any]) -> list[Condition]:
    """Door held open or forced, reader locked out: from the room status' ``alarms`` part."""
    found: list[Condition] = []
    for alarm in active_alarms(status):
        raw = alarm["kind"]
        kind, severity, message = "alarm", "warning", f"Alarm: {raw}"
        for needle, mapped, level, text in ALARM_KINDS:
            if needle in raw.lower():
                kind, severity, message = mapped, level, text
                break
        where = alarm.get("reader") or alarm.get("door") or ""
        key = f"alarm:{raw}" + (f":{where}" if where else "")
        detail = {k: v for k, v in alarm.items() if isinstance(v, str | int | float | bool) or v is None}
        found.append(Condition(key, kind, severity, message + (f" ({where})" if where else ""), detail))
    return found


def disk_condition(data_dir: Path, settings: FacilitiesSettings) -> list[Condition]:
    """The data directory's disk has less free space than the limit."""
    try:
        usage = shutil.disk_usage(data_dir)
    except OSError as exc:
        return [Condition("disk_low", "disk_low", "critical", f"Opslag niet leesbaar / data dir unreadable: {exc}", {})]
    free_percent = 100.0 * usage.free / usage.total if usage.total else 0.0
    if free_percent >= settings.disk_min_free_percent:
        return []
    return [
        Condition(
            "disk_low", "disk_low", "critical",
            f"Schijf bijna vol / disk almost full: {free_percent:.1f} % free (limit {settings.disk_min_free_percent:g} %)",
            {"free_percent": round(free_percent, 1), "free_bytes": usage.free, "path": str(data_dir)},
        )
    ]


def health_conditions(report: dict[str, Any]) -> list[Condition]:
    """The speech worker is down or failing, from the room's health report."""
    components = report.get("components") or {}
    speech = components.get("speech")
    if not isinstance(speech, dict) or speech.get("status") == "ok":
        return []
    return [
        Condition(
            "speech_down", "speech_down", "warning",
            f"Spraakherkenning werkt niet / speech worker down: {speech.get('detail', '')}",
            {"status": speech.get("status")},
        )
    ]
