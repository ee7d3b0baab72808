"""Dependencies routes use to reach the room."""

from __future__ import annotations

from fastapi import Request, WebSocket

from roomctl.core.room import Room


def get_room(request: Request) -> Room:
    """The room this app serves."""
    room: Room = request.app.state.room
    return room


def get_room_ws(websocket: WebSocket) -> Room:
    """The room this app serves (WebSocket routes)."""
    room: Room = websocket.app.state.room
    return room
