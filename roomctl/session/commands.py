"""The tablet's one door: ``POST /api/v1/session/commands`` takes every command and hands it to its owner.

- The session service (as a :class:`~roomctl.session.events.SessionCommand` through the room's queue):
  ``start``, ``next``, ``previous``, ``goto {index}``, ``pause``, ``resume``, ``extend {minutes}``, ``end``,
  ``play``, ``pause_clip``, ``restart_clip``, ``show_question {question}``, ``hide_question {question}``,
  ``situation {text}``, ``problem {text}``, ``choose {questions}``, ``note {question, text}``,
  ``insert_break {kind: movement|meditation|break, minutes}``.
- The week (:class:`~roomctl.session.weeks.WeekService`): ``cycle {questions?, situations?}`` (the week's
  choice), ``followup {how: well|partly|not_yet, note, proposal_id?}`` (default: the last validated proposal).
- The speech capability: ``consent {agreed}``, ``record_start``, ``record_stop``.
- The proposal capability: ``ask_proposal`` (with the session's work situation, problem and notes),
  ``verdict {verdict: accept|revise|reject, remarks, proposal_id?}`` (default: the proposal on screen).

Every answer is the session view after the command (with ``result`` holding what speech or proposal answered).
"""

from __future__ import annotations

import logging
from typing import Any

from roomctl.core.room import Room
from roomctl.errors import StateError, ValidationError
from roomctl.proposal.service import ProposalService
from roomctl.session.events import SessionCommand
from roomctl.session.service import COMMANDS as SESSION_COMMANDS
from roomctl.session.service import SessionService
from roomctl.session.weeks import WEEK_COMMANDS, WeekService
from roomctl.speech.events import RecordingConsent, StartRecording
from roomctl.speech.service import SpeechService

log = logging.getLogger(__name__)

RECORDING_COMMANDS = frozenset({"consent", "record_start", "record_stop"})
"""Commands for the speech capability."""
PROPOSAL_COMMANDS = frozenset({"ask_proposal", "verdict"})
"""Commands for the proposal capability."""
ALL_COMMANDS = SESSION_COMMANDS | RECORDING_COMMANDS | PROPOSAL_COMMANDS | WEEK_COMMANDS
"""Every command the tablet can send."""
VERDICTS = ("accept", "revise", "reject")
"""The group's verdicts on a proposal."""


def _session(room: Room) -> SessionService:
    return room.service(SessionService)


def _running(room: Room) -> SessionService:
    session = _session(room)
    if session.session_id is None:
        raise StateError("no session is running; a group member starts one by tapping their badge")
    return session


async def run_command(room: Room, command: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one tablet command; answers the session view (``{"phase": "idle"}`` when none runs).

    Raises:
        ValidationError: Unknown command or bad arguments.
        StateError: The command does not fit now (nothing changed).
    """
    if command not in ALL_COMMANDS:
        raise ValidationError(f"unknown command {command!r}; use one of: {', '.join(sorted(ALL_COMMANDS))}",
                              field="command")  # fmt: skip
    if command in SESSION_COMMANDS:
        view: dict[str, Any] = await room.dispatch(SessionCommand(source="tablet", command=command, args=args))
        return view
    if command in WEEK_COMMANDS:
        week: dict[str, Any] = await room.service(WeekService).command(command, args)
        return {**(_session(room).current() or {"phase": "idle"}), "result": week}
    result = await (_recording(room, command, args) if command in RECORDING_COMMANDS else _proposal(room, command, args))
    return {**(_session(room).current() or {"phase": "idle"}), "result": result}


async def _recording(room: Room, command: str, args: dict[str, Any]) -> dict[str, Any]:
    session = _running(room)
    sid = session.session_id
    if command == "consent":
        agreed = args.get("agreed", True)
        if not isinstance(agreed, bool):
            raise ValidationError("agreed must be true or false", field="agreed")
        present = session.present_ids()
        consent = RecordingConsent(source="tablet", agreed=agreed, session_id=sid, present=present)
        answer: dict[str, Any] = await room.dispatch(consent)
        return answer
    if command == "record_start":
        answer = await room.dispatch(StartRecording(source="tablet", session_id=sid))
        return answer
    stopped: dict[str, Any] = await room.service(SpeechService).stop_recording("stopped from the tablet")
    return stopped


async def _proposal(room: Room, command: str, args: dict[str, Any]) -> dict[str, Any]:
    session = _running(room)
    proposals = room.service(ProposalService)
    assert session.session_id is not None
    if command == "ask_proposal":
        request, created = await proposals.ask_async(session.session_id, group_id=session.group_id)
        log.info("proposal %s for session %s from the tablet", "asked" if created else "already asked",
                 session.session_id)  # fmt: skip
        return {"request": request, "created": created}
    verdict = args.get("verdict")
    if verdict not in VERDICTS:
        raise ValidationError(f"verdict must be one of {', '.join(VERDICTS)}", field="verdict")
    remarks = args.get("remarks", "")
    if not isinstance(remarks, str):
        raise ValidationError("remarks must be text", field="remarks")
    proposal_id = args.get("proposal_id", proposals.proposal_on_screen())
    if proposal_id is None:
        raise StateError("there is no proposal to judge yet; ask for one first")
    if not isinstance(proposal_id, int) or isinstance(proposal_id, bool):
        raise ValidationError("proposal_id must be a proposal's id (a whole number)", field="proposal_id")
    if proposals.store.proposal(proposal_id)["session_id"] != session.session_id:
        raise StateError(f"proposal {proposal_id} belongs to another session; judge this session's proposal")
    answer = proposals.verdict(proposal_id, verdict, remarks)
    return {"proposal_id": proposal_id, "status": answer["proposal"]["status"],
            "request": answer.get("request")}  # fmt: skip
