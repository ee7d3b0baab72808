"""Routes of the core: health, metrics and the screen-state WebSocket."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, WebSocket
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from roomctl.api.deps import get_room, get_room_ws
from roomctl.api.push import push
from roomctl.api.security import Role, allow_ws, public
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


@router.websocket("/ws")
async def screen_state(
    websocket: WebSocket,
    room: Room = Depends(get_room_ws),
    _principal: Any = allow_ws(Role.KIOSK, Role.FACILITATOR, Role.ADMIN),
    delta: bool = False,
) -> None:
    """The room's screen state, pushed on every change. Kiosk, facilitator and admin tokens (``?token=``).

    Every message is the whole state (``{"version": 7, "session": {...}, ...}``). With ``?delta=true`` only
    the first one is; after it each message holds the parts changed since the previous one, ``null`` for a
    part that is gone: ``{"version": 8, "delta": {"session": {...}}}`` (see ``followScreen`` in common.js).
    """
    follower = room.screen.follower(delta=delta)
    await push(websocket, lambda changed: room.screen.subscribe(lambda _: changed()), follower.next_message,
               resend_seconds=WS_PING_SECONDS)  # fmt: skip
