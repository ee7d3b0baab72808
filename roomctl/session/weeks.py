"""The session capability's view over weeks: cycles, continuity, follow-ups and kader resources (``WeekService``).

It listens to the session's own events: when a session starts (or resumes after a restart) it puts the
group's continuity (last validated proposal, its follow-up, the week's cycle) in the screen part
``continuity``; when the session ends the part is cleared. The tablet's ``cycle`` and ``followup`` commands
come here (see :mod:`roomctl.session.commands`).
"""

from __future__ import annotations

import logging
from typing import Any

from roomctl.core.room import Room
from roomctl.errors import StateError, ValidationError
from roomctl.proposal.service import ProposalService
from roomctl.proposal.store import accepted_proposal_ids
from roomctl.session.continuity import PART, FollowupStore, require_accepted, summary
from roomctl.session.cycles import Cycle, CycleStore
from roomctl.session.events import SessionEnded, SessionStarted
from roomctl.session.kader import KaderStore
from roomctl.session.resources import PART as RESOURCES_PART
from roomctl.session.resources import ResourceStore
from roomctl.session.service import SessionService

log = logging.getLogger(__name__)

WEEK_COMMANDS = frozenset({"cycle", "followup"})
"""Tablet commands this service takes: ``cycle {questions?, situations?}``, ``followup {how, note}``."""


class WeekService:
    """Cycles, follow-ups and the continuity part."""

    name = "weeks"

    def __init__(self, room: Room) -> None:
        self.room = room
        self.tz = room.settings.room.tz
        self.kader = KaderStore(room.db, now=room.clock.now)
        self.cycles = CycleStore(room.db, self.kader, self.tz, room.clock.now)
        self.followups = FollowupStore(room.db, room.clock.now)
        self.resources = ResourceStore(room.db, self.kader, room.clock.now)
        self._part = room.screen.claim(PART, owner="session")
        self._resources_part = room.screen.claim(RESOURCES_PART, owner="session")
        self._session_id: int | None = None
        self._group_id: int | None = None
        room.on(SessionStarted, self._on_started)
        room.on(SessionEnded, self._on_ended)

    async def start(self) -> None:
        """Nothing runs in the background; the session's events drive this service."""

    async def stop(self) -> None:
        """Nothing to stop."""

    # -- reading proposals through the proposal capability's typed service --------------------------------

    def _proposals(self) -> ProposalService | None:
        return self.room.find_service(ProposalService)

    def last_proposal(self, group_id: int) -> dict[str, Any] | None:
        """The group's last validated proposal (``None`` without one, or without the proposal capability)."""
        proposals = self._proposals()
        return proposals.last_accepted_proposal(group_id) if proposals else None

    def open_followup_count(self, group_id: int) -> int:
        """How many of the group's validated proposals were never followed up (no proposal is decoded)."""
        if self._proposals() is None:
            return 0
        return len(set(accepted_proposal_ids(self.room.db, group_id)) - self.followups.followed_ids(group_id))

    def open_followups(self, group_id: int) -> list[dict[str, Any]]:
        """The group's validated proposals that were never followed up, oldest first."""
        proposals = self._proposals()
        if proposals is None:
            return []
        return self.followups.open_for(group_id, proposals.store.portfolio(group_id))

    # -- continuity -------------------------------------------------------------------------------------

    def opening(self, group_id: int, session_id: int | None) -> dict[str, Any]:
        """What a session of ``group_id`` opens with: last proposal, its follow-up, the week's cycle."""
        now = self.room.clock.now()
        last = self.last_proposal(group_id)
        cycle = self.cycles.find(group_id, now) or self.cycles.for_week(group_id, now)
        return {
            "session_id": session_id,
            "group_id": group_id,
            "last_proposal": summary(last) if last else None,
            "followup": self.followups.get(int(last["id"])) if last else None,
            "cycle": self.cycles.view(cycle),
            "open_followups": self.open_followup_count(group_id),
        }

    def refresh(self) -> None:
        """Recompute the continuity part for the running session (nothing when none runs)."""
        if self._session_id is None or self._group_id is None:
            self._part.set(None)
            return
        self._part.set(self.opening(self._group_id, self._session_id))

    def refresh_resources(self) -> None:
        """Put every question's resources (with QR codes) on screen while a session runs.

        The kiosk shows those of the questions on screen.
        """
        if self._session_id is None:
            self._resources_part.set(None)
            return
        ids = tuple(q.id for q in self.kader.list())
        self._resources_part.set({"questions": self.resources.for_screen(ids)})

    def _on_started(self, event: SessionStarted) -> None:
        self._session_id, self._group_id = event.session_id, event.group_id
        self.refresh()
        self.refresh_resources()

    def _on_ended(self, event: SessionEnded) -> None:
        if event.session_id == self._session_id:
            self._session_id, self._group_id = None, None
            self._part.set(None)
            self._resources_part.set(None)

    # -- tablet commands --------------------------------------------------------------------------------

    def _running(self) -> tuple[SessionService, int, int]:
        session = self.room.service(SessionService)
        if session.session_id is None or session.group_id is None:
            raise StateError("no session is running; a group member starts one by tapping their badge")
        return session, session.session_id, session.group_id

    def current_cycle(self) -> Cycle:
        """The running session's cycle.

        Raises:
            StateError: No session runs.
        """
        _, _, group_id = self._running()
        return self.cycles.for_week(group_id, self.room.clock.now())

    async def command(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run ``cycle`` or ``followup`` for the running session; answers what was stored.

        Raises:
            StateError: No session runs, or the command does not fit.
            ValidationError: Bad arguments (nothing changes).
        """
        session, session_id, group_id = self._running()
        if command == "cycle":
            cycle = self.cycles.choose(self.current_cycle().id, args, session_id)
            if "questions" in args:
                session.choices.choose(session_id, list(cycle.questions))
            if "situations" in args and cycle.situations and not session.choices.view(session_id)["work_situation"]:
                session.choices.set_work_situation(session_id, cycle.situations[0])
            session.tick()
            self.refresh()
            return {"cycle": self.cycles.view(cycle)}
        if command == "followup":
            proposal_id = args.get("proposal_id")
            if proposal_id is None:
                proposal = require_accepted(self.last_proposal(group_id), group_id)
            else:
                if not isinstance(proposal_id, int) or isinstance(proposal_id, bool):
                    raise ValidationError("proposal_id must be a proposal's id (a whole number)", field="proposal_id")
                proposals = self._proposals()
                if proposals is None:
                    raise StateError("the proposal capability is not installed")
                proposal = require_accepted(proposals.store.proposal(proposal_id), group_id)
            followup = self.followups.record(proposal, session_id, args.get("how"), args.get("note", ""))
            self.refresh()
            return {"followup": followup}
        raise ValidationError(f"{command!r} is not a week command; use one of {', '.join(sorted(WEEK_COMMANDS))}")
