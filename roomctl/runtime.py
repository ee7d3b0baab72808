"""Putting a room together: settings → database → room core → capabilities → HTTP app.

Each capability is a package under ``roomctl/`` with a module ``capability`` that defines
``install(room: Room) -> None`` (registers its services, event handlers, health checks and state parts) and,
if it has HTTP routes, a module ``api`` with a FastAPI ``router``. They are listed in :data:`CAPABILITIES`
in the order they start.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

from fastapi import APIRouter

from roomctl.config import Settings
from roomctl.core.clock import Clock
from roomctl.core.room import Room
from roomctl.store import open_database

log = logging.getLogger(__name__)

CAPABILITIES: tuple[str, ...] = (
    "roomctl.devices",
    "roomctl.booking",
    "roomctl.access",
    "roomctl.session",
    "roomctl.speech",
    "roomctl.proposal",
    "roomctl.facilities",
    "roomctl.ops",
)
"""Capability packages, in start order (each ``roomctl.<name>``)."""


@dataclass(frozen=True)
class Capability:
    """One capability's hooks."""

    name: str
    install: object
    router: APIRouter | None


def load_capabilities() -> list[Capability]:
    """Import every capability's ``capability.install`` and optional ``api.router``."""
    found: list[Capability] = []
    for package in CAPABILITIES:
        module = importlib.import_module(f"{package}.capability")
        try:
            api = importlib.import_module(f"{package}.api")
            router = getattr(api, "router", None)
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.api":
                raise
            router = None
        found.append(Capability(package.rsplit(".", 1)[-1], module.install, router))
    return found


def build_room(settings: Settings, clock: Clock | None = None) -> Room:
    """Open the database (running migrations) and build the room with every capability installed."""
    db = open_database(settings.storage.database_path)
    room = Room(settings, db, clock)
    room.screen.set("room", {"name": settings.room.name, "id": settings.room.id, "language": settings.room.language})
    for capability in load_capabilities():
        capability.install(room)  # type: ignore[operator]
    return room
