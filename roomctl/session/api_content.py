"""Admin routes of the session's content: videoframe packages and the didactisch kader.

Videoframes: install from an upload, list, remove. Kader: list, read, edit, reset.

A package is uploaded as the request body itself (``Content-Type: application/zip``), so no multipart parser
is needed; it is streamed to a temporary file beside the videoframe store, validated and installed off the
event loop, and the temporary file is removed whatever happens.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from roomctl.api.deps import provide
from roomctl.api.security import Role, allow
from roomctl.devices.service import DevicesService
from roomctl.errors import ValidationError
from roomctl.session.kader import MAX_QUESTION_CHARS
from roomctl.session.service import SessionService
from roomctl.session.videoframe_package import MAX_PACKAGE_BYTES

log = logging.getLogger(__name__)

router = APIRouter(tags=["content"])

UPLOAD_PREFIX = ".upload-"
"""Temporary upload files in the videoframe store (never listed as videoframes)."""


class QuestionIn(BaseModel):
    """A kader question's texts."""

    nl: str = Field(..., max_length=MAX_QUESTION_CHARS * 2)
    en: str = Field(..., max_length=MAX_QUESTION_CHARS * 2)


SessionDep = Annotated[SessionService, Depends(provide(SessionService))]
"""The session service (which owns the videoframes and the kader), the one way these routes reach it."""


@router.get("/videoframes", dependencies=[allow(Role.ADMIN, Role.FACILITATOR)])
async def list_videoframes(session: SessionDep) -> list[dict[str, Any]]:
    """The installed videoframes (highest version of each) with their steps."""
    library = session.library
    frames = await asyncio.to_thread(library.list)
    devices = session.room.find_service(DevicesService)
    configured = set(devices.scene_names()) if devices else set()
    return [
        {**f.to_dict(), "versions": library.versions(f.id), "missing_scenes": missing_scenes(f.to_dict(), configured)}
        for f in frames
    ]


def missing_scenes(videoframe: dict[str, Any], configured: set[str]) -> list[str]:
    """The scenes ``videoframe``'s steps ask for that the room has not configured, in step order."""
    wanted = [step["scene"] for step in videoframe["steps"] if step.get("scene")]
    return [name for name in dict.fromkeys(wanted) if name not in configured]


@router.post("/videoframes", dependencies=[allow(Role.ADMIN)], status_code=201, max_body_size=MAX_PACKAGE_BYTES)
async def install_videoframe(request: Request, session: SessionDep, replace: bool = False) -> JSONResponse:
    """Install a videoframe package sent as the body (a zip).

    422 names the file and field that is wrong; 409 when that id and version is installed (``?replace=true``
    replaces it).
    """
    library = session.library
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_PACKAGE_BYTES:
        raise ValidationError(f"the upload is {int(declared)} bytes; a package may be at most {MAX_PACKAGE_BYTES}")
    handle = tempfile.NamedTemporaryFile(prefix=UPLOAD_PREFIX, suffix=".zip", dir=library.root, delete=False)  # noqa: SIM115
    path = Path(handle.name)
    try:
        size = 0
        with handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_PACKAGE_BYTES:
                    raise ValidationError(f"the upload is larger than {MAX_PACKAGE_BYTES} bytes, the most a package may be")
                await asyncio.to_thread(handle.write, chunk)
        if size == 0:
            raise ValidationError("the upload is empty; send the package's .zip file as the request body")
        frame = await asyncio.to_thread(library.install, path, replace=replace)
    finally:
        path.unlink(missing_ok=True)
    log.info("videoframe %s %s installed from an upload (%d bytes)", frame.id, frame.version, size)
    return JSONResponse(frame.to_dict(), status_code=201)


@router.get("/videoframes/{videoframe_id}", dependencies=[allow(Role.ADMIN, Role.FACILITATOR)])
async def get_videoframe(videoframe_id: str, session: SessionDep, version: str | None = None) -> dict[str, Any]:
    """One installed videoframe (its highest version, or ``?version=``)."""
    frame = await asyncio.to_thread(session.library.get, videoframe_id, version)
    return frame.to_dict()


@router.delete("/videoframes/{videoframe_id}", dependencies=[allow(Role.ADMIN)], status_code=204)
async def remove_videoframe(videoframe_id: str, session: SessionDep, version: str | None = None) -> None:
    """Remove a videoframe (every version, or ``?version=``); a running session keeps its plan."""
    await asyncio.to_thread(session.library.remove, videoframe_id, version)


@router.get("/kader", dependencies=[allow(Role.ADMIN, Role.FACILITATOR)])
async def list_kader(session: SessionDep) -> list[dict[str, Any]]:
    """The didactisch kader: every question in screen order."""
    return [q.to_dict() for q in session.kader.list()]


@router.get("/kader/{question_id}", dependencies=[allow(Role.ADMIN, Role.FACILITATOR)])
async def get_question(question_id: str, session: SessionDep) -> dict[str, Any]:
    """One kader question."""
    question: dict[str, Any] = session.kader.get(question_id).to_dict()
    return question


@router.put("/kader/{question_id}", dependencies=[allow(Role.ADMIN)])
async def put_question(question_id: str, body: QuestionIn, session: SessionDep) -> dict[str, Any]:
    """Edit a question's Dutch and English text (whitespace collapsed; empty or too long: 422)."""
    question: dict[str, Any] = session.kader.update(question_id, body.nl, body.en).to_dict()
    session.tick()
    return question


@router.post("/kader/reset", dependencies=[allow(Role.ADMIN)])
async def reset_kader(session: SessionDep) -> list[dict[str, Any]]:
    """Put back the shipped questions (every edit is lost)."""
    questions = [q.to_dict() for q in session.kader.reset_defaults()]
    session.tick()
    return questions
