"""HTTP routes of the AI improvement proposal and its preview. Facilitator and admin only: never facilities (privacy)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from roomctl.api.deps import provide
from roomctl.api.limits import ASK_BODY_BYTES
from roomctl.api.scope import RowId, ScopeDep, owner_query
from roomctl.api.security import Role, allow
from roomctl.errors import NotFoundError
from roomctl.proposal.content import MAX_TEXT, Step
from roomctl.proposal.export import portfolio_html, portfolio_markdown
from roomctl.proposal.service import MAX_MATERIAL_CHARS, ProposalService

router = APIRouter(tags=["proposals"], dependencies=[allow(Role.FACILITATOR, Role.ADMIN)])

MAX_KEY_LENGTH = 200


class KaderNote(BaseModel):
    """A note the group typed on one kader question."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=1000)
    note: str = Field("", max_length=MAX_TEXT)


class AskBody(BaseModel):
    """Ask for a proposal. The transcript comes from the speech tables when it is not given."""

    model_config = ConfigDict(extra="forbid")

    transcript: str | None = Field(None, max_length=MAX_MATERIAL_CHARS,
                                   description="the brainstorm text; default: the session's stored transcript")
    work_situation: str = Field("", max_length=20000)
    problem: str = Field("", max_length=20000)
    kader_notes: list[KaderNote] = Field(default_factory=list, max_length=50)
    group_id: RowId | None = Field(None, description="the session's group (any other is refused); default: that group")
    idempotency_key: str | None = Field(None, min_length=1, max_length=MAX_KEY_LENGTH)
    preview: bool | None = Field(
        None, description='keep it for the group\'s preview first (always so with [llm] preview = "required")'
    )


class SendBody(BaseModel):
    """Send a preview; the passages named in ``struck`` are left out."""

    model_config = ConfigDict(extra="forbid")

    struck: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list, max_length=5000)


class VerdictBody(BaseModel):
    """The group's verdict on a draft."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["accept", "revise", "reject"]
    remarks: str = Field("", max_length=MAX_TEXT)


class EditBody(BaseModel):
    """Single items to replace in a draft; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200)
    situation_summary: str | None = Field(None, min_length=1, max_length=MAX_TEXT)
    problem: str | None = Field(None, min_length=1, max_length=MAX_TEXT)
    steps: list[Step] | None = None
    risks: list[str] | None = None
    learning_needs: list[str] | None = None
    open_questions: list[str] | None = None


ServiceDep = Annotated[ProposalService, Depends(provide(ProposalService))]
"""The proposal service, the one way these routes reach it."""


proposal_group = owner_query("proposal_id", "proposal", "select group_id from proposals where id = ?")
"""The group a proposal was made for (the group scope's resolver for ``{proposal_id}``)."""
preview_group = owner_query(
    "preview_id", "proposal preview",
    "select coalesce(p.group_id, s.group_id) from proposal_previews p left join sessions s on s.id = p.session_id "
    "where p.id = ?",
)  # fmt: skip
"""The group whose material a preview holds (the group scope's resolver for ``{preview_id}``)."""


@router.post("/sessions/{session_id}/proposals", status_code=202, max_body_size=ASK_BODY_BYTES)
async def ask_for_proposal(
    session_id: int,
    body: AskBody,
    service: ServiceDep,
    scope: ScopeDep,
    idempotency_key: Annotated[str | None, Header(max_length=MAX_KEY_LENGTH)] = None,
) -> JSONResponse:
    """Store a proposal request; it goes out through the outbox. 200 with the existing request if it exists.

    The session must exist and be of a group the caller holds (the group scope checks ``session_id``); a
    ``group_id`` other than the session's is refused like a missing one.
    """
    session_group = scope.require("session_id", session_id)
    if body.group_id is not None and body.group_id != session_group:
        raise NotFoundError(f"session {session_id} is not of group {body.group_id}")
    request, created = await service.ask_async(
        session_id,
        transcript=body.transcript,
        work_situation=body.work_situation,
        problem=body.problem,
        kader_notes=[(n.question, n.note) for n in body.kader_notes],
        group_id=session_group,
        idempotency_key=body.idempotency_key or idempotency_key,
        preview=body.preview,
    )
    return JSONResponse(request, status_code=202 if created else 200)


@router.get("/proposal-previews/{preview_id}")
async def get_preview(
    preview_id: int,
    service: ServiceDep,
    struck: Annotated[str, Query(max_length=100_000, description="passage ids, comma-separated")] = "",
) -> dict[str, Any]:
    """Exactly what would leave the Pi: the de-identified passages, placeholders in them, and the whole text.

    With ``struck``, the text is the one that goes out when those passages are struck.
    """
    ids = [s for s in struck.split(",") if s] if struck else None
    return service.preview_view(preview_id, ids)


@router.post("/proposal-previews/{preview_id}/send", status_code=202)
async def send_preview(preview_id: int, body: SendBody, service: ServiceDep) -> JSONResponse:
    """The group sends the preview without the struck passages: the request goes into the outbox."""
    request, created = service.send(preview_id, body.struck)
    return JSONResponse(request, status_code=202 if created else 200)


@router.get("/proposals/{proposal_id}/sent")
async def what_was_sent(proposal_id: int, service: ServiceDep) -> dict[str, Any]:
    """What left the Pi for this proposal version (until it expires with the transcript)."""
    return service.sent(proposal_id)


@router.get("/sessions/{session_id}/proposals")
async def list_proposals(session_id: int, service: ServiceDep) -> dict[str, Any]:
    """The session's requests (state, tokens, cost) and every proposal version."""
    return {
        "requests": service.store.requests_for_session(session_id),
        "proposals": service.store.proposals_for_session(session_id),
    }


@router.get("/proposals/{proposal_id}")
async def get_proposal(proposal_id: int, service: ServiceDep) -> dict[str, Any]:
    """One proposal version (content, the model's original, status, remarks)."""
    return service.store.proposal(proposal_id)


@router.post("/proposals/{proposal_id}/verdict")
async def give_verdict(
    proposal_id: int, body: VerdictBody, service: ServiceDep
) -> dict[str, Any]:
    """Accept, reject, or revise with remarks (a new version is requested)."""
    return service.verdict(proposal_id, body.verdict, body.remarks)


@router.patch("/proposals/{proposal_id}")
async def edit_proposal(
    proposal_id: int, body: EditBody, service: ServiceDep
) -> dict[str, Any]:
    """Replace single items of a draft before accepting it."""
    return service.edit(proposal_id, body.model_dump(exclude_none=True, mode="json"))


def _portfolio(service: ProposalService, group_id: int) -> tuple[str, list[dict[str, Any]], str]:
    name = service.store.group_name(group_id) or f"#{group_id}"
    return name, service.store.portfolio(group_id), service.room.settings.room.language


@router.get("/groups/{group_id}/portfolio.md", response_class=PlainTextResponse)
async def portfolio_md(group_id: int, service: ServiceDep) -> PlainTextResponse:
    """The group's accepted proposals as Markdown."""
    name, proposals, language = _portfolio(service, group_id)
    return PlainTextResponse(
        portfolio_markdown(name, proposals, language),
        media_type="text/markdown; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="portfolio-{group_id}.md"'},
    )


@router.get("/groups/{group_id}/portfolio.html", response_class=HTMLResponse)
async def portfolio_page(group_id: int, service: ServiceDep) -> HTMLResponse:
    """The group's accepted proposals as a printable page."""
    name, proposals, language = _portfolio(service, group_id)
    return HTMLResponse(portfolio_html(name, proposals, language))
