"""Asking for a proposal, and the group's verdict on it: the capability's service, registered as ``proposal``.

Asking de-identifies the material (:mod:`roomctl.proposal.deidentify`) and keeps it as a preview for the group
(``[llm] preview = "required"``, the default); the group sends it from the tablet, with passages struck, and only
then is a request stored in the outbox (material delimited) and the worker woken; it never waits for the model.
What was sent stays on the Pi with the proposal until the transcript's retention time has passed. The verdict: ``accept`` (the version joins the group's portfolio), ``revise`` with remarks (a new
request; its answer becomes the next version), ``reject``. Single items can be edited while a version is a
draft; the model's original text is kept beside the edited one.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import pydantic

from roomctl.core.room import Room
from roomctl.errors import StateError, ValidationError
from roomctl.proposal import cost, screen
from roomctl.proposal.content import FIELDS, ProposalContent
from roomctl.proposal.deduce_engine import DeidentifierNotReadyError, deduce_loaded, load_deduce
from roomctl.proposal.deidentify import Deidentification, deidentifier
from roomctl.proposal.outbox import Outbox
from roomctl.proposal.prompt import (
    Material,
    ProposalInput,
    build_material,
    check_struck,
    request_body,
    revision_material,
    sent_sections,
    system_prompt,
    user_text,
)
from roomctl.proposal.sources import ContextSource, RoomContextSource
from roomctl.proposal.store import ProposalStore, last_accepted_proposal
from roomctl.session.events import SessionStarted

log = logging.getLogger(__name__)

Verdict = Literal["accept", "revise", "reject"]
EXPIRE_EVERY_SECONDS = 3600.0
"""How often what was sent is checked against the transcript's retention time (also at start and each ask)."""
MAX_MATERIAL_CHARS = 2_000_000
"""Refuse absurdly large input outright (a 3-hour transcript is ~200 000 characters)."""


@dataclass(frozen=True)
class _Prepared:
    """What an ask read from the database, for the de-identification."""

    session_id: int
    group_id: int | None
    key: str | None
    data: ProposalInput
    known: list[str]


class ProposalService:
    """Asks, verdicts and edits; owns the outbox worker."""

    name = "proposal"

    def __init__(self, room: Room, *, source: ContextSource | None = None, outbox: Outbox | None = None) -> None:
        self.room = room
        self.settings = room.settings.llm
        self.store = ProposalStore(room.db)
        self.source: ContextSource = source or RoomContextSource(room)
        self.outbox = outbox or Outbox(room, self.store)
        self.outbox.on_done = self._done
        self._preload: asyncio.Task[None] | None = None
        room.on(SessionStarted, self._on_session_started)

    async def start(self) -> None:
        """Expire old material and start the outbox worker (pending requests resume)."""
        self.expire()
        await self.outbox.start()
        self.room.spawn(self._expire_every(EXPIRE_EVERY_SECONDS), name="proposal-expire")

    def _on_session_started(self, _event: SessionStarted) -> None:
        """Load deduce in the background when a session starts, well before its group asks for a proposal.

        Not at start-up: its lookup tables are about 55 MB of the service's memory, and a room at rest needs none
        of it (issue 17: idle RSS). Once loaded it stays for the life of the process.
        """
        if self.settings.enabled and (self._preload is None or self._preload.done()) and not deduce_loaded():
            self._preload = self.room.spawn(self._load_deidentifier(), name="proposal-deduce-load")

    async def _expire_every(self, seconds: float) -> None:
        """What was sent expires on time also when the room runs for months without a restart or an ask."""
        while True:
            await asyncio.sleep(seconds)
            try:
                self.expire()
            except Exception:
                log.exception("expiring sent proposal material failed; trying again later")

    async def _load_deidentifier(self) -> None:
        if "nl" not in (self.room.settings.room.language, self.room.settings.speech.language):
            return
        try:
            await asyncio.to_thread(load_deduce)
        except DeidentifierNotReadyError as exc:
            log.warning("%s", exc.detail)

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

    def _deidentification(self, group_id: int | None, state: dict[str, Any] | None = None) -> Deidentification:
        dutch = "nl" in (self.room.settings.room.language, self.room.settings.speech.language)
        return deidentifier(
            self.source.known_names(group_id), self.settings.redact_words, self.room.settings.room.language,
            state, dutch=dutch,
        )

    def _check_can_ask(self) -> None:
        if not self.settings.enabled:
            raise StateError("AI proposals are switched off in this room ([llm] enabled = false)")
        now = self.room.clock.now()
        cost.check_budget(self.room.db, self.settings, now, self.room.settings.room.tz)

    def expire(self) -> list[int]:
        """Delete what was sent (and its mapping) once the transcript's retention time has passed."""
        days = self.room.settings.speech.transcript_retention_days
        if not days:
            return []
        gone = self.store.expire_material(self.room.clock.now() - timedelta(days=days))
        if gone:
            log.info("expired the sent material of %d proposal request(s) older than %d days", len(gone), days)
        return gone

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
        preview: bool | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """De-identify the session's material and either keep it for the group's preview or send it.

        What the caller leaves out of work situation, problem and kader notes comes from what the group chose
        on the tablet for this session. With ``[llm] preview = "required"`` (or ``preview=True``) the answer is
        a preview (``state`` ``preview``) that goes out only through :meth:`send`; otherwise the request is
        stored in the outbox at once.

        Returns:
            The preview or the request (without body), and whether it was created now (False: an existing one
            was returned, because the key was seen before or the session already has one open or pending).

        Raises:
            ValidationError: The transcript is empty or the material is absurdly large.
            BudgetExceededError: Today's budget is used up.
            StateError: Proposals are switched off.
            DeidentifierNotReadyError: Dutch de-identification was never set up here (nothing is stored).
            NamesUnknownError: The room cannot know every name to remove (nothing is stored).
        """
        prepared = self._prepare(session_id, transcript, work_situation, problem, kader_notes, group_id,
                                 idempotency_key)
        if isinstance(prepared, tuple):
            return prepared
        return self._finish(prepared, self._material(prepared), preview)

    async def ask_async(
        self,
        session_id: int,
        *,
        transcript: str | None = None,
        work_situation: str = "",
        problem: str = "",
        kader_notes: list[tuple[str, str]] | None = None,
        group_id: int | None = None,
        idempotency_key: str | None = None,
        preview: bool | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """:meth:`ask`, with the de-identification (about a second for a long transcript) in a worker thread.

        The event loop keeps serving the door and the screens meanwhile. Same answers and errors as :meth:`ask`.
        """
        prepared = self._prepare(session_id, transcript, work_situation, problem, kader_notes, group_id,
                                 idempotency_key)
        if isinstance(prepared, tuple):
            return prepared
        material = await asyncio.to_thread(self._material, prepared)
        return self._finish(prepared, material, preview)

    def _existing(self, session_id: int, key: str | None) -> tuple[dict[str, Any], bool] | None:
        if key:
            existing = self.store.request_by_key(key)
            if existing is not None:
                return self._public(existing), False
            waiting = self.store.preview_by_key(key)
            if waiting is not None:
                return self._public_preview(waiting), False
        active = self.store.active_request(session_id)
        if active is not None:
            return self._public(active), False
        waiting = self.store.open_preview(session_id)
        if waiting is not None:
            return self._public_preview(waiting), False
        return None

    def _prepare(
        self, session_id: int, transcript: str | None, work_situation: str, problem: str,
        kader_notes: list[tuple[str, str]] | None, group_id: int | None, key: str | None,
    ) -> _Prepared | tuple[dict[str, Any], bool]:
        """Everything that reads the database before the de-identification (or the existing answer)."""
        existing = self._existing(session_id, key)
        if existing is not None:
            return existing
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
        self.expire()
        if group_id is None:
            group_id = self.source.group_of_session(session_id)
        previous = last_accepted_proposal(self.room.db, group_id) if group_id is not None else None
        data = ProposalInput(transcript=text, work_situation=work_situation, problem=problem, kader_notes=notes,
                             previous_proposal=previous["content"] if previous else None)
        return _Prepared(session_id, group_id, key, data, self.source.known_names(group_id))

    def _material(self, prepared: _Prepared) -> tuple[Material, Deidentification]:
        """The de-identification itself: no database, safe in a worker thread."""
        dutch = "nl" in (self.room.settings.room.language, self.room.settings.speech.language)
        deid = deidentifier(prepared.known, self.settings.redact_words, self.room.settings.room.language,
                            dutch=dutch)
        material = build_material(prepared.data, deid, language=self.room.settings.room.language,
                                  transcript_max_chars=self.settings.transcript_max_chars)
        return material, deid

    def _finish(
        self, prepared: _Prepared, made: tuple[Material, Deidentification], preview: bool | None
    ) -> tuple[dict[str, Any], bool]:
        existing = self._existing(prepared.session_id, prepared.key)  # asked twice while the first was working
        if existing is not None:
            return existing
        material, deid = made
        preview_id = self._keep(prepared.session_id, prepared.group_id, "ask", None, material, deid, prepared.key)
        return self._after_keep(preview_id, preview), True

    def _keep(
        self, session_id: int, group_id: int | None, kind: str, parent: int | None, material: Material,
        deid: Deidentification, key: str | None,
    ) -> int:
        return self.store.insert_preview(
            {
                "idempotency_key": key,
                "session_id": session_id,
                "group_id": group_id,
                "kind": kind,
                "parent_proposal_id": parent,
                "sections": material.sections,
                "mapping": deid.state(),
                "state": "open",
                "redactions": material.redactions,
                "omitted_chars": material.omitted_chars,
                "created_at": self.room.clock.now().isoformat(),
            }
        )

    def _after_keep(self, preview_id: int, preview: bool | None) -> dict[str, Any]:
        required = self.settings.preview == "required"
        if required or preview:
            row = self.store.preview(preview_id)
            self.outbox.part.set(
                {"state": "preview", "session_id": row["session_id"], "preview_id": preview_id, "request_id": None,
                 "proposal_id": row["parent_proposal_id"], "message": screen.message("preview")},
            )
            log.info("proposal preview %d kept for the group (%s, session %d, %d replaced)", preview_id,
                     row["kind"], row["session_id"], row["redactions"])
            self.outbox.warm()  # while the group reads it
            return self._public_preview(row)
        request, _ = self.send(preview_id, [])
        return request

    def preview_view(self, preview_id: int, struck: list[str] | None = None) -> dict[str, Any]:
        """What the tablet shows: the passages (placeholders in them), what is struck, and the exact text.

        Args:
            preview_id: The preview.
            struck: Passages the group is striking (default: those stored), for the exact text with them left out.

        The mapping back to names is never part of it.

        Raises:
            ValidationError: A struck id that is no passage of the preview.
        """
        row = self.store.preview(preview_id)
        if row["state"] == "expired":
            raise StateError(f"proposal preview {preview_id} has expired with the transcript")
        language = self.room.settings.room.language
        try:
            strike = check_struck(row["sections"], row["struck"] if struck is None else struck)
        except ValueError as exc:
            raise ValidationError(f"{exc}; strike passages by the ids the preview lists", field="struck") from None
        return {
            **self._public_preview(row),
            "sections": row["sections"],
            "struck": sorted(strike),
            "system": system_prompt(language),
            "text": user_text(row["sections"], strike, row["kind"], language),
            "provider": self.settings.provider,
            "model": self.settings.model,
        }

    def send(self, preview_id: int, struck: list[str]) -> tuple[dict[str, Any], bool]:
        """Send a preview without the ``struck`` passages: the request goes into the outbox.

        Returns:
            The request (without body) and whether it was created now (False: the preview was already sent).

        Raises:
            NotFoundError: No such preview.
            ValidationError: A struck id that is no passage of it.
            StateError: The preview expired, or proposals are switched off / over budget.
        """
        row = self.store.preview(preview_id)
        if row["state"] == "sent" and row["request_id"] is not None:
            return self._public(self.store.request(row["request_id"])), False
        if row["state"] != "open":
            raise StateError(f"proposal preview {preview_id} has expired with the transcript; ask again")
        try:
            strike = check_struck(row["sections"], struck)
        except ValueError as exc:
            raise ValidationError(f"{exc}; strike passages by the ids the preview lists", field="struck") from None
        self._check_can_ask()
        language = self.room.settings.room.language
        body = request_body(
            user_text(row["sections"], strike, row["kind"], language),
            model=self.settings.model, max_tokens=self.settings.max_tokens, language=language,
        )
        if row["kind"] == "revise" and row["parent_proposal_id"] is not None:
            self._draft(row["parent_proposal_id"])
            self.store.update_proposal(row["parent_proposal_id"], status="revised",
                                       decided_at=self.room.clock.now().isoformat())
        request_id = self._enqueue(
            row["session_id"], row["group_id"], row["kind"], row["parent_proposal_id"], body, row["redactions"],
            row["omitted_chars"], row["idempotency_key"],
        )
        self.store.mark_sent(preview_id, request_id, sorted(strike), self.room.clock.now())
        return self._public(self.store.request(request_id)), True

    def sent(self, proposal_id: int) -> dict[str, Any]:
        """What left the Pi for a proposal version: the exact text, and the passages the group struck.

        Raises:
            NotFoundError: No such proposal.
        """
        proposal = self.store.proposal(proposal_id)
        request = self.store.request(proposal["request_id"])
        row = self.store.preview_of_request(request["id"])
        answer: dict[str, Any] = {"proposal_id": proposal_id, "request_id": request["id"],
                                  "sent_at": request["sent_at"], "model": request["model"]}
        if row is None or row["state"] == "expired" or request["body"].get("expired"):
            return {**answer, "expired": True, "text": None, "sections": [], "struck": []}
        language = self.room.settings.room.language
        return {
            **answer,
            "expired": False,
            "text": str(request["body"]["messages"][0]["content"]),
            "sections": sent_sections(row["sections"], set(row["struck"]), language),
            "struck": row["struck"],
        }

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
        log.info("proposal request %d stored (%s, session %d, %d replaced)", request_id, kind, session_id,
                 redactions)
        state = "revising" if kind == "revise" else "waiting"
        self.outbox.part.set(
            {"state": state, "session_id": session_id, "request_id": request_id, "proposal_id": None,
             "message": screen.message("revising" if kind == "revise" else "queued")},
        )
        self.outbox.wake()
        return request_id

    @staticmethod
    def _public_preview(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "preview_id": row["id"],
            "state": "preview" if row["state"] == "open" else row["state"],
            "session_id": row["session_id"],
            "group_id": row["group_id"],
            "kind": row["kind"],
            "parent_proposal_id": row["parent_proposal_id"],
            "request_id": row["request_id"],
            "redactions": row["redactions"],
            "omitted_chars": row["omitted_chars"],
            "created_at": row["created_at"],
        }

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

    def _ask_preview(self, proposal: dict[str, Any]) -> dict[str, Any]:
        request = self.store.request(proposal["request_id"])
        while request["kind"] != "ask":
            parent = self.store.proposal(request["parent_proposal_id"])
            request = self.store.request(parent["request_id"])
        row = self.store.preview_of_request(request["id"])
        if row is None or row["state"] == "expired":
            raise StateError("the material of this proposal has expired with the transcript; ask for a new proposal")
        return row

    def verdict(self, proposal_id: int, verdict: Verdict, remarks: str = "") -> dict[str, Any]:
        """Record the group's verdict on a draft.

        Returns:
            ``{"proposal": ..., "request": ...}``; for ``revise``, ``request`` is the revision's preview (the
            draft stays a draft until the group sends it) or, without a required preview, the new request.

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
            ask = self._ask_preview(proposal)
            language = self.room.settings.room.language
            deid = self._deidentification(proposal["group_id"], ask["mapping"])
            material = revision_material(
                sent_sections(ask["sections"], set(ask["struck"]), language), proposal["content"], remarks.strip(),
                deid,
            )
            self.store.update_proposal(proposal_id, remarks=remarks.strip())
            preview_id = self._keep(proposal["session_id"], proposal["group_id"], "revise", proposal_id, material,
                                    deid, None)
            request = self._after_keep(preview_id, None)
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
