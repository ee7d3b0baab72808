"""The door's alarms: held open, forced, a reader locked out, a reader offline.

Each alarm is raised once per cause (kind + subject) and cleared when the cause ends; both are written to the
audit trail. Active and recently cleared alarms form the screen and status part ``alarms``:
``{"active": [alarm, ...], "recent": [alarm, ...]}``, each alarm ``{id, kind, since, active, detail, reader,
cleared}``. The ``/facilities`` page and the site view read it from there (and the MQTT room state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from roomctl.access.audit import AuditLog
from roomctl.core.clock import Clock

log = logging.getLogger(__name__)

RECENT_ALARMS_KEPT = 20
"""Cleared alarms kept in the part (the audit trail keeps all of them)."""


class AlarmKind(StrEnum):
    """What went wrong at the door."""

    HELD_OPEN = "held_open"
    FORCED = "forced"
    LOCKOUT = "lockout"
    READER_OFFLINE = "reader_offline"


@dataclass(frozen=True)
class Alarm:
    """One alarm; ``id`` is the audit entry that raised it."""

    id: int
    kind: AlarmKind
    subject: str
    since: datetime
    detail: str
    active: bool = True
    cleared: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the ``alarms`` part and ``GET /api/v1/alarms``)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "since": self.since.isoformat(),
            "active": self.active,
            "detail": self.detail,
            "reader": self.subject if self.kind in (AlarmKind.LOCKOUT, AlarmKind.READER_OFFLINE) else None,
            "door": self.subject if self.kind in (AlarmKind.HELD_OPEN, AlarmKind.FORCED) else None,
            "cleared": self.cleared.isoformat() if self.cleared else None,
        }


class AlarmBoard:
    """Raises and clears alarms, records them, and publishes the part.

    Args:
        audit: Where raises and clears are recorded.
        clock: The room's clock.
        publish: Called with the new part after every change.
    """

    def __init__(self, audit: AuditLog, clock: Clock, publish: Callable[[dict[str, Any]], None]) -> None:
        self._audit = audit
        self._clock = clock
        self._publish = publish
        self._active: dict[tuple[AlarmKind, str], Alarm] = {}
        self._recent: list[Alarm] = []

    def raise_alarm(self, kind: AlarmKind, subject: str, detail: str) -> Alarm:
        """Raise ``kind`` for ``subject`` unless it is already active; return the active alarm."""
        key = (kind, subject)
        if key in self._active:
            return self._active[key]
        now = self._clock.now()
        entry = self._audit.append(
            now, "alarm", reader=subject, decision="raised", reason=kind.value, detail={"detail": detail}
        )
        alarm = Alarm(entry, kind, subject, now, detail)
        self._active[key] = alarm
        log.warning("alarm %s at %s: %s", kind.value, subject, detail)
        self._changed()
        return alarm

    def clear(self, kind: AlarmKind, subject: str, detail: str = "") -> Alarm | None:
        """End the alarm ``kind`` for ``subject`` if it is active."""
        alarm = self._active.pop((kind, subject), None)
        if alarm is None:
            return None
        now = self._clock.now()
        self._audit.append(
            now, "alarm", reader=subject, decision="cleared", reason=kind.value,
            detail={"alarm_id": alarm.id, "detail": detail} if detail else {"alarm_id": alarm.id},
        )
        ended = replace(alarm, active=False, cleared=now)
        self._recent = [ended, *self._recent][:RECENT_ALARMS_KEPT]
        log.info("alarm %s at %s cleared", kind.value, subject)
        self._changed()
        return ended

    def is_active(self, kind: AlarmKind, subject: str) -> bool:
        """True while that alarm is raised."""
        return (kind, subject) in self._active

    def active(self) -> list[Alarm]:
        """Active alarms, oldest first."""
        return sorted(self._active.values(), key=lambda a: a.id)

    def listing(self) -> list[dict[str, Any]]:
        """Active alarms, then recently cleared ones (newest first)."""
        return [a.as_dict() for a in self.active()] + [a.as_dict() for a in self._recent]

    def part(self) -> dict[str, Any]:
        """The ``alarms`` screen and status part."""
        return {"active": [a.as_dict() for a in self.active()], "recent": [a.as_dict() for a in self._recent]}

    def _changed(self) -> None:
        self._publish(self.part())
