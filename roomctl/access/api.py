"""Door routes: taps from networked or simulated readers, the door's state, the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from roomctl.access.events import Tap
from roomctl.access.service import AccessService
from roomctl.api.deps import get_room, provide
from roomctl.api.security import Principal, Role, allow
from roomctl.core.room import Room
from roomctl.errors import ValidationError

router = APIRouter(tags=["door"])
AccessDep = Annotated[AccessService, Depends(provide(AccessService))]
"""The access service, the one way the door routes reach it."""


NETWORK_PREFIX = "net:"
"""Networked readers' names in the audit trail and the lockout: never the same as the physical reader's."""


class TapIn(BaseModel):
    """A tap reported by a reader."""

    uid: str = Field(..., max_length=64, description="the badge UID in hex, e.g. 04A1B2C3D4E5F6")
    reader: str | None = Field(None, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$",
                               description="a reader token's own reader (another is refused); admin: any name")  # fmt: skip


def _network_reader(room: Room, principal: Principal, asked: str | None) -> str:
    """The name a networked tap is recorded under: the reader token's own reader (issue 14)."""
    if principal.role == Role.READER:
        own = principal.reader or f"token-{principal.token_id}"
        if asked is not None and asked != own:
            raise ValidationError(f"this token speaks for reader {own!r} only, not {asked!r}", field="reader")
        name = own
    else:
        name = asked or "api"
    if name == room.settings.reader.name:
        raise ValidationError(f"{name!r} is the door's own reader; a networked reader needs another name", field="reader")
    return NETWORK_PREFIX + name


@router.post("/door/taps")
async def post_tap(body: TapIn, room: Room = Depends(get_room),
                   principal: Principal = allow(Role.READER, Role.ADMIN)) -> dict[str, Any]:  # fmt: skip
    """A tap from a networked or simulated reader; answers granted/denied and a reason code (never who it was).

    A reader token's taps are its own reader's (``roomctl token create --role reader --reader NAME``); denied
    taps count towards that reader's lockout and that of all networked readers together, never the door's own.
    """
    reader = _network_reader(room, principal, body.reader)
    decision = await room.dispatch(Tap(source="api", uid=body.uid, reader=reader))
    answer: dict[str, Any] = {"granted": decision.granted, "reason": decision.reason.value, "reader": reader}
    if principal.role == Role.ADMIN:  # an admin's simulated tap may learn whose badge it was, by id
        answer["member_id"] = decision.member.id if decision.member else None
        answer["booking_id"] = decision.booking.id if decision.booking else None
    return answer


@router.get("/door", dependencies=[allow(Role.ADMIN, Role.FACILITIES, Role.FACILITATOR)])
async def get_door(service: AccessDep) -> dict[str, Any]:
    """The door's state (locked, open, from the contact or assumed)."""
    return service.door_state()


@router.get("/door/audit", dependencies=[allow(Role.ADMIN, Role.FACILITIES)])
async def get_audit(
    service: AccessDep,
    since: datetime | None = Query(None, description="ISO 8601 with offset"),
    limit: int = Query(200, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    """The audit trail, newest first, badges shown as a shortened keyed hash."""
    return service.audit.entries(since=since, limit=limit)


@router.get("/door/audit.csv", dependencies=[allow(Role.ADMIN, Role.FACILITIES)], response_class=PlainTextResponse)
async def get_audit_csv(service: AccessDep, since: datetime | None = None) -> PlainTextResponse:
    """The audit trail as CSV for facilities."""
    return PlainTextResponse(
        service.audit.to_csv(since=since),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="roomctl-audit.csv"'},
    )


class ProvisionIn(BaseModel):
    """Provision by tap."""

    force: bool = Field(False, description="provision a card that is already this room's secure badge again")


@router.get("/door/badges", dependencies=[allow(Role.ADMIN)])
async def get_badges(service: AccessDep, room: Room = Depends(get_room)) -> dict[str, Any]:
    """Secure badges: the policy, whether a master key is loaded, who still carries a plain badge. Admin only."""
    return {
        "require_secure_badges": room.settings.door.require_secure_badges,
        "master_key": "ready" if service.verifier.ready else service.verifier.problem,
        "reader_can_provision": service.reader is not None and service.reader.kind == "pn532",
        "plain_members": service.secure_badges.members_with_plain_badges(),
        "secure": service.secure_badges.active_secure_uids(),
    }


@router.post("/members/{member_id}/badges/provision-by-tap", status_code=202, dependencies=[allow(Role.ADMIN)])
async def arm_provisioning(member_id: int, body: ProvisionIn, service: AccessDep) -> dict[str, Any]:
    """The next card laid on the door's PN532 becomes this member's secure badge (the door stays shut). Admin only.

    Read the outcome with ``GET /api/v1/door/provisioning``.
    """
    return service.provisioning.arm(member_id, force=body.force)


@router.get("/door/provisioning", dependencies=[allow(Role.ADMIN)])
async def provisioning_status(service: AccessDep) -> dict[str, Any]:
    """Whether the reader waits for a card to provision, and the last outcome. Admin only."""
    return service.provisioning.status()


@router.delete("/door/provisioning", dependencies=[allow(Role.ADMIN)])
async def cancel_provisioning(service: AccessDep) -> dict[str, Any]:
    """Stop waiting for a card to provision. Admin only."""
    return service.provisioning.disarm()


@router.get("/alarms", dependencies=[allow(Role.ADMIN, Role.FACILITIES)])
async def get_alarms(service: AccessDep) -> list[dict[str, Any]]:
    """The door's alarms: active ones first, then recently cleared ones (``{id, kind, since, active, detail}``)."""
    return service.alarms.listing()
