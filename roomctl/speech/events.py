"""Events of the brainstorm recording: the tablet's commands and what other capabilities may listen to."""

from __future__ import annotations

from dataclasses import dataclass

from roomctl.core.events import Event


@dataclass(frozen=True)
class RecordingConsent(Event):
    """The group agrees (or withdraws) on the tablet; with ``member_id``, one present member taps to agree.

    ``present`` lists the members that must each agree when ``require_member_consent`` is set (the session
    knows who checked in).
    """

    agreed: bool = True
    member_id: int | None = None
    session_id: int | None = None
    present: tuple[int, ...] = ()


@dataclass(frozen=True)
class StartRecording(Event):
    """Start recording (only after consent)."""

    session_id: int | None = None


@dataclass(frozen=True)
class StopRecording(Event):
    """Stop recording; always possible, in every state."""

    reason: str = "stopped"


@dataclass(frozen=True)
class RecordingChanged(Event):
    """Recording started (``active``) or stopped: the LED and the kiosk show it."""

    active: bool = False
    recording_id: int | None = None


@dataclass(frozen=True)
class TranscriptReady(Event):
    """Every chunk of a recording has been transcribed (or given up): the transcript is final."""

    recording_id: int = 0
    session_id: int | None = None
