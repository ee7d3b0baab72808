"""HTTP routes of the devices capability: the room's devices and its scenes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from roomctl.api.deps import provide
from roomctl.api.scope import in_running_session
from roomctl.api.security import Role, allow
from roomctl.devices.service import DevicesService

router = APIRouter(tags=["devices"])

VIEWERS = (Role.ADMIN, Role.FACILITIES, Role.FACILITATOR)
SCENE_CALLERS = (Role.ADMIN, Role.FACILITATOR)
DevicesDep = Annotated[DevicesService, Depends(provide(DevicesService))]
"""The devices service, the one way these routes reach it."""


@router.get("/devices", dependencies=[allow(*VIEWERS)])
async def list_devices(service: DevicesDep) -> dict[str, Any]:
    """Every device, the current scene run and the scenes this room knows.

    Each device has its state, availability (online/offline/assumed/unknown), last report and command status.
    """
    return {**service.part(), "scenes": service.engine.names()}


@router.get("/devices/{device_id}", dependencies=[allow(*VIEWERS)])
async def get_device(device_id: str, service: DevicesDep) -> dict[str, Any]:
    """One device; 404 when there is no such device."""
    device = service.registry.get(device_id)
    result: dict[str, Any] = device.as_dict()
    return result


@router.post("/scenes/{name}", dependencies=[allow(*SCENE_CALLERS), in_running_session()], status_code=202)
async def apply_scene(name: str, service: DevicesDep) -> JSONResponse:
    """Start scene ``name``; 202 with the run, 404 for an unknown scene.

    While a session runs, only its group's facilitators (and admins) may change the room: another group's token
    gets 404, as if no session of theirs ran.

    Follow the run on /ws or with GET /api/v1/devices.
    """
    run = service.engine.start_scene(name, source="api")
    return JSONResponse(run.as_dict(), status_code=202)
