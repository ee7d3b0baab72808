"""Asking for a proposal, and the group's verdict on it: the capability's service, registered as ``proposal``.

Asking stores a request in the outbox (names removed, material delimited) and wakes the worker; it never waits
for the model. The verdict: ``accept`` (the version joins the group's portfolio), ``revise`` with remarks (a new
request; its answer becomes the next version), ``reject``. Single items can be edited while a version is a
draft; the model's original text is kept beside the edited one.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Literal

import pydantic

from roomctl.core.room import Room
from roomctl.errors import StateError, ValidationError
from roomctl.proposal import cost, screen
from roomctl.proposal.content import FIELDS, ProposalContent
from roomctl.proposal.outbox import Outbox
from roomctl.proposal.prompt import ProposalInput, build_request, build_revision
from roomctl.proposal.redact import Redactor
from roomctl.proposal.sources import ContextSource, DatabaseContextSource
from roomctl.proposal.store import ProposalStore, last_accepted_proposal

log = logging.getLogger(__name__)

Verdict = Literal["accept", "revise", "reject"]
MAX_MATERIAL_CHARS = 2_000_000
"""Refuse absurdly large input outright (a 3-hour transcript is ~200 000 characters)."""


class ProposalService:
    """Asks, verdicts and edits; owns the outbox worker."""

    name = "proposal"

    def __init__(self, room: Room, *, source: ContextSource | None = None, outbox: Outbox | None = None) -> None:
        self.room = room
        self.settings = room.settings.llm
        self.store = ProposalStore(room.db)
        self.source: ContextSource = source or DatabaseContextSource(room.db, room.settings.room.language)
        self.outbox = outbox or Outbox(room, self.store)
        self.outbox.on_done = self._done

    async def start(self) -> None:
        """Start the outbox worker (pending requests resume)."""
        await self.outbox.start()

    async def stop(self) -> None:
        """Stop the worker."""
        await self.outbox.stop()

    def proposal_on_screen(self) -> int | None:
        """The id of the proposal the kiosk and the tablet show now, if any."""
        shown: dict[str, Any] = self.outbox.part.get() or {}
        proposal_id = shown.get("proposal_id")
        return proposal_id if isinstance(proposal_id, int) else None

    def last_accepted_proposal(self, group_id: int) -> dict[str, Any] | None:
        """The group's most recent accepted proposal: what its next session opens with (None if none)."""
        return last_accepted_proposal(self.room.db, group_id)

    # -- asking -----------------------------------------------------------------------------------------

    def _redactor(self, group_id: int | None) -> Redactor:
        return Redactor.for_names(
            self.source.member_names(group_id), self.settings.redact_words, self.room.settings.room.language
        )

    def _check_can_ask(self) -> None:
        if not self.settings.enabled:
            raise StateError("AI proposals are switched off in this room ([llm] enabled = false)")
        now = self.room.clock.now()
        cost.check_budget(self.room.db, self.settings, now, self.room.settings.room.tz)

    def ask(
        self,
        session_id: int,
        *,
        transcript: str | None = None,
        work_situation: str = "",
        problem: str = "",
        kader_notes: list[tuple[str, str]] | None = None,
        group_id: int | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store a proposal request for the session and wake the outbox.

        What the caller leaves out of work situation, problem and kader notes comes from what the group chose
        on the tablet for this session.

        Returns:
            The request (without body) and whether it was created now (False: an existing one was returned,
            because the key was seen before or the session already has a request in the outbox).

        Raises:
            ValidationError: The transcript is empty or the material is absurdly large.
            BudgetExceededError: Today's budget is used up.
            StateError: Proposals are switched off.
        """
        if idempotency_key:
            existing = self.store.request_by_key(idempotency_key)
            if existing is not None:
                return self._public(existing), False
        active = self.store.active_request(session_id)
        if active is not None:
            return self._public(active), False
        text = transcript if transcript is not None else self.source.transcript(session_id)
        if text is None or not text.strip():
            raise ValidationError(
                "the brainstorm transcript is empty; record the brainstorm or type its main points, then ask again",
                session_id=session_id,
            )
        stored = self.source.material(session_id)
        work_situation = work_situation or stored["work_situation"]
        problem = problem or stored["problem"]
        notes = kader_notes or stored["kader_notes"]
        total = len(text) + len(work_situation) + len(problem) + sum(len(q) + len(n) for q, n in notes)
        if total > MAX_MATERIAL_CHARS:
            raise ValidationError(f"the material is {total} characters; at most {MAX_MATERIAL_CHARS} are accepted")
        self._check_can_ask()
        if group_id is None:
            group_id = self.source.group_of_session(session_id)
        previous = last_accepted_proposal(self.room.db, group_id) if group_id is not None else None
        built = build_request(
            ProposalInput(
                transcript=text,
                work_situation=work_situation,
                problem=problem,
                kader_notes=notes,
                previous_proposal=previous["content"] if previous else None,
            ),
            self._redactor(group_id),
            model=self.settings.model,
            max_tokens=self.settings.max_tokens,
            language=self.room.settings.room.language,
            transcript_max_chars=self.settings.transcript_max_chars,
        )
        request_id = self._enqueue(session_id, group_id, "ask", None, built.body, built.redactions,
                                   built.omitted_chars, idempotency_key)
        return self._public(self.store.request(request_id)), True

    def _enqueue(
        self, session_id: int, group_id: int | None, kind: str, parent: int | None, body: dict[str, Any],
        redactions: int, omitted: int, key: str | None,
    ) -> int:
        request_id = self.store.insert_request(
            {
                "idempotency_key": key or f"roomctl-{uuid.uuid4()}",
                "session_id": session_id,
                "group_id": group_id,
                "kind": kind,
                "parent_proposal_id": parent,
                "body": body,
                "state": "pending",
                "redactions": redactions,
                "omitted_chars": omitted,
                "model": body["model"],
                "created_at": self.room.clock.now().isoformat(),
            }
        )
        log.info("proposal request %d stored (%s, session %d, %d redactions)", request_id, kind, session_id,
                 redactions)
        state = "revising" if kind == "revise" else "waiting"
        self.outbox.part.set(
            {"state": state, "session_id": session_id, "request_id": request_id, "proposal_id": None,
             "message": screen.message("revising" if kind == "revise" else "queued")},
        )
        self.outbox.wake()
        return request_id

    @staticmethod
    def _public(request: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in request.items() if k not in ("body", "response")}

    def _done(self, request_id: int, proposal_id: int) -> None:
        proposal = self.store.proposal(proposal_id)
        self.outbox.part.set(
            {"state": "ready", "session_id": proposal["session_id"], "request_id": request_id,
             "proposal_id": proposal_id, "version": proposal["version"], "message": screen.message("ready"),
             "draft": proposal["content"]},
        )

    # -- the verdict ------------------------------------------------------------------------------------

    def _draft(self, proposal_id: int) -> dict[str, Any]:
        proposal = self.store.proposal(proposal_id)
        if proposal["status"] != "draft":
            raise StateError(
                f"proposal {proposal_id} was already {proposal['status']}; only a draft can be judged or edited",
                proposal_status=proposal["status"],
            )
        return proposal

    def _ask_body(self, proposal: dict[str, Any]) -> dict[str, Any]:
        request = self.store.request(proposal["request_id"])
        while request["kind"] != "ask":
            parent = self.store.proposal(request["parent_proposal_id"])
            request = self.store.request(parent["request_id"])
        return dict(request["body"])

    def verdict(self, proposal_id: int, verdict: Verdict, remarks: str = "") -> dict[str, Any]:
        """Record the group's verdict on a draft.

        Returns:
            ``{"proposal": ..., "request": ...}``; ``request`` is the new revision request for ``revise``.

        Raises:
            StateError: The proposal is not a draft (or budget/switch refuse a revision).
            ValidationError: ``revise`` without remarks.
        """
        proposal = self._draft(proposal_id)
        now = self.room.clock.now().isoformat()
        request: dict[str, Any] | None = None
        if verdict == "revise":
            if not remarks.strip():
                raise ValidationError("say what should change: a revision needs the group's remarks")
            self._check_can_ask()
            built = build_revision(
                self._ask_body(proposal), proposal["content"], remarks.strip(), self._redactor(proposal["group_id"])
            )
            self.store.update_proposal(proposal_id, status="revised", remarks=remarks.strip(), decided_at=now)
            request_id = self._enqueue(proposal["session_id"], proposal["group_id"], "revise", proposal_id,
                                       built.body, built.redactions, 0, None)
            request = self._public(self.store.request(request_id))
        else:
            status = "accepted" if verdict == "accept" else "rejected"
            self.store.update_proposal(proposal_id, status=status, remarks=remarks.strip() or None, decided_at=now)
            self.outbox.part.set(
                {"state": status, "session_id": proposal["session_id"], "request_id": proposal["request_id"],
                 "proposal_id": proposal_id, "version": proposal["version"], "message": screen.message(status),
                 "draft": proposal["content"]},
            )
        return {"proposal": self.store.proposal(proposal_id), "request": request}

    def edit(self, proposal_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Replace single items of a draft (top-level fields); the result must still fit the form.

        Raises:
            ValidationError: An unknown field, or a value that does not fit.
            StateError: The proposal is not a draft.
        """
        proposal = self._draft(proposal_id)
        unknown = set(changes) - set(FIELDS)
        if unknown or not changes:
            extra = f" (unknown: {', '.join(sorted(unknown))})" if unknown else ""
            raise ValidationError(f"edit one or more of: {', '.join(FIELDS)}{extra}")
        merged = {**proposal["content"], **changes}
        try:
            content = ProposalContent.model_validate(merged)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValidationError(f"{where}: {first['msg']}") from None
        self.store.update_proposal(proposal_id, content=content.model_dump(), edited=1)
        return self.store.proposal(proposal_id)
