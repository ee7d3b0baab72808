"""Per-component health, the source of ``GET /healthz`` and ``roomctl doctor``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)

Status = Literal["ok", "degraded", "down"]


@dataclass(frozen=True)
class ComponentHealth:
    """The state of one component, with a sentence saying what is wrong and how to fix it."""

    status: Status
    detail: str = ""


@dataclass(frozen=True)
class _Check:
    check: Callable[[], ComponentHealth]
    critical: bool


class HealthRegistry:
    """Components register a check; the room is ``down`` when a critical one is down.

    Critical components are those without which the room cannot work (the database, the door). A broker or
    LLM outage only degrades the room: the door keeps working without them.
    """

    def __init__(self) -> None:
        self._checks: dict[str, _Check] = {}

    def register(self, name: str, check: Callable[[], ComponentHealth], *, critical: bool = False) -> None:
        """Add (or replace) the check for component ``name``."""
        self._checks[name] = _Check(check, critical)

    def report(self) -> dict[str, object]:
        """Run every check: ``{"status": ..., "components": {name: {"status", "detail", "critical"}}}``."""
        components: dict[str, dict[str, object]] = {}
        overall: Status = "ok"
        for name, entry in sorted(self._checks.items()):
            try:
                result = entry.check()
            except Exception as exc:  # a failing check is itself a finding
                log.exception("health check %s failed", name)
                result = ComponentHealth("down", f"health check failed: {exc}")
            components[name] = {"status": result.status, "detail": result.detail, "critical": entry.critical}
            if result.status == "down" and entry.critical:
                overall = "down"
            elif result.status != "ok" and overall == "ok":
                overall = "degraded"
        return {"status": overall, "components": components}
