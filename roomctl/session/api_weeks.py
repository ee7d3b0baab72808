"""Routes over weeks: cycles, unfollowed proposals, guests and door codes, kader resources.

Included in the session router.

Group routes are scoped by the API's one group-scope mechanism (:mod:`roomctl.api.scope`, through
``{group_id}`` and ``{booking_id}``): admins see every group, a token bound to a member the groups they belong
to or facilitate, a paired tablet the group whose session runs now; another group's object is not found.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from roomctl.api.deps import get_room, provide
from roomctl.api.security import Principal, Role, allow
from roomctl.core.room import Room
from roomctl.session.api_content import SessionDep
from roomctl.session.cycles import HISTORY_LIMIT
from roomctl.session.guests import CODE_DIGITS, MAX_NAME_CHARS, DoorCodeEntered, GuestService
from roomctl.session.resources import MAX_TITLE_CHARS, MAX_URL_CHARS, qr_svg
from roomctl.session.weeks import WeekService
from roomctl.store.db import MAX_ID

router = APIRouter(tags=["weeks"])

WeekDep = Annotated[WeekService, Depends(provide(WeekService))]
"""The week's service (cycles, follow-ups, resources)."""
GuestDep = Annotated[GuestService, Depends(provide(GuestService))]
"""The guests of sessions."""
GroupId = Annotated[int, Path(ge=1, le=MAX_ID)]
BookingId = Annotated[int, Path(ge=1, le=MAX_ID)]
GROUP_READERS = (Role.ADMIN, Role.FACILITATOR, Role.MEMBER)


class GuestIn(BaseModel):
    """A guest invited to one session."""

    name: str = Field(..., max_length=MAX_NAME_CHARS * 2, examples=["Petra de Gast"])
    kind: Literal["colleague", "expert"] = "colleague"
    badge_uid: str | None = Field(None, max_length=64, description="a temporary badge instead of a door code")


class DoorCodeIn(BaseModel):
    """A door code typed on the reader's keypad or the tablet."""

    code: str = Field(..., max_length=CODE_DIGITS * 2, examples=["12345678"])


class ResourceIn(BaseModel):
    """A way to answer a kader question."""

    kind: Literal["clip", "podcast", "film", "article", "elearning"]
    title: str = Field(..., max_length=MAX_TITLE_CHARS * 2)
    url: str = Field(..., max_length=MAX_URL_CHARS + 1)


@router.get("/groups/{group_id}/cycles")
async def group_cycles(
    group_id: GroupId, weeks: WeekDep, session: SessionDep, room: Room = Depends(get_room),
    principal: Principal = allow(*GROUP_READERS),
) -> list[dict[str, Any]]:
    """The group's cycles (weeks), newest first: the questions and work situations chosen, and every change."""
    return weeks.cycles.history(group_id, HISTORY_LIMIT)


@router.get("/groups/{group_id}/cycles/current")
async def current_cycle(
    group_id: GroupId, weeks: WeekDep, session: SessionDep, room: Room = Depends(get_room),
    principal: Principal = allow(*GROUP_READERS),
) -> dict[str, Any]:
    """This week's cycle of the group, with its booked sessions and any closure in the week."""
    return weeks.cycles.view(weeks.cycles.for_week(group_id, room.clock.now()))


@router.get("/groups/{group_id}/proposals/unfollowed")
async def unfollowed_proposals(
    group_id: GroupId, weeks: WeekDep, session: SessionDep, room: Room = Depends(get_room),
    principal: Principal = allow(*GROUP_READERS),
) -> list[dict[str, Any]]:
    """The group's validated proposals that were never followed up (title, a few steps, when decided)."""
    return weeks.open_followups(group_id)


@router.post("/bookings/{booking_id}/guests", status_code=201)
async def invite_guest(
    booking_id: BookingId, body: GuestIn, guests: GuestDep, session: SessionDep, room: Room = Depends(get_room),
    principal: Principal = allow(*GROUP_READERS),
) -> JSONResponse:
    """Invite a colleague or expert to one session; the answer holds the door code, shown this once."""
    by = principal.label or f"{principal.role.value} token {principal.token_id}"
    answer = guests.invite(booking_id, body.name, body.kind, invited_by=by, badge_uid=body.badge_uid)
    return JSONResponse(answer, status_code=201, headers={"Cache-Control": "no-store"})


@router.get("/bookings/{booking_id}/guests")
async def list_guests(
    booking_id: BookingId, guests: GuestDep, session: SessionDep, room: Room = Depends(get_room),
    principal: Principal = allow(*GROUP_READERS),
) -> list[dict[str, Any]]:
    """The session's guests (never their codes)."""
    return guests.of_booking(booking_id)


@router.post("/door/codes", tags=["door"])
async def enter_door_code(
    body: DoorCodeIn, room: Room = Depends(get_room),
    principal: Principal = allow(Role.READER, Role.FACILITATOR, Role.ADMIN),
) -> dict[str, Any]:
    """A guest's door code from the reader's keypad or the tablet; answers whether the door opened and why not.

    The caller's token is the reader: wrong codes lock that token out (and the audit names it), whatever the
    caller calls itself.
    """
    reader = f"code-token-{principal.token_id}"
    answer: dict[str, Any] = await room.dispatch(DoorCodeEntered(source="api", code=body.code, reader=reader))
    return answer


@router.get("/kader/{question_id}/resources", dependencies=[allow(Role.ADMIN, Role.FACILITATOR, Role.KIOSK)])
async def list_resources(question_id: str, weeks: WeekDep) -> list[dict[str, Any]]:
    """A question's resources, each with its QR code (an SVG data URI drawn on the Pi)."""
    return [{**r, "qr": qr_svg(r["url"])} for r in weeks.resources.of_question(question_id)]


@router.post("/kader/{question_id}/resources", dependencies=[allow(Role.ADMIN)], status_code=201)
async def add_resource(question_id: str, body: ResourceIn, weeks: WeekDep) -> dict[str, Any]:
    """Add a clip, podcast, film, article or e-learning to a question (http(s) links only)."""
    resource = weeks.resources.add(question_id, body.kind, body.title, body.url)
    weeks.refresh_resources()
    return resource


@router.delete("/kader/resources/{resource_id}", dependencies=[allow(Role.ADMIN)], status_code=204)
async def remove_resource(resource_id: Annotated[int, Path(ge=1, le=MAX_ID)], weeks: WeekDep) -> None:
    """Remove a resource."""
    weeks.resources.remove(resource_id)
    weeks.refresh_resources()
