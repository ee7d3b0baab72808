"""HTTP routes of the devices capability: the room's devices and its scenes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from roomctl.api.deps import get_room
from roomctl.api.security import Role, allow
from roomctl.core.room import Room

router = APIRouter(prefix="/api/v1", tags=["devices"])

VIEWERS = (Role.ADMIN, Role.FACILITIES, Role.FACILITATOR)
SCENE_CALLERS = (Role.ADMIN, Role.FACILITATOR)
RoomDep = Annotated[Room, Depends(get_room)]


@router.get("/devices", dependencies=[allow(*VIEWERS)])
async def list_devices(room: RoomDep) -> dict[str, Any]:
    """Every device, the current scene run and the scenes this room knows.

    Each device has its state, availability (online/offline/assumed/unknown), last report and command status.
    """
    service = room.service("devices")
    return {**service.part(), "scenes": service.engine.names()}


@router.get("/devices/{device_id}", dependencies=[allow(*VIEWERS)])
async def get_device(device_id: str, room: RoomDep) -> dict[str, Any]:
    """One device; 404 when there is no such device."""
    device = room.service("devices").registry.get(device_id)
    result: dict[str, Any] = device.as_dict()
    return result


@router.post("/scenes/{name}", dependencies=[allow(*SCENE_CALLERS)], status_code=202)
async def apply_scene(name: str, room: RoomDep) -> JSONResponse:
    """Start scene ``name``; 202 with the run, 404 for an unknown scene.

    Follow the run on /ws or with GET /api/v1/devices.
    """
    run = room.service("devices").engine.start_scene(name, source="api")
    return JSONResponse(run.as_dict(), status_code=202)
