"""Installs the session: the state machine service."""

from __future__ import annotations

from roomctl.core.room import Room
from roomctl.session.service import SessionService


def install(room: Room) -> None:
    """Add the session service."""
    room.add_service(SessionService(room))
