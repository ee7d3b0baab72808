"""Routes of the running session: its view and the tablet's commands."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from roomctl.api.deps import get_room
from roomctl.api.security import Role, allow
from roomctl.core.room import Room
from roomctl.session.events import SessionCommand

router = APIRouter(prefix="/api/v1", tags=["session"])


class CommandIn(BaseModel):
    """A tablet command."""

    command: str = Field(..., max_length=40, examples=["next"])
    args: dict[str, Any] = Field(default_factory=dict)


@router.get("/session", dependencies=[allow(Role.FACILITATOR, Role.ADMIN, Role.KIOSK)])
async def get_session(room: Room = Depends(get_room)) -> dict[str, Any]:
    """The running session (``{"phase": "idle"}`` when none runs)."""
    view: dict[str, Any] | None = room.service("session").current()
    return view or {"phase": "idle"}


@router.post("/session/commands", dependencies=[allow(Role.FACILITATOR, Role.ADMIN)])
async def post_command(body: CommandIn, room: Room = Depends(get_room)) -> dict[str, Any]:
    """Steer the session: next, previous, goto {index}, pause, resume, extend {minutes}, end."""
    result: dict[str, Any] = await room.dispatch(SessionCommand(source="api", command=body.command, args=body.args))
    return result
