"""Routes for members, badges, groups and bookings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from roomctl.api.deps import get_room
from roomctl.api.security import Role, allow
from roomctl.booking.repository import BookingRepository
from roomctl.core.room import Room

router = APIRouter(prefix="/api/v1", tags=["booking"])


def _repo(room: Room = Depends(get_room)) -> BookingRepository:
    return BookingRepository(room.db)


class MemberIn(BaseModel):
    """A new member."""

    name: str = Field(..., min_length=1, max_length=120)
    email: str | None = Field(None, max_length=200)


class BadgeIn(BaseModel):
    """A badge to enroll."""

    uid: str = Field(..., max_length=64)


class GroupIn(BaseModel):
    """A new group."""

    name: str = Field(..., min_length=1, max_length=120)
    member_ids: list[int] = Field(..., min_length=2, max_length=8)
    facilitator_id: int | None = None


class BookingIn(BaseModel):
    """A single booking."""

    group_id: int
    start: datetime
    end: datetime


@router.get("/members", dependencies=[allow(Role.ADMIN)])
async def list_members(repo: BookingRepository = Depends(_repo)) -> list[dict[str, Any]]:
    """Every member with their active badges. Admin only."""
    return [{"id": m.id, "name": m.name, "email": m.email, "badges": repo.badges_of(m.id)} for m in repo.members()]


@router.post("/members", status_code=201, dependencies=[allow(Role.ADMIN)])
async def create_member(body: MemberIn, room: Room = Depends(get_room), repo: BookingRepository = Depends(_repo)) -> dict[str, Any]:
    """Create a member. Admin only."""
    member = repo.add_member(body.name, email=body.email, now=room.clock.now())
    return {"id": member.id, "name": member.name, "email": member.email, "badges": []}


@router.post("/members/{member_id}/badges", status_code=201, dependencies=[allow(Role.ADMIN)])
async def enroll_badge(
    member_id: int, body: BadgeIn, room: Room = Depends(get_room), repo: BookingRepository = Depends(_repo)
) -> dict[str, Any]:
    """Enroll a badge UID for a member. Admin only."""
    uid = repo.enroll_badge(member_id, body.uid, now=room.clock.now())
    return {"member_id": member_id, "uid": uid}


@router.delete("/badges/{uid}", status_code=204, dependencies=[allow(Role.ADMIN)])
async def revoke_badge(uid: str, room: Room = Depends(get_room), repo: BookingRepository = Depends(_repo)) -> None:
    """Revoke a badge. Admin only."""
    repo.revoke_badge(uid, now=room.clock.now())


@router.get("/groups", dependencies=[allow(Role.ADMIN, Role.FACILITATOR)])
async def list_groups(repo: BookingRepository = Depends(_repo)) -> list[dict[str, Any]]:
    """Every group. Admin and facilitators."""
    return [
        {"id": g.id, "name": g.name, "facilitator_id": g.facilitator_id, "member_ids": list(g.member_ids)}
        for g in repo.groups()
    ]


@router.post("/groups", status_code=201, dependencies=[allow(Role.ADMIN)])
async def create_group(body: GroupIn, room: Room = Depends(get_room), repo: BookingRepository = Depends(_repo)) -> dict[str, Any]:
    """Create a group of 2-8 members. Admin only."""
    group = repo.add_group(body.name, body.member_ids, facilitator_id=body.facilitator_id, now=room.clock.now())
    return {"id": group.id, "name": group.name, "facilitator_id": group.facilitator_id, "member_ids": list(group.member_ids)}


@router.get("/bookings", dependencies=[allow(Role.ADMIN, Role.FACILITATOR, Role.FACILITIES, Role.KIOSK)])
async def list_bookings(
    start: datetime = Query(..., description="ISO 8601 with offset"),
    end: datetime = Query(..., description="ISO 8601 with offset"),
    repo: BookingRepository = Depends(_repo),
) -> list[dict[str, Any]]:
    """Bookings overlapping a period."""
    return [b.as_dict() for b in repo.between(start, end)]


@router.post("/bookings", status_code=201, dependencies=[allow(Role.ADMIN)])
async def create_booking(body: BookingIn, room: Room = Depends(get_room), repo: BookingRepository = Depends(_repo)) -> dict[str, Any]:
    """Book the room once for a group; 409 names every conflicting booking. Admin only."""
    booking = repo.add_booking(body.group_id, body.start, body.end, now=room.clock.now())
    room.service("booking").refresh()
    return booking.as_dict()
