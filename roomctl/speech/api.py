"""Routes of the brainstorm: consent, start and stop of the recording, and the transcript."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from roomctl.api.deps import get_room, provide
from roomctl.api.scope import RunningSessionDep, in_running_session
from roomctl.api.security import Role, allow
from roomctl.core.room import Room
from roomctl.speech import transcripts
from roomctl.speech.events import RecordingConsent, StartRecording
from roomctl.speech.service import SpeechService
from roomctl.store.db import MAX_ID

router = APIRouter(tags=["speech"])
RoomDep = Annotated[Room, Depends(get_room)]


class ConsentIn(BaseModel):
    """The group's consent (from the tablet).

    A member's own consent counts only as a badge tap at the room's reader, never as an API call naming the
    member: a ``member_id`` here is refused (422).
    """

    model_config = ConfigDict(extra="forbid")

    agreed: bool = Field(True, description="false withdraws consent (and stops a running recording)")
    session_id: int | None = Field(None, ge=1, le=MAX_ID, description="default: the running session")
    present: list[int] = Field(default_factory=list, max_length=100, description="members who must each agree")


class StartIn(BaseModel):
    """Start recording."""

    model_config = ConfigDict(extra="forbid")

    session_id: int | None = Field(None, ge=1, le=MAX_ID, description="default: the session consent was given in")


SpeechDep = Annotated[SpeechService, Depends(provide(SpeechService))]
"""The speech service, the one way the recording routes reach it."""


@router.get("/session/recording", dependencies=[allow(Role.FACILITATOR, Role.ADMIN, Role.KIOSK), in_running_session()])
async def get_recording(service: SpeechDep) -> dict[str, Any]:
    """The recording's state: idle, consent, recording, finishing or error, with a message in nl and en."""
    return service.view()


@router.post("/session/recording/consent", dependencies=[allow(Role.FACILITATOR, Role.ADMIN)])
async def post_consent(body: ConsentIn, room: RoomDep, scope: RunningSessionDep) -> dict[str, Any]:
    """The group agrees to recording (asked on the tablet); agreed=false withdraws. Members agree by badge tap."""
    scope.require("session_id", body.session_id)
    event = RecordingConsent(
        source="api",
        agreed=body.agreed,
        session_id=body.session_id,
        present=tuple(body.present),
    )
    result: dict[str, Any] = await room.dispatch(event)
    return result


@router.post("/session/recording/start", dependencies=[allow(Role.FACILITATOR, Role.ADMIN)])
async def post_start(room: RoomDep, scope: RunningSessionDep, body: StartIn | None = None) -> dict[str, Any]:
    """Start recording; 409 without consent, 503 when the microphone or the speech model is missing."""
    scope.require("session_id", body.session_id if body else None)
    event = StartRecording(source="api", session_id=body.session_id if body else None)
    result: dict[str, Any] = await room.dispatch(event)
    return result


@router.post("/session/recording/stop", dependencies=[allow(Role.FACILITATOR, Role.ADMIN), in_running_session()])
async def post_stop(service: SpeechDep) -> dict[str, Any]:
    """Stop recording: always possible (bypasses the event queue so it works even when the room is busy)."""
    return await service.stop_recording("stopped from the tablet")


@router.get("/sessions/{session_id}/transcript", dependencies=[allow(Role.FACILITATOR, Role.ADMIN)])
async def get_transcript(session_id: int, room: RoomDep) -> dict[str, Any]:
    """A session's brainstorm transcript (never attributed to persons); complete=false while transcribing."""
    return transcripts.transcript(room.db, session_id)
