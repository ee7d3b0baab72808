"""Routes of the running session: its view, the tablet's commands, the player's reports and tablet pairing.

The admin's content routes (videoframes, kader) are in :mod:`roomctl.session.api_content` and included here.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from roomctl.api.deps import get_room
from roomctl.api.scope import RunningSessionDep, in_running_session, owner_query, room_group
from roomctl.api.security import Role, allow, public
from roomctl.core.room import Room
from roomctl.errors import NotFoundError
from roomctl.session import api_content, api_weeks
from roomctl.session.api_content import SessionDep
from roomctl.session.commands import run_command
from roomctl.session.events import ClipReport
from roomctl.session.service import GROUP_OF_SESSION_SQL

router = APIRouter(tags=["session"])

MAX_PATH_CHARS = 4096
"""Longest clip source a player report may carry."""


class CommandIn(BaseModel):
    """A tablet command (see :mod:`roomctl.session.commands` for the list and their arguments)."""

    command: str = Field(..., max_length=40, examples=["next"])
    args: dict[str, Any] = Field(default_factory=dict)


class PlayerReportIn(BaseModel):
    """What the kiosk player reports about the clip it plays."""

    model_config = ConfigDict(extra="ignore")

    clip: str = Field(..., min_length=1, max_length=MAX_PATH_CHARS)
    step: str | None = Field(None, max_length=200)
    restart: int = Field(0, ge=0)
    state: Literal["playing", "paused", "ended", "error"]
    position_ms: int = Field(0, ge=0)
    length_ms: int | None = Field(None, ge=0)
    error: str | None = Field(None, max_length=2000)


session_group = owner_query("session_id", "session", GROUP_OF_SESSION_SQL)
"""The group a session was held by (the group scope's resolver for ``{session_id}``)."""


class PairIn(BaseModel):
    """The PIN the projector shows."""

    pin: str = Field(..., max_length=20, examples=["123456"])




@router.get("/session", dependencies=[allow(Role.FACILITATOR, Role.ADMIN, Role.KIOSK), in_running_session()])
async def get_session(service: SessionDep) -> dict[str, Any]:
    """The running session (``{"phase": "idle"}`` when none runs)."""
    view = service.current()
    return view or {"phase": "idle"}


@router.post("/session/commands", dependencies=[allow(Role.FACILITATOR, Role.ADMIN)])
async def post_command(body: CommandIn, scope: RunningSessionDep, room: Room = Depends(get_room)) -> dict[str, Any]:
    """Steer the session; a command that does not fit now is refused (409) and changes nothing.

    Commands: start, next, previous, goto {index}, pause, resume, extend {minutes}, end, play, pause_clip,
    restart_clip, show_question/hide_question {question}, situation/problem {text}, choose {questions},
    note {question, text}, consent {agreed}, record_start, record_stop, ask_proposal, verdict {verdict, remarks}.

    Only a caller holding the running session's group steers it; ``start`` only for a group it holds.
    """
    if body.command == "start":
        target = body.args.get("group_id", room_group(room))
        if isinstance(target, int) and not isinstance(target, bool):
            scope.require("group_id", target)
        elif target is None and scope.groups is not None:
            raise NotFoundError("no group this token holds has the room now; give group_id of a group you hold")
    return await run_command(room, body.command, body.args)


@router.post("/session/player", dependencies=[allow(Role.KIOSK, Role.ADMIN)])
async def post_player_report(body: PlayerReportIn, room: Room = Depends(get_room)) -> dict[str, Any]:
    """The kiosk player's report on the clip it plays (a report about an earlier start: ``accepted: false``)."""
    report = ClipReport(source="player", **body.model_dump())
    result: dict[str, Any] = await room.dispatch(report)
    return result


@router.post("/tablet/pair", dependencies=[public()], tags=["tablet"])
async def pair_tablet(body: PairIn, service: SessionDep, request: Request) -> dict[str, Any]:
    """Pair a tablet with the PIN on the projector; answers a facilitator token.

    The token is bound to the running session's group and booking and expires when that booking ends (paired
    while no session runs: bound to the next session that starts). Public: the PIN is the credential; wrong
    PINs lock the client out for a while (429), and many wrong PINs from anywhere rotate the PIN.
    """
    return service.pairing.pair(body.pin, client=request.client.host if request.client else "unknown")


@router.post("/tablet/pairing/show", dependencies=[public()], tags=["tablet"])
async def show_pin(service: SessionDep) -> dict[str, Any]:
    """Ask the projector to show the pairing PIN for a while; answers whether pairing is locked."""
    return service.pairing.request_show()


# Included after this module's own routes: a request is compared with the routes in order, and the tablet's
# commands come many times a minute, the content and week routes now and then. No path of theirs matches one
# of the routes above, so the order changes no answer (tests/test_api_security.py checks every route's path).
router.include_router(api_content.router)
router.include_router(api_weeks.router)
