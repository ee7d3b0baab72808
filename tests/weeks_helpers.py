"""Helpers for the tests over weeks: sessions on a ManualClock, and proposals the group validates.

A proposal is written as the proposal capability writes a finished draft (its outbox request and the version
row), and then validated through the real :class:`ProposalService.verdict`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from roomctl.core.clock import ManualClock
from roomctl.core.room import Room
from roomctl.proposal.service import ProposalService
from roomctl.session.commands import run_command
from tests.session_helpers import command, group_id, session


def draft_proposal(room: Room, session_id: int, title: str, *, learning_needs: list[str] | None = None) -> int:
    """A draft proposal of the session, as the outbox stores a model's answer."""
    db = room.db
    content = {
        "title": title,
        "situation_summary": "De balie is druk op maandag.",
        "problem": "Wachttijd loopt op.",
        "steps": [{"role": "teamleider", "action": f"{title}: rooster aanpassen", "effort": "2 uur", "expected_effect": "korter wachten"}],
        "risks": [],
        "learning_needs": learning_needs or [],
        "open_questions": [],
    }
    now = room.clock.now().isoformat()
    with db.atomic():
        requests = db.table("proposal_requests")
        requests.insert(
            {"idempotency_key": f"t-{session_id}-{title}", "session_id": session_id, "group_id": group_id(room),
             "kind": "ask", "body_json": "{}", "state": "done", "model": "test", "created_at": now}
        )  # fmt: skip
        version = db.execute("select coalesce(max(version), 0) + 1 from proposals where session_id = ?", [session_id]).fetchone()[0]
        proposals = db.table("proposals")
        proposals.insert(
            {"session_id": session_id, "group_id": group_id(room), "request_id": requests.last_pk, "version": version,
             "status": "draft", "content_json": json.dumps(content), "original_json": json.dumps(content),
             "language": "nl", "created_at": now}
        )  # fmt: skip
        return int(proposals.last_pk)  # type: ignore[arg-type]


def accept(room: Room, proposal_id: int) -> None:
    """The group validates the proposal (the proposal capability's own verdict)."""
    room.service(ProposalService).verdict(proposal_id, "accept")


async def run_session(room: Room, clock: ManualClock, at: datetime, *, minutes: float = 60) -> int:
    """Start a session of the demo group at ``at``, let it run ``minutes``, end it; returns its id."""
    clock.set(at)
    service = session(room)
    session_id = await service.begin(group_id(room), None, clock.now())
    clock.advance(minutes * 60)
    await command(room, "end")
    return session_id


async def tablet(room: Room, name: str, **args: Any) -> dict[str, Any]:
    """Any tablet command, through the tablet's one door (:func:`roomctl.session.commands.run_command`)."""
    return await run_command(room, name, args)


def part(room: Room, name: str) -> Any:
    """A screen part."""
    return room.screen.get(name)
