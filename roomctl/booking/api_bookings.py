"""Routes for bookings: list, book, move or cancel (this or this-and-following), extend and end early."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field

from roomctl.api.deps import get_room, provide
from roomctl.api.scope import RowId, ScopeDep, owner_query
from roomctl.api.security import Role, allow
from roomctl.booking.repository import Booking
from roomctl.booking.service import BookingService
from roomctl.core.room import Room
from roomctl.errors import ValidationError

router = APIRouter(tags=["booking"])

MAX_EXTEND_MINUTES = 120
MAX_LIST_DAYS = 800
"""``GET /bookings`` answers for at most this many days at once."""


BookingDep = Annotated[BookingService, Depends(provide(BookingService))]
"""The booking service, the one way booking's routes reach it."""


group_itself = owner_query("group_id", "group", "select id from groups where id = ?")
"""A group owns itself (the group scope's resolver for ``{group_id}``)."""
booking_group = owner_query("booking_id", "booking", "select group_id from bookings where id = ?")
"""The group a booking is for (``{booking_id}``)."""
series_group = owner_query("series_id", "series", "select group_id from series where id = ?")
"""The group a series is for (``{series_id}``)."""


class BookingIn(BaseModel):
    """A single booking; times are ISO 8601 with an offset."""

    group_id: RowId
    start: AwareDatetime
    end: AwareDatetime


class BookingMove(BaseModel):
    """Move a booking; ``scope=following`` moves the rest of its series by the same change."""

    start: AwareDatetime
    end: AwareDatetime
    scope: Literal["this", "following"] = "this"


class ExtendIn(BaseModel):
    """How many minutes to add to a running booking."""

    minutes: int = Field(..., ge=1, le=MAX_EXTEND_MINUTES)


def _views(service: BookingService, bookings: list[Booking]) -> list[dict[str, Any]]:
    names = {g.id: g.name for g in service.repo.groups()}
    return [{**b.as_dict(), "group": names.get(b.group_id)} for b in bookings]


@router.get("/bookings", dependencies=[allow(Role.ADMIN, Role.FACILITATOR, Role.FACILITIES, Role.KIOSK)])
async def list_bookings(
    *,
    start: AwareDatetime = Query(..., description="ISO 8601 with offset"),
    end: AwareDatetime = Query(..., description="ISO 8601 with offset"),
    group: int | None = Query(None, description="only this group's bookings"),
    service: BookingDep,
    scope: ScopeDep,
) -> list[dict[str, Any]]:
    """Active bookings overlapping a period, in time order (at most 800 days at once).

    A facilitator's or tablet's token sees its own groups' bookings only.
    """
    if end <= start or (end - start).days > MAX_LIST_DAYS:
        raise ValidationError(f"end must follow start, at most {MAX_LIST_DAYS} days later", field="end")
    scope.require("group_id", group)
    found = service.repo.overlapping(start, end)
    return _views(service, [b for b in found if (group is None or b.group_id == group) and scope.holds(b.group_id)])


@router.post("/bookings", status_code=201, dependencies=[allow(Role.ADMIN)])
async def create_booking(
    *,
    body: BookingIn, room: Room = Depends(get_room), service: BookingDep
) -> dict[str, Any]:
    """Book the room once for a group. 422 names broken rules, 409 every conflicting booking. Admin only."""
    booking = service.scheduler.book(body.group_id, body.start, body.end, now=room.clock.now())
    service.refresh()
    return _views(service, [booking])[0]


@router.get("/bookings/{booking_id}", dependencies=[allow(Role.ADMIN, Role.FACILITATOR, Role.FACILITIES)])
async def get_booking(*, booking_id: int, service: BookingDep) -> dict[str, Any]:
    """One booking, whatever its status."""
    return _views(service, [service.repo.booking(booking_id)])[0]


@router.patch("/bookings/{booking_id}", dependencies=[allow(Role.ADMIN)])
async def move_booking(
    *,
    booking_id: int, body: BookingMove, room: Room = Depends(get_room), service: BookingDep
) -> list[dict[str, Any]]:
    """Move a booking, or it and the rest of its series (``scope=following``); answers the moved bookings. Admin."""
    now = room.clock.now()
    if body.scope == "following":
        moved = service.series.move_following(booking_id, body.start, body.end, now=now)
    else:
        moved = [service.scheduler.move(booking_id, body.start, body.end, now=now)]
    service.refresh()
    return _views(service, moved)


@router.delete("/bookings/{booking_id}", dependencies=[allow(Role.ADMIN)])
async def cancel_booking(
    *,
    booking_id: int,
    scope: Literal["this", "following"] = Query("this", description="this occurrence, or it and the rest of its series"),
    room: Room = Depends(get_room),
    service: BookingDep,
) -> list[dict[str, Any]]:
    """Cancel a booking, or it and the rest of its series; answers the cancelled bookings. Admin only."""
    now = room.clock.now()
    if scope == "following":
        cancelled = service.series.cancel_following(booking_id, now=now)
    else:
        cancelled = [service.scheduler.cancel(booking_id, now=now)]
    service.refresh()
    return _views(service, cancelled)


@router.post("/bookings/{booking_id}/extend")
async def extend_booking(
    *,
    booking_id: int,
    body: ExtendIn,
    room: Room = Depends(get_room),
    service: BookingDep,
    _principal: Any = allow(Role.ADMIN, Role.FACILITATOR),
) -> dict[str, Any]:
    """Extend a running booking; 409 when the room is not free after it. Facilitator and admin."""
    return _views(service, [service.extend(booking_id, body.minutes, room.clock.now())])[0]


@router.post("/bookings/{booking_id}/end")
async def end_booking(
    *,
    booking_id: int,
    room: Room = Depends(get_room),
    service: BookingDep,
    _principal: Any = allow(Role.ADMIN, Role.FACILITATOR),
) -> dict[str, Any]:
    """End a running booking now, freeing the rest of its slot. Facilitator and admin."""
    return _views(service, [service.end_early(booking_id, room.clock.now())])[0]
