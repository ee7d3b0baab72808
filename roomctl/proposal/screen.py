"""The screen part ``proposal``: what the kiosk and the tablet show about the proposal, Dutch first.

Shape: ``{"state", "session_id", "request_id", "proposal_id", "version", "wait_reason", "message": {"nl", "en"},
"draft"}``. ``state`` is one of ``preview`` (de-identified, waiting for the group to check and send it on the tablet;
``preview_id``), ``waiting`` (stored, not yet out: no key, no network, rate limited),
``writing`` (streaming; ``draft`` grows), ``ready`` (a draft for the group to judge), ``revising``,
``accepted``, ``rejected`` or ``failed``. While writing, the part is updated at most every
``[llm] screen_throttle_seconds``, so a fast stream does not flood the WebSockets.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jiter

from roomctl.core.room import Room
from roomctl.core.state import Part
from roomctl.proposal.content import partial_draft

PART = "proposal"

MESSAGES: dict[str, tuple[str, str]] = {
    "queued": ("Het voorstel is aangevraagd.", "The proposal has been requested."),
    "preview": (
        "Bekijk op de tablet wat er verstuurd wordt: namen zijn vervangen. Streep door wat niet mee mag en verstuur.",
        "Check on the tablet what will be sent: names are replaced. Strike what must not go, then send.",
    ),
    "budget": (
        "Het dagbudget voor AI-voorstellen is op. Het verzoek is bewaard en gaat morgen weg.",
        "Today's budget for AI proposals is used up. The request is stored and goes out tomorrow.",
    ),
    "no_key": (
        "Er is geen API-sleutel ingesteld. Het verzoek is bewaard en gaat weg zodra er een sleutel is.",
        "No API key is set. The request is stored and goes out as soon as there is a key.",
    ),
    "key_rejected": (
        "De API-sleutel wordt geweigerd. Het verzoek is bewaard; het gaat weg zodra een beheerder een nieuwe "
        "sleutel instelt.",
        "The API key is refused. The request is stored; it goes out once an admin sets a new key.",
    ),
    "offline": (
        "Geen verbinding met de AI-dienst. Het verzoek is bewaard en wordt opnieuw geprobeerd.",
        "No connection to the AI service. The request is stored and will be retried.",
    ),
    "rate_limited": (
        "De AI-dienst vraagt even te wachten. Het verzoek gaat zo opnieuw weg.",
        "The AI service asks us to wait. The request will go out again shortly.",
    ),
    "server": (
        "De AI-dienst heeft een storing. Het verzoek wordt opnieuw geprobeerd.",
        "The AI service has a fault. The request will be retried.",
    ),
    "malformed": (
        "Het antwoord paste niet in het formulier; het voorstel wordt opnieuw gevraagd.",
        "The answer did not fit the form; the proposal is asked for again.",
    ),
    "restarted": ("Het verzoek wordt na een herstart opnieuw verstuurd.", "The request is sent again after a restart."),
    "writing": ("Het voorstel wordt geschreven…", "The proposal is being written…"),
    "ready": ("Het voorstel is klaar. Beoordeel het samen.", "The proposal is ready. Judge it together."),
    "revising": (
        "Het voorstel wordt herschreven met jullie opmerkingen…",
        "The proposal is being rewritten with your remarks…",
    ),
    "accepted": (
        "Het voorstel is aangenomen en staat in het portfolio.",
        "The proposal was accepted into the portfolio.",
    ),
    "rejected": ("Het voorstel is afgewezen. Vraag eventueel een nieuw voorstel.", "The proposal was rejected."),
    "failed": ("Het voorstel kon niet worden gemaakt.", "The proposal could not be made."),
}


def message(key: str, detail: str = "") -> dict[str, str]:
    """The Dutch and English sentence for ``key`` (with an optional detail appended)."""
    nl, en = MESSAGES[key]
    suffix = f" ({detail})" if detail else ""
    return {"nl": nl + suffix, "en": en + suffix}


def parse_partial(text: str) -> dict[str, Any]:
    """The fields of a partly received tool JSON, unfinished strings included (so text shows as it is written)."""
    try:
        parsed = jiter.from_json(text.encode("utf-8"), partial_mode="trailing-strings")
    except ValueError:
        return {}
    return partial_draft(parsed)


class DraftPublisher:
    """Puts the growing draft on the screen at most every ``interval`` seconds (the first update at once).

    It is given the tool's JSON text as received and parses it only when it publishes.
    """

    def __init__(self, room: Room, part: Part, base: dict[str, Any], interval: float) -> None:
        self.room = room
        self.part = part
        self.base = base
        self.interval = interval
        self._last = float("-inf")
        self._pending: str | None = None
        self._timer: asyncio.TimerHandle | None = None

    def update(self, tool_json: str) -> None:
        """More of the tool's JSON arrived (the whole text so far)."""
        self._pending = tool_json
        now = self.room.clock.monotonic()
        if now - self._last >= self.interval:
            self._flush()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.interval - (now - self._last), self._flush)

    def _flush(self) -> None:
        self._timer = None
        if self._pending is None:
            return
        self._last = self.room.clock.monotonic()
        self.part.set({**self.base, "draft": parse_partial(self._pending)})
        self._pending = None

    def close(self) -> None:
        """Stop; a pending update is dropped (the final state follows)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending = None
