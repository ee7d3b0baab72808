"""Routes of the brainstorm: consent, start and stop of the recording, and the transcript."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from roomctl.api.deps import get_room, provide
from roomctl.api.security import Role, allow
from roomctl.core.room import Room
from roomctl.speech import transcripts
from roomctl.speech.events import RecordingConsent, StartRecording
from roomctl.speech.service import SpeechService
from roomctl.store.db import MAX_ID

router = APIRouter(tags=["speech"])
RoomDep = Annotated[Room, Depends(get_room)]


class ConsentIn(BaseModel):
    """The group's consent (from the tablet), or one member's tap to agree."""

    agreed: bool = Field(True, description="false withdraws consent (and stops a running recording)")
    member_id: int | None = Field(None, ge=1, description="a present member agreeing for themselves")
    session_id: int | None = Field(None, ge=1, le=MAX_ID, description="default: the running session")
    present: list[int] = Field(default_factory=list, max_length=100, description="members who must each agree")


class StartIn(BaseModel):
    """Start recording."""

    session_id: int | None = Field(None, ge=1, le=MAX_ID, description="default: the session consent was given in")


SpeechDep = Annotated[SpeechService, Depends(provide(SpeechService))]
"""The speech service, the one way the recording routes reach it."""


@router.get("/session/recording", dependencies=[allow(Role.FACILITATOR, Role.ADMIN, Role.KIOSK)])
async def get_recording(service: SpeechDep) -> dict[str, Any]:
    """The recording's state: idle, consent, recording, finishing or error, with a message in nl and en."""
    return service.view()


@router.post("/session/recording/consent", dependencies=[allow(Role.FACILITATOR, Role.ADMIN)])
async def post_consent(body: ConsentIn, room: RoomDep) -> dict[str, Any]:
    """The group agrees to recording (asked on the tablet); member_id: one member agrees; agreed=false withdraws."""
    event = RecordingConsent(
        source="api",
        agreed=body.agreed,
        member_id=body.member_id,
        session_id=body.session_id,
        present=tuple(body.present),
    )
    result: dict[str, Any] = await room.dispatch(event)
    return result


@router.post("/session/recording/start", dependencies=[allow(Role.FACILITATOR, Role.ADMIN)])
async def post_start(room: RoomDep, body: StartIn | None = None) -> dict[str, Any]:
    """Start recording; 409 without consent, 503 when the microphone or the speech model is missing."""
    event = StartRecording(source="api", session_id=body.session_id if body else None)
    result: dict[str, Any] = await room.dispatch(event)
    return result


@router.post("/session/recording/stop", dependencies=[allow(Role.FACILITATOR, Role.ADMIN)])
async def post_stop(service: SpeechDep) -> dict[str, Any]:
    """Stop recording: always possible (bypasses the event queue so it works even when the room is busy)."""
    return await service.stop_recording("stopped from the tablet")


@router.get("/sessions/{session_id}/transcript", dependencies=[allow(Role.FACILITATOR, Role.ADMIN)])
async def get_transcript(session_id: int, room: RoomDep) -> dict[str, Any]:
    """A session's brainstorm transcript (never attributed to persons); complete=false while transcribing."""
    return transcripts.transcript(room.db, session_id)
