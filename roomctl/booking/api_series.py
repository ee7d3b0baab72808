"""Routes for weekly series (with a dry run that previews conflicts), the iCalendar feed and closures."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from roomctl.api.deps import get_room
from roomctl.api.limits import CALENDAR_BODY_BYTES
from roomctl.api.scope import RowId, ScopeDep
from roomctl.api.security import Role, allow, public
from roomctl.api.tokens import create_feed_token, feed_group, list_feed_tokens, revoke_feed_token
from roomctl.booking.api_bookings import BookingDep
from roomctl.booking.closures import ClosureStore, parse_ics
from roomctl.booking.series import MAX_SLOTS, make_spec
from roomctl.core.room import Room
from roomctl.errors import NotFoundError, ValidationError

router = APIRouter(tags=["booking"])

FEED_PAST_DAYS = 30
"""The feed starts this many days back (calendar clients keep what they had)."""
CALENDAR_MEDIA_TYPE = "text/calendar; charset=utf-8"


class SlotIn(BaseModel):
    """One weekly start: a weekday and a local time."""

    weekday: str = Field(..., max_length=12, description="mon, tue, wed, thu, fri, sat or sun")
    start: str = Field(..., max_length=8, description="local start time HH:MM, e.g. 09:00")


class SeriesIn(BaseModel):
    """A weekly series: give either ``weeks`` or ``until``."""

    group_id: RowId
    slots: list[SlotIn] = Field(..., min_length=1, max_length=MAX_SLOTS)
    duration_minutes: int = Field(..., ge=1, le=24 * 60)
    first_date: date = Field(..., description="the first local day, YYYY-MM-DD")
    weeks: int | None = Field(None, ge=1, description="how many weeks from first_date")
    until: date | None = Field(None, description="the last local day, YYYY-MM-DD")
    allow_partial: bool = Field(False, description="book the free occurrences and report the rest")


@router.post("/series", status_code=201, dependencies=[allow(Role.ADMIN)])
async def create_series(
    *,
    body: SeriesIn,
    response: Response,
    dry_run: bool = Query(False, description="only show what would be booked and what stands in the way"),
    room: Room = Depends(get_room),
    service: BookingDep,
) -> dict[str, Any]:
    """Book a weekly series, all or nothing unless ``allow_partial``; 409 names every conflict. Admin only."""
    spec = make_spec(
        [(s.weekday, s.start) for s in body.slots],
        body.duration_minutes,
        body.first_date,
        weeks=body.weeks,
        until=body.until,
        max_weeks=room.settings.booking.series_max_weeks,
    )
    result = service.series.create(
        body.group_id, spec, now=room.clock.now(), allow_partial=body.allow_partial, dry_run=dry_run
    )
    if dry_run:
        response.status_code = 200
    else:
        service.refresh()
    return result


@router.get("/series")
async def list_series(
    *,
    group: int | None = Query(None),
    flagged: bool = Query(False, description="only series flagged for no-shows"),
    room: Room = Depends(get_room),
    service: BookingDep,
    scope: ScopeDep,
    _principal: Any = allow(Role.ADMIN, Role.FACILITATOR),
) -> list[dict[str, Any]]:
    """Series with their no-show streak and flag; a facilitator's token sees its own groups. Admin, facilitator."""
    scope.require("group_id", group)
    groups = (set(scope.groups) if scope.groups is not None else None) if group is None else {group}
    return service.series.listing(group_ids=groups, flagged_only=flagged, now=room.clock.now())


@router.get("/series/{series_id}")
async def get_series(
    *,
    series_id: int,
    room: Room = Depends(get_room),
    service: BookingDep,
    _principal: Any = allow(Role.ADMIN, Role.FACILITATOR),
) -> dict[str, Any]:
    """A series with every occurrence. Admin, facilitator."""
    series = service.series.get(series_id, room.clock.now())
    return {**series, "occurrences": [b.as_dict() for b in service.series.occurrences_of(series_id)]}


@router.delete("/series/{series_id}/flag")
async def clear_flag(
    *,
    series_id: int,
    service: BookingDep,
    _principal: Any = allow(Role.ADMIN, Role.FACILITATOR),
) -> dict[str, Any]:
    """Clear a series' no-show flag. Admin, facilitator."""
    return service.series.clear_flag(series_id)


@router.delete("/series/{series_id}", dependencies=[allow(Role.ADMIN)])
async def cancel_series(
    *,
    series_id: int, room: Room = Depends(get_room), service: BookingDep
) -> dict[str, Any]:
    """Cancel every future occurrence of a series. Admin only."""
    service.series.row(series_id)
    cancelled = service.series.cancel_rest(series_id, now=room.clock.now())
    service.refresh()
    return {"series_id": series_id, "cancelled": cancelled}


@router.get("/calendar.ics", response_class=Response)
async def calendar_feed(
    *,
    group: int | None = Query(None, description="only this group's bookings"),
    start: AwareDatetime | None = Query(None, description="from (default: 30 days ago)"),
    end: AwareDatetime | None = Query(None, description="until (default: the longest series ahead)"),
    room: Room = Depends(get_room),
    service: BookingDep,
    scope: ScopeDep,
    _principal: Any = allow(Role.ADMIN, Role.FACILITATOR, Role.FACILITIES),
) -> Response:
    """The room's (or a group's) bookings as iCalendar (RFC 5545). Admin, facilitator, facilities."""
    if group is not None:
        scope.require("group_id", group)
    elif scope.groups is not None:
        raise ValidationError("a facilitator's token reads its group's feed: add ?group=ID", field="group")
    return _feed(room, service, group, start, end)


def _feed(room: Room, service: Any, group: int | None, start: datetime | None, end: datetime | None) -> Response:
    now = room.clock.now()
    names = {g.id: g.name for g in service.repo.groups()}
    tz = room.settings.room.tz
    today = datetime.combine(now.astimezone(tz).date(), time(0), tz)
    since = start or today - timedelta(days=FEED_PAST_DAYS)
    until = end or today + timedelta(weeks=room.settings.booking.series_max_weeks, days=1)
    closures = [c for c in ClosureStore(room.db).upcoming(since) if c.start < until]
    title = f"{room.settings.room.name}" + (f" — {names[group]}" if group is not None else "")
    body = service.feeds.build(group=group, since=since, until=until, closures=closures, title=title, group_names=names, now=now)
    filename = f"{room.settings.room.id}{'-group' + str(group) if group is not None else ''}.ics"
    return Response(body, media_type=CALENDAR_MEDIA_TYPE, headers={"Content-Disposition": f'inline; filename="{filename}"'})


class FeedIn(BaseModel):
    """A new calendar subscription."""

    label: str = Field("", max_length=120, description="where it is used, e.g. 'Outlook Anna'")


@router.post("/groups/{group_id}/calendar-feeds", status_code=201,
             dependencies=[allow(Role.ADMIN, Role.FACILITATOR)])  # fmt: skip
async def create_calendar_feed(
    *, group_id: int, body: FeedIn, request: Request, room: Room = Depends(get_room)
) -> dict[str, Any]:
    """A read-only subscription URL for the group's calendar (Outlook, Google, Apple subscribe by URL alone).

    The URL carries its own token, shown only now; it reads this group's bookings (no member names) and
    nothing else; revoke it with DELETE. Admin and the group's facilitator.
    """
    feed_id, token = create_feed_token(room.db, group_id, label=body.label, now=room.clock.now())
    prefix = request.url.path.rsplit(f"/groups/{group_id}/calendar-feeds", 1)[0]  # the API's mount point
    url = str(request.base_url).rstrip("/") + f"{prefix}/calendar/{token}.ics"
    return {"id": feed_id, "group_id": group_id, "label": body.label, "url": url,
            "webcal": "webcal://" + url.split("://", 1)[1]}  # fmt: skip


@router.get("/groups/{group_id}/calendar-feeds", dependencies=[allow(Role.ADMIN, Role.FACILITATOR)])
async def list_calendar_feeds(*, group_id: int, room: Room = Depends(get_room)) -> list[dict[str, Any]]:
    """The group's calendar subscriptions (never their URLs)."""
    return list_feed_tokens(room.db, group_id)


@router.delete("/groups/{group_id}/calendar-feeds/{feed_id}", status_code=204,
               dependencies=[allow(Role.ADMIN, Role.FACILITATOR)])  # fmt: skip
async def revoke_calendar_feed(*, group_id: int, feed_id: int, room: Room = Depends(get_room)) -> None:
    """Revoke a calendar subscription: its URL answers 404 from now on."""
    revoke_feed_token(room.db, group_id, feed_id, now=room.clock.now())


@router.get("/calendar/{feed}.ics", dependencies=[public()], response_class=Response)
async def subscribed_calendar(*, feed: str, room: Room = Depends(get_room), service: BookingDep) -> Response:
    """A group's calendar by subscription URL. Public: the token in the URL is the credential (read-only)."""
    group = feed_group(room.db, feed)
    if group is None:
        raise NotFoundError("no such calendar subscription (it may have been revoked)")
    return _feed(room, service, group, None, None)


@router.post(
    "/closures/import",
    dependencies=[allow(Role.ADMIN)],
    max_body_size=CALENDAR_BODY_BYTES,
    openapi_extra={"requestBody": {"required": True, "content": {"text/calendar": {"schema": {"type": "string"}}}}},
)
async def import_closures(
    *,
    request: Request, room: Room = Depends(get_room), service: BookingDep
) -> dict[str, Any]:
    """Import closures and holidays from an iCalendar file (the request body, text/calendar).

    Those dates are refused for new bookings; existing bookings that fall on them are reported (not cancelled).
    Admin only.
    """
    now = room.clock.now()
    parsed = parse_ics(
        await request.body(), room.settings.room.tz, now=now, horizon=timedelta(weeks=room.settings.booking.series_max_weeks)
    )
    stored = ClosureStore(room.db).replace(parsed, now=now)
    names = {g.id: g.name for g in service.repo.groups()}
    affected = [
        {**b.as_dict(), "group": names.get(b.group_id), "closure": c.summary}
        for c in stored
        for b in service.repo.overlapping(c.start, c.end)
        if b.end > now
    ]
    service.refresh()
    return {"imported": len(stored), "closures": [c.as_dict() for c in stored], "affected": affected}


@router.get("/closures", dependencies=[allow(Role.ADMIN, Role.FACILITATOR, Role.FACILITIES)])
async def list_closures(room: Room = Depends(get_room)) -> list[dict[str, Any]]:
    """Closures that have not ended yet."""
    return [c.as_dict() for c in ClosureStore(room.db).upcoming(room.clock.now())]


@router.delete("/closures/{closure_id}", status_code=204, dependencies=[allow(Role.ADMIN)])
async def delete_closure(closure_id: int, room: Room = Depends(get_room)) -> None:
    """Remove a closure. Admin only."""
    ClosureStore(room.db).delete(closure_id)
