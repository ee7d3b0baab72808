"""Dependencies routes use to reach the room and its services.

A route reaches a capability's service through that service's one dependency, made by :func:`provide`
(``booking: Annotated[BookingService, Depends(provide(BookingService))]``); it never looks a service up by name.

They are ``async`` although they do not await: FastAPI runs a plain ``def`` dependency in its thread pool, a
thread hop on every request for a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, TypeVar

from fastapi import Request, WebSocket
from starlette.requests import HTTPConnection

from roomctl.core.room import Room

S = TypeVar("S")


async def get_room(request: Request) -> Room:
    """The room this app serves."""
    room: Room = request.app.state.room
    return room


async def get_room_ws(websocket: WebSocket) -> Room:
    """The room this app serves (WebSocket routes)."""
    room: Room = websocket.app.state.room
    return room


@cache
def provide(kind: type[S]) -> Callable[[HTTPConnection], Awaitable[S]]:
    """The one dependency that hands a route the room's service of type ``kind`` (HTTP and WebSocket alike).

    The same callable is returned for the same type, so FastAPI resolves it once per request.
    """

    async def dependency(conn: HTTPConnection) -> Any:
        room: Room = conn.app.state.room
        return room.service(kind)

    dependency.__name__ = f"provide_{kind.__name__}"
    return dependency
