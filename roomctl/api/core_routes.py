"""Routes of the core: health, metrics and the screen-state WebSocket."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Query, WebSocket
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from roomctl.api import admin_audit
from roomctl.api.deps import get_room, get_room_ws
from roomctl.api.feeds import screen_view, token_alive
from roomctl.api.push import push
from roomctl.api.security import Principal, Role, allow, allow_ws, public
from roomctl.core.room import Room

log = logging.getLogger(__name__)

router = APIRouter()

WS_PING_SECONDS = 20.0
"""A WebSocket with no state change sends the current state again this often (keeps proxies and NATs open)."""


@router.get("/healthz", dependencies=[public()], tags=["core"])
async def healthz(room: Room = Depends(get_room)) -> JSONResponse:
    """Per-component health; 503 when the room cannot work. Public: used by systemd, load balancers, people."""
    report = room.health.report()
    return JSONResponse(report, status_code=503 if report["status"] == "down" else 200)


@router.get("/metrics", dependencies=[public()], tags=["core"], response_class=Response)
async def metrics(room: Room = Depends(get_room)) -> Response:
    """Prometheus metrics. Public: aggregate figures only, as Prometheus scrapes without a token."""
    return Response(generate_latest(room.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/admin/audit", dependencies=[allow(Role.ADMIN)], tags=["core"])
async def admin_audit_trail(
    room: Room = Depends(get_room), limit: int = Query(200, ge=1, le=10_000)
) -> list[dict[str, Any]]:
    """Who changed members, badges, tokens, groups, bookings, series and closures, and when (newest first)."""
    return admin_audit.entries(room.db, limit=limit)


@router.websocket("/ws")
async def screen_state(
    websocket: WebSocket,
    room: Room = Depends(get_room_ws),
    principal: Principal = allow_ws(Role.KIOSK, Role.FACILITATOR, Role.ADMIN),
    delta: bool = False,
) -> None:
    """The room's screen state, pushed on every change. Kiosk, facilitator and admin tokens (``?token=``).

    Every message is the whole state (``{"now": ..., "version": 7, "session": {...}, ...}``). With
    ``?delta=true`` only the first one is; after it each message holds the parts changed since the previous
    one, ``null`` for a part that is gone: ``{"now": ..., "version": 8, "delta": {"session": {...}}}`` (see
    ``followScreen`` in common.js). ``now`` is the room's clock, so pages count down from the room's time rather
    than the device's own (a tablet's clock may be off).

    Only the kiosk's feed carries the pairing PIN; a group's session parts go only to callers holding that
    group; the WebSocket closes (4401) within seconds of its token being revoked or expiring.
    """
    await push(websocket, room.screen.watch,
               screen_view(room, principal, delta=delta), resend_seconds=WS_PING_SECONDS,
               alive=token_alive(room, principal))  # fmt: skip
