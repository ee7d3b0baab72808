"""Routes of facilities: the site's rooms (JSON and live), alerts, room-use analytics, learning time.

Facilities staff see rooms, devices, alarms and aggregate use. The learning-time report is for the member
themselves (a ``member`` token bound to them), the facilitator of their group (a ``facilitator`` token bound
to that facilitator) and admins; facilities tokens never get it.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, WebSocket
from fastapi.responses import PlainTextResponse, Response

from roomctl.api.deps import get_room, get_room_ws, provide
from roomctl.api.feeds import token_alive
from roomctl.api.push import push
from roomctl.api.scope import ScopeDep
from roomctl.api.security import Principal, Role, allow, allow_ws
from roomctl.booking.repository import BookingRepository
from roomctl.core.room import Room
from roomctl.errors import NotFoundError
from roomctl.facilities import learning
from roomctl.facilities.analytics import utilisation, utilisation_csv
from roomctl.facilities.period import Period, parse_period
from roomctl.facilities.service import FacilitiesService

log = logging.getLogger(__name__)

router = APIRouter(tags=["facilities"])
RoomDep = Annotated[Room, Depends(get_room)]
RoomWsDep = Annotated[Room, Depends(get_room_ws)]
StartQ = Annotated[str | None, Query(max_length=40, description="date (room-local day) or instant; default 30 days ago")]
EndQ = Annotated[str | None, Query(max_length=40, description="date (that whole day included) or instant; default now")]

STAFF = (Role.FACILITIES, Role.ADMIN)
REPORT_READERS = (Role.MEMBER, Role.FACILITATOR, Role.ADMIN)
WS_RESEND_SECONDS = 20.0
"""Without a change the WebSocket sends the overview again this often (ages move, proxies stay open)."""


FacilitiesDep = Annotated[FacilitiesService, Depends(provide(FacilitiesService))]
"""The facilities service, the one way these routes reach it."""


def _period(room: Room, start: str | None, end: str | None) -> Period:
    return parse_period(start, end, room.settings.room.tz, room.clock.now())


# -- rooms and alerts -----------------------------------------------------------------------------------------


@router.get("/facilities/rooms", dependencies=[allow(*STAFF)])
async def rooms(service: FacilitiesDep) -> dict[str, Any]:
    """Every room of the site (status, phase, next booking, door, alarms, devices, sensors) and open alerts."""
    return service.overview()


@router.websocket("/facilities/ws")
async def rooms_live(
    websocket: WebSocket, service: FacilitiesDep, room: RoomWsDep, principal: Principal = allow_ws(*STAFF)
) -> None:
    """The same overview as ``/facilities/rooms``, pushed on every change (``?token=``); closes when the token ends."""
    await push(websocket, service.site.subscribe, service.overview, resend_seconds=WS_RESEND_SECONDS,
               alive=token_alive(room, principal))  # fmt: skip


@router.get("/facilities/alerts", dependencies=[allow(*STAFF)])
async def list_alerts(
    service: FacilitiesDep,
    state: Annotated[Literal["active", "open", "all"], Query(description="open: active or not acknowledged")] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Alerts with their times and state, newest first."""
    return {"alerts": service.alerts.listing(state, limit)}


@router.post("/facilities/alerts/{alert_id}/ack")
async def acknowledge_alert(alert_id: int, service: FacilitiesDep, principal: Principal = allow(*STAFF)) -> dict[str, Any]:
    """Acknowledge an alert: staff have seen it (409 if someone did already)."""
    by = principal.label or f"{principal.role.value} token {principal.token_id}"
    return service.acknowledge(alert_id, by)


# -- analytics ------------------------------------------------------------------------------------------------


@router.get("/reports/utilisation", dependencies=[allow(*STAFF)], response_model=None)
async def utilisation_report(
    room: RoomDep, start: StartQ = None, end: EndQ = None, format: Literal["json", "csv"] = "json"
) -> dict[str, Any] | Response:
    """Room use over a period (counts only); ``?format=csv`` for a spreadsheet.

    Booked and used hours, the weekday/hour heat map, no-shows, re-used slots, session length, proposals
    validated.
    """
    period = _period(room, start, end)
    report = utilisation(room.db, period, room.settings.room.tz, room.clock.now())
    report["room"] = {"id": room.settings.room.id, "name": room.settings.room.name}
    if format == "csv":
        name = f"utilisation-{room.settings.room.id}-{period.start.date()}-{period.end.date()}.csv"
        return PlainTextResponse(
            utilisation_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return report


# -- learning time --------------------------------------------------------------------------------------------


@router.get("/reports/learning-time/me")
async def my_learning_time(
    room: RoomDep, start: StartQ = None, end: EndQ = None, principal: Principal = allow(Role.MEMBER)
) -> dict[str, Any]:
    """The calling member's own learning-time report."""
    if principal.member_id is None:
        raise NotFoundError("this member token is bound to no member; ask an admin for one made with --member")
    return learning.member_report(room.db, principal.member_id, _period(room, start, end), room.settings.room.tz, room.clock.now())


@router.get("/reports/learning-time/subjects")
async def learning_time_subjects(room: RoomDep, scope: ScopeDep, _principal: Any = allow(*REPORT_READERS)) -> dict[str, Any]:
    """The members and groups whose report the caller may see (for the report page's choice)."""
    db = room.db
    people = BookingRepository(db)
    group_ids = scope.visible(g.id for g in people.groups()) if scope.reports else []
    member_ids = [m.id for m in people.members() if scope.holds_member(m.id)]
    if scope.principal.role == Role.FACILITATOR:  # the groups' members, not the facilitator's own report
        members_of_groups = {m for g in group_ids for m in learning.groups_of_members(db, g)}
        member_ids = [m for m in member_ids if m in members_of_groups]
    return {
        "members": [{"id": m, "name": learning.member_name(db, m)} for m in member_ids],
        "groups": [{"id": g, "name": learning.group_name(db, g)} for g in group_ids],
    }


@router.get("/reports/learning-time/members/{member_id}")
async def member_learning_time(
    member_id: int, room: RoomDep, start: StartQ = None, end: EndQ = None, _principal: Any = allow(*REPORT_READERS)
) -> dict[str, Any]:
    """Minutes of learning time a member used against the time offered, and their groups' validated proposals.

    The member themselves, the facilitator of their groups and admins (the group scope checks ``member_id``).
    """
    learning.member_name(room.db, member_id)
    return learning.member_report(room.db, member_id, _period(room, start, end), room.settings.room.tz, room.clock.now())


@router.get("/reports/learning-time/groups/{group_id}")
async def group_learning_time(
    group_id: int, room: RoomDep, scope: ScopeDep, start: StartQ = None, end: EndQ = None,
    _principal: Any = allow(*REPORT_READERS),
) -> dict[str, Any]:
    """A group's learning time against the time offered, and its validated proposals (members see totals only)."""
    learning.group_name(room.db, group_id)
    scope.require_report(group_id)
    per_member = scope.per_member
    period = _period(room, start, end)
    return learning.group_report(room.db, group_id, period, room.settings.room.tz, room.clock.now(), per_member=per_member)
