"""Dependencies routes use to reach the room and its services.

A route reaches a capability's service through that service's one dependency, made by :func:`provide`
(``booking: Annotated[BookingService, Depends(provide(BookingService))]``); it never looks a service up by name.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from fastapi import Request, WebSocket
from starlette.requests import HTTPConnection

from roomctl.core.room import Room

S = TypeVar("S")


def get_room(request: Request) -> Room:
    """The room this app serves."""
    room: Room = request.app.state.room
    return room


def get_room_ws(websocket: WebSocket) -> Room:
    """The room this app serves (WebSocket routes)."""
    room: Room = websocket.app.state.room
    return room


@cache
def provide(kind: type[S]) -> Callable[[HTTPConnection], S]:
    """The one dependency that hands a route the room's service of type ``kind`` (HTTP and WebSocket alike).

    The same callable is returned for the same type, so FastAPI resolves it once per request.
    """

    def dependency(conn: HTTPConnection) -> Any:
        room: Room = conn.app.state.room
        return room.service(kind)

    dependency.__name__ = f"provide_{kind.__name__}"
    return dependency
