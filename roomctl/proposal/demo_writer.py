"""The demo writer: an improvement proposal built from the group's own material, without any AI.

``[llm] provider = "demo"`` (set by ``roomctl demo`` when no Anthropic key is configured, and otherwise only when
configured explicitly) makes the outbox use this writer instead of the Messages API. It gets the same request
body the model would get (names already removed, material delimited) and answers through the same stream the
SDK gives the outbox: ``message_start``, the tool's JSON in small ``input_json`` pieces, ``message_delta``, and a
final message with one ``write_proposal`` tool call. So the proposal goes through the outbox, the validation and
the streaming to the screens like a real one; only the text is made here, mechanically:

- ``problem``: the group's problem statement, else the transcript's sentence that names the problem;
- ``steps``: every other sentence of the brainstorm (an idea) and every kader note, one step each;
- ``title`` and ``situation_summary``: from the problem and the work situation.

Screens say it honestly: the part ``proposal_writer`` carries the label "demo — geen AI" / "demo — no AI".
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from roomctl.proposal.content import MAX_ITEMS, TOOL_NAME

if TYPE_CHECKING:
    from anthropic.types import Message

log = logging.getLogger(__name__)

PROVIDER = "demo"
"""The ``[llm] provider`` value that selects this writer."""
MODEL = "demo-writer"
"""The model name the writer reports (usage rows show it, at zero tokens)."""
KEY = "demo-writer"
"""A marker the outbox gets as its key, so its key logic runs; not a secret."""
CHUNK_CHARS = 24
"""Characters of the tool JSON per streamed piece."""
CHUNK_SECONDS = 0.04
"""Pause between pieces, so the proposal visibly streams onto the kiosk (about 3 s for a proposal)."""
SCREEN_PART = "proposal_writer"
"""The screen part that tells the pages who writes the proposals."""
LABEL = {"nl": "demo — geen AI", "en": "demo — no AI"}
"""How the pages label a proposal from this writer."""
MAX_TITLE_CHARS = 80
TITLE_PROBLEM_CHARS = 48
"""How much of the problem sentence goes into the title."""
SENTENCE = re.compile(r"(?<=[.!?])\s+")
PROBLEM_WORDS = ("probleem", "problem", "knelpunt", "issue")
SECTION = re.compile(r"<(?P<tag>[a-z_]+)>\n(?P<text>.*?)\n</(?P=tag)>", re.S)

WORDS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Voorstel: {}",
        "summary": "De groep besprak: {}",
        "no_material": "De groep heeft nog geen werksituatie of brainstorm vastgelegd.",
        "role": "de groep",
        "effort": "door de groep in te schatten",
        "effect": "draagt bij aan: {}",
        "risk": "Dit voorstel is mechanisch uit jullie eigen woorden gemaakt (demo, geen AI): weeg elke stap zelf.",
        "learning": "Hoe meet je of een stap werkt?",
        "question": "Wie neemt welke stap op zich, en wanneer kijken we terug?",
        "remark": "Verwerken: {}",
    },
    "en": {
        "title": "Proposal: {}",
        "summary": "The group discussed: {}",
        "no_material": "The group has not recorded a work situation or brainstorm yet.",
        "role": "the group",
        "effort": "to be estimated by the group",
        "effect": "helps with: {}",
        "risk": "This proposal was made mechanically from your own words (demo, no AI): weigh every step yourselves.",
        "learning": "How do you measure whether a step works?",
        "question": "Who takes which step, and when do we look back?",
        "remark": "To work in: {}",
    },
}


def enabled(settings: Any) -> bool:
    """True when the room's ``[llm] provider`` is the demo writer."""
    return getattr(settings.llm, "provider", "anthropic") == PROVIDER


def read_key() -> str:
    """The writer needs no key; the outbox gets a fixed marker."""
    return KEY


def _sections(body: dict[str, Any]) -> dict[str, str]:
    content = body["messages"][0]["content"]
    text = content if isinstance(content, str) else " ".join(str(part.get("text", "")) for part in content)
    found = {m["tag"]: html.unescape(m["text"]).strip() for m in SECTION.finditer(text)}
    return {tag: value for tag, value in found.items() if value and value != "-"}


def _language(body: dict[str, Any]) -> str:
    return "en" if "in English" in str(body.get("system", "")) else "nl"


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text.replace("\n", " ")) if len(s.strip()) > 3]


def _short(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    text = text.rstrip(".!? ")
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def write(body: dict[str, Any]) -> dict[str, Any]:
    """The proposal (the ``write_proposal`` tool input) for a request ``body``, built from its material."""
    words = WORDS[_language(body)]
    material = _sections(body)
    if "draft" in material:
        return _revise(material, words)
    return _build(material, words)


def _build(material: dict[str, str], words: dict[str, str]) -> dict[str, Any]:
    sentences = _sentences(material.get("transcript", ""))
    problem = material.get("problem") or next(
        (s for s in sentences if any(w in s.lower() for w in PROBLEM_WORDS)), sentences[0] if sentences else ""
    )
    situation = material.get("work_situation") or problem or words["no_material"]
    problem = problem or situation
    ideas = [s for s in sentences if s != problem and not any(w in s.lower() for w in PROBLEM_WORDS)]
    notes = [line.lstrip("- ").split(": ", 1)[-1] for line in material.get("kader_notes", "").splitlines() if line.strip()]
    actions = [*ideas, *notes][:MAX_ITEMS] or [problem]
    effect = words["effect"].format(_short(problem, 120))
    return {
        "title": words["title"].format(_short(problem, TITLE_PROBLEM_CHARS)),
        "situation_summary": words["summary"].format(situation),
        "problem": problem,
        "steps": [
            {"role": words["role"], "action": action, "effort": words["effort"], "expected_effect": effect}
            for action in actions
        ],
        "risks": [words["risk"]],
        "learning_needs": [words["learning"]],
        "open_questions": [words["question"]],
    }


def _revise(material: dict[str, str], words: dict[str, str]) -> dict[str, Any]:
    """A revision: the draft as it stood, with the group's remarks added as a step."""
    try:
        draft: dict[str, Any] = json.loads(material["draft"])
    except ValueError:
        draft = {}
    proposal = _build(material, words)
    proposal.update({k: v for k, v in draft.items() if k in proposal and v})
    remarks = material.get("remarks")
    if remarks:
        step = {"role": words["role"], "action": words["remark"].format(remarks), "effort": words["effort"],
                "expected_effect": words["effect"].format(_short(str(proposal["problem"]), 120))}
        proposal["steps"] = [*proposal["steps"], step][-MAX_ITEMS:]
    return proposal


class _Stream:
    """What ``client.messages.stream(...)`` gives: an async context manager and iterator of stream events."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.tool_input = write(body)

    async def __aenter__(self) -> _Stream:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._events()

    async def _events(self) -> AsyncIterator[Any]:
        # The SDK's types, imported when the writer writes: the service starts without the SDK (issue 17).
        from anthropic.lib.streaming import InputJsonEvent
        from anthropic.types import MessageDeltaUsage, RawMessageDeltaEvent, RawMessageStartEvent
        from anthropic.types.raw_message_delta_event import Delta

        yield RawMessageStartEvent.model_construct(type="message_start", message=self._message(complete=False))
        text = json.dumps(self.tool_input, ensure_ascii=False)
        for at in range(0, len(text), CHUNK_CHARS):
            await asyncio.sleep(CHUNK_SECONDS)
            yield InputJsonEvent.model_construct(type="input_json", partial_json=text[at : at + CHUNK_CHARS], snapshot=None)
        yield RawMessageDeltaEvent.model_construct(
            type="message_delta",
            delta=Delta.model_construct(stop_reason="tool_use", stop_sequence=None),
            usage=MessageDeltaUsage.model_construct(output_tokens=0),
        )

    def _message(self, *, complete: bool) -> Message:
        from anthropic.types import Message, ToolUseBlock, Usage

        block = ToolUseBlock.model_construct(type="tool_use", id="demo", name=TOOL_NAME, input=self.tool_input)
        return Message.model_construct(
            id="demo", type="message", role="assistant", model=MODEL, content=[block] if complete else [],
            stop_reason="tool_use" if complete else None, stop_sequence=None,
            usage=Usage.model_construct(input_tokens=0, output_tokens=0),
        )  # fmt: skip

    async def get_final_message(self) -> Message:
        return self._message(complete=True)


class _Messages:
    def stream(self, **body: Any) -> _Stream:
        return _Stream(body)


class DemoWriterClient:
    """Stands where the SDK client stands in the outbox: ``messages.stream(**body)`` and ``close()``."""

    def __init__(self) -> None:
        self.messages = _Messages()

    async def close(self) -> None:
        """Nothing to release."""


def make_client(_key: str) -> DemoWriterClient:
    """The outbox's client factory for the demo writer."""
    return DemoWriterClient()
