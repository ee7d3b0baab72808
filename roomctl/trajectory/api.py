"""Routes of the trajectory: the member's own page data, their changes, their report; the admin's link.

Only the member sees their trajectory: the routes take a ``member`` token bound to that member, and no other
role may read it. An admin can make a personal link (a new member token in the page's URL), shown once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from roomctl.api.deps import provide
from roomctl.api.security import Principal, Role, allow
from roomctl.errors import NotFoundError
from roomctl.store.db import MAX_ID
from roomctl.trajectory.service import TrajectoryService
from roomctl.trajectory.store import MAX_MINUTES_PER_WEEK, MAX_NEEDS, MAX_WEEKS, MAX_WISHES_CHARS

router = APIRouter(tags=["trajectory"])

TrajectoryDep = Annotated[TrajectoryService, Depends(provide(TrajectoryService))]
"""The trajectory service, the one way these routes reach it."""


class TrajectoryIn(BaseModel):
    """What the member sets; fields left out keep their value."""

    group_id: int | None = Field(None, ge=1, le=MAX_ID, description="needed when you are in more than one group")
    starts_on: str | None = Field(None, max_length=10, examples=["2026-03-02"])
    weeks: int | None = Field(None, ge=1, le=MAX_WEEKS)
    minutes_per_week: int | None = Field(None, ge=1, le=MAX_MINUTES_PER_WEEK)
    questions: list[str] | None = Field(None, max_length=50)
    learning_needs: list[str] | None = Field(None, max_length=MAX_NEEDS * 2)
    wishes: str | None = Field(None, max_length=MAX_WISHES_CHARS * 2)


def _member(principal: Principal) -> int:
    if principal.member_id is None:
        raise NotFoundError("this member token is bound to no member; ask an admin for your personal trajectory link")
    return principal.member_id


@router.get("/trajectory/me")
async def my_trajectory(service: TrajectoryDep, principal: Principal = allow(Role.MEMBER)) -> dict[str, Any]:
    """Your trajectory, your progress (minutes used against agreed), suggested learning needs."""
    return service.view(_member(principal))


@router.put("/trajectory/me")
async def save_my_trajectory(
    body: TrajectoryIn, service: TrajectoryDep, principal: Principal = allow(Role.MEMBER)
) -> dict[str, Any]:
    """Compose or change your trajectory (422 says which field to change; nothing is stored then)."""
    return service.save(_member(principal), body.model_dump(exclude_unset=True))


@router.get("/trajectory/me/report")
async def my_talent_report(service: TrajectoryDep, principal: Principal = allow(Role.MEMBER)) -> dict[str, Any]:
    """For the Talentontwikkelgesprek: minutes used against agreed, and proposal titles only."""
    return service.report(_member(principal))


@router.post("/members/{member_id}/trajectory-link", dependencies=[allow(Role.ADMIN)], status_code=201)
async def trajectory_link(member_id: Annotated[int, Path(ge=1, le=MAX_ID)], service: TrajectoryDep) -> JSONResponse:
    """A personal trajectory link for a member (a new member token in the URL), shown only in this answer."""
    return JSONResponse(service.personal_link(member_id), status_code=201, headers={"Cache-Control": "no-store"})


__all__ = ["router"]
