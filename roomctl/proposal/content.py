"""The shape of an improvement proposal: the tool the model must call, and the validation of what it returns.

The model never answers in free text that roomctl then parses: it is forced (``tool_choice``) to call the tool
``write_proposal`` whose input schema is :data:`PROPOSAL_SCHEMA`. Whatever comes back is checked against that
schema (jsonschema) and then loaded into :class:`ProposalContent` (pydantic); anything that does not fit is
refused, so instructions smuggled in through the transcript cannot change the form of the output.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from roomctl.errors import ValidationError

TOOL_NAME = "write_proposal"

MAX_TEXT = 4000
"""Longest single text field, in characters."""
MAX_ITEMS = 12
"""Most entries in a list (steps, risks, ...)."""

LIST_FIELDS = ("steps", "risks", "learning_needs", "open_questions")
TEXT_FIELDS = ("title", "situation_summary", "problem")
FIELDS = TEXT_FIELDS + LIST_FIELDS


class MalformedProposalError(ValidationError):
    """The model's answer does not fit the proposal form."""


class Step(BaseModel):
    """One proposed step: who (in which role) does what, at what effort, to what effect."""

    model_config = ConfigDict(extra="forbid")

    role: str = Field(min_length=1, max_length=200, description="the role that takes this step, never a name")
    action: str = Field(min_length=1, max_length=MAX_TEXT, description="what is done")
    effort: str = Field(min_length=1, max_length=500, description="estimated effort, e.g. '2 uur per week'")
    expected_effect: str = Field(min_length=1, max_length=MAX_TEXT, description="what it should change")


class ProposalContent(BaseModel):
    """An improvement proposal as the group sees, edits and validates it."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    situation_summary: str = Field(min_length=1, max_length=MAX_TEXT, description="the work situation, briefly")
    problem: str = Field(min_length=1, max_length=MAX_TEXT, description="the problem as the group stated it")
    steps: list[Step] = Field(min_length=1, max_length=MAX_ITEMS)
    risks: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)
    learning_needs: list[str] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="what the group would need to learn"
    )
    open_questions: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)


def _string_list(description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "description": description,
        "maxItems": MAX_ITEMS,
        "items": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
    }


PROPOSAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": list(FIELDS),
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200, "description": "short title"},
        "situation_summary": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
        "problem": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
        "steps": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_ITEMS,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["role", "action", "effort", "expected_effect"],
                "properties": {
                    "role": {"type": "string", "minLength": 1, "maxLength": 200,
                             "description": "a role (e.g. 'teamleider'), never a person's name"},
                    "action": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                    "effort": {"type": "string", "minLength": 1, "maxLength": 500},
                    "expected_effect": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                },
            },
        },
        "risks": _string_list("what could go wrong"),
        "learning_needs": _string_list("what the group would need to learn (talent development)"),
        "open_questions": _string_list("questions the group still has to answer"),
    },
}
"""The JSON schema of the tool input; the same rules as :class:`ProposalContent`."""

TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": "Record the improvement proposal for the group. Call this exactly once with the whole proposal.",
    "input_schema": PROPOSAL_SCHEMA,
}


@cache
def _validator() -> Any:
    import jsonschema  # imported at the first answer: not needed to start the room

    return jsonschema.Draft202012Validator(PROPOSAL_SCHEMA)


def validate_proposal(data: object) -> ProposalContent:
    """Check the model's tool input against the schema and load it.

    Raises:
        MalformedProposalError: With a sentence naming the first few problems.
    """
    if not isinstance(data, dict):
        raise MalformedProposalError(f"the answer is a {type(data).__name__}, not an object")
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        described = "; ".join(
            f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:120]}" for e in errors[:3]
        )
        raise MalformedProposalError(f"the answer does not fit the proposal form: {described}")
    try:
        return ProposalContent.model_validate(data)
    except pydantic.ValidationError as exc:  # pragma: no cover - the schema and the model agree
        raise MalformedProposalError(f"the answer does not fit the proposal form: {exc.errors()[0]['msg']}") from None


def partial_draft(snapshot: object) -> dict[str, Any]:
    """The known fields of a partly streamed tool input, for the screen (unknown keys are dropped)."""
    if not isinstance(snapshot, dict):
        return {}
    draft: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = snapshot.get(name)
        if isinstance(value, str):
            draft[name] = value[:MAX_TEXT]
    for name in LIST_FIELDS:
        value = snapshot.get(name)
        if isinstance(value, list):
            if name == "steps":
                draft[name] = [
                    {k: str(v)[:MAX_TEXT] for k, v in item.items() if k in Step.model_fields}
                    for item in value[:MAX_ITEMS]
                    if isinstance(item, dict)
                ]
            else:
                draft[name] = [str(item)[:MAX_TEXT] for item in value[:MAX_ITEMS] if isinstance(item, str)]
    return draft
