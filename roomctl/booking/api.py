"""Routes for members, badges (with enrol-by-tap) and groups; bookings, series and calendars are included."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from roomctl.api.deps import get_room
from roomctl.api.scope import RowId, ScopeDep
from roomctl.api.security import Role, allow
from roomctl.booking import api_bookings, api_series
from roomctl.booking.api_bookings import BookingDep
from roomctl.booking.repository import BookingRepository, Group
from roomctl.booking.rules import BookingRules
from roomctl.core.room import Room
from roomctl.errors import NotFoundError, ValidationError

router = APIRouter(tags=["booking"])

MIN_GROUP = 2
MAX_GROUP = 8


async def _repo(service: BookingDep) -> BookingRepository:
    """The booking repository (a coroutine: FastAPI runs plain-function dependencies in its thread pool)."""
    return service.repo


class MemberIn(BaseModel):
    """A new member."""

    name: str = Field(..., min_length=1, max_length=120)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")


class MemberPatch(BaseModel):
    """Changes to a member; ``email: null`` removes the address."""

    name: str | None = Field(None, min_length=1, max_length=120)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")


class BadgeIn(BaseModel):
    """A badge to enroll."""

    uid: str = Field(..., max_length=64, description="hex UID, e.g. 04A1B2C3D4E5F6 or 04:A1:B2:C3")


class GroupIn(BaseModel):
    """A new group of 2-8 members."""

    name: str = Field(..., min_length=1, max_length=120)
    member_ids: list[RowId] = Field(..., min_length=MIN_GROUP, max_length=MAX_GROUP)
    facilitator_id: RowId | None = None


class GroupPatch(BaseModel):
    """Changes to a group; ``facilitator_id: null`` removes the facilitator."""

    name: str | None = Field(None, min_length=1, max_length=120)
    member_ids: list[RowId] | None = Field(None, min_length=MIN_GROUP, max_length=MAX_GROUP)
    facilitator_id: RowId | None = None


def member_view(repo: BookingRepository, member_id: int) -> dict[str, Any]:
    """A member with their active badges."""
    member = repo.member(member_id)
    return {"id": member.id, "name": member.name, "email": member.email, "badges": repo.badges_of(member.id)}


def group_view(group: Group) -> dict[str, Any]:
    """A group as the API shows it."""
    return {"id": group.id, "name": group.name, "facilitator_id": group.facilitator_id, "member_ids": list(group.member_ids)}


def _check_people(repo: BookingRepository, member_ids: list[int], facilitator_id: int | None) -> None:
    if len(set(member_ids)) != len(member_ids):
        raise ValidationError("member_ids names a member twice; list each member once", field="member_ids")
    for member_id in [*member_ids, *([facilitator_id] if facilitator_id is not None else [])]:
        try:
            repo.member(member_id)
        except NotFoundError:
            raise ValidationError(f"member {member_id} does not exist; pick one from GET /api/v1/members", field="member_ids") from None


def _check_fits(room: Room, name: str, member_ids: list[int], facilitator_id: int | None) -> None:
    BookingRules(room.settings).check_capacity(Group(0, name, facilitator_id, tuple(member_ids)))


# -- members and badges -------------------------------------------------------------------------------------


@router.get("/members", dependencies=[allow(Role.ADMIN)])
async def list_members(repo: BookingRepository = Depends(_repo)) -> list[dict[str, Any]]:
    """Every active member with their active badges. Admin only."""
    return [member_view(repo, m.id) for m in repo.members()]


@router.post("/members", status_code=201, dependencies=[allow(Role.ADMIN)])
async def create_member(body: MemberIn, room: Room = Depends(get_room), repo: BookingRepository = Depends(_repo)) -> dict[str, Any]:
    """Create a member. Admin only."""
    member = repo.add_member(body.name, email=body.email, now=room.clock.now())
    return member_view(repo, member.id)


@router.patch("/members/{member_id}", dependencies=[allow(Role.ADMIN)])
async def update_member(member_id: int, body: MemberPatch, repo: BookingRepository = Depends(_repo)) -> dict[str, Any]:
    """Change a member's name or e-mail. Admin only."""
    repo.update_member(member_id, name=body.name, email=body.email, clear_email="email" in body.model_fields_set)
    return member_view(repo, member_id)


@router.delete("/members/{member_id}", status_code=204, dependencies=[allow(Role.ADMIN)])
async def remove_member(member_id: int, room: Room = Depends(get_room), repo: BookingRepository = Depends(_repo)) -> None:
    """A member leaves: hidden from lists and every badge revoked. Admin only."""
    repo.deactivate_member(member_id, now=room.clock.now())


@router.post("/members/{member_id}/badges", status_code=201, dependencies=[allow(Role.ADMIN)])
async def enroll_badge(
    member_id: int, body: BadgeIn, room: Room = Depends(get_room), repo: BookingRepository = Depends(_repo)
) -> dict[str, Any]:
    """Enroll a badge UID for a member (409 when it belongs to someone else). Admin only."""
    uid = repo.enroll_badge(member_id, body.uid, now=room.clock.now())
    return {"member_id": member_id, "uid": uid}


@router.delete("/badges/{uid}", status_code=204, dependencies=[allow(Role.ADMIN)])
async def revoke_badge(uid: str, room: Room = Depends(get_room), repo: BookingRepository = Depends(_repo)) -> None:
    """Revoke a badge. Admin only."""
    repo.revoke_badge(uid, now=room.clock.now())


@router.post("/members/{member_id}/badges/enrol-by-tap", status_code=202, dependencies=[allow(Role.ADMIN)])
async def arm_enrolment(*, member_id: int, service: BookingDep, room: Room = Depends(get_room)) -> dict[str, Any]:
    """The next badge tapped at the door is enrolled to this member (the door stays shut). Admin only.

    Read the outcome with ``GET /api/v1/enrolment``.
    """
    return service.enrolment.arm(member_id, now=room.clock.now(), seconds=room.settings.booking.enrol_wait_seconds)


@router.get("/enrolment", dependencies=[allow(Role.ADMIN)])
async def enrolment_status(*, service: BookingDep, room: Room = Depends(get_room)) -> dict[str, Any]:
    """Whether the reader waits for a badge to enroll, and the last outcome. Admin only."""
    return service.enrolment.status(room.clock.now())


@router.delete("/enrolment", dependencies=[allow(Role.ADMIN)])
async def cancel_enrolment(*, service: BookingDep, room: Room = Depends(get_room)) -> dict[str, Any]:
    """Stop waiting for a badge. Admin only."""
    return service.enrolment.disarm(room.clock.now())


@router.get("/booking/settings", dependencies=[allow(Role.ADMIN, Role.FACILITATOR, Role.FACILITIES)])
async def booking_settings(room: Room = Depends(get_room)) -> dict[str, Any]:
    """The room's booking rules as the pages need them (time zone, opening hours, limits) and the room's time."""
    settings = room.settings
    return {
        "timezone": settings.room.timezone,
        "now": room.clock.now().isoformat(),
        "capacity": settings.room.capacity,
        "opening_hours": dict(settings.room.opening_hours),
        **settings.booking.model_dump(),
    }


# -- groups -------------------------------------------------------------------------------------------------


@router.get("/groups", dependencies=[allow(Role.ADMIN, Role.FACILITATOR)])
async def list_groups(scope: ScopeDep, repo: BookingRepository = Depends(_repo)) -> list[dict[str, Any]]:
    """Every group the caller holds (admin: all; a facilitator's token: its own). Admin and facilitators."""
    return [group_view(g) for g in repo.groups() if scope.holds(g.id)]


@router.post("/groups", status_code=201, dependencies=[allow(Role.ADMIN)])
async def create_group(body: GroupIn, room: Room = Depends(get_room), repo: BookingRepository = Depends(_repo)) -> dict[str, Any]:
    """Create a group of 2-8 members that fits the room. Admin only."""
    _check_people(repo, body.member_ids, body.facilitator_id)
    _check_fits(room, body.name, body.member_ids, body.facilitator_id)
    group = repo.add_group(body.name, body.member_ids, facilitator_id=body.facilitator_id, now=room.clock.now())
    return group_view(group)


@router.patch("/groups/{group_id}", dependencies=[allow(Role.ADMIN)])
async def update_group(
    *,
    group_id: int, body: GroupPatch, service: BookingDep, room: Room = Depends(get_room)
) -> dict[str, Any]:
    """Rename a group, replace its members or change its facilitator. Admin only."""
    repo = service.repo
    current = repo.group(group_id)
    member_ids = body.member_ids if body.member_ids is not None else list(current.member_ids)
    clear = "facilitator_id" in body.model_fields_set and body.facilitator_id is None
    facilitator = None if clear else (body.facilitator_id or current.facilitator_id)
    _check_people(repo, member_ids, facilitator)
    _check_fits(room, body.name or current.name, member_ids, facilitator)
    group = repo.update_group(
        group_id, name=body.name, member_ids=body.member_ids, facilitator_id=body.facilitator_id, clear_facilitator=clear
    )
    service.refresh()
    return group_view(group)


router.include_router(api_bookings.router)
router.include_router(api_series.router)
