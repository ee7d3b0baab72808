"""``roomctl demo --tour``: the room walks through the hour by itself, through the same API the tablet uses.

The tour taps the demo badges at the door, fills in the arrival, moves through every step of the videoframe
(showing its question and timer), asks for consent and records the brainstorm (captions appear), asks for the
proposal (it streams onto the projector), accepts it, wraps up, ends the session and reads the learning-time
report. It prints each stage; the pages stay open, so a newcomer watches the kiosk and the tablet follow.

About two minutes at ``speed`` 1: every pause is divided by ``speed``; what the room itself takes (Whisper
transcribing, the proposal being written) is waited for, up to :data:`EVENT_TIMEOUT_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import connect

from roomctl.errors import StateError

log = logging.getLogger(__name__)

EVENT_TIMEOUT_SECONDS = 120.0
"""Longest the tour waits for the room to do something (a caption, a transcript, a proposal)."""
HTTP_TIMEOUT_SECONDS = 15.0
STAGE_SECONDS: dict[str, float] = {
    "tap": 5.0,
    "arrival": 12.0,
    "step": 10.0,
    "consent": 4.0,
    "recording": 14.0,
    "preview": 5.0,
    "proposal": 8.0,
    "verdict": 6.0,
    "wrapup": 8.0,
    "report": 4.0,
}
"""Seconds each stage stays on screen at speed 1 (the hour in about two minutes)."""

WORK_SITUATION = "Klanten wachten te lang aan de telefoon bij het klantcontactcentrum"
PROBLEM = "We hebben het probleem dat klanten te lang wachten aan de telefoon, vooral in de drukke uren."
NOTES = {"q1": "Vooral op maandagochtend en na een storing", "q3": "Wachttijd onder de vijf minuten"}
CHOSEN = ("q1", "q3")

Stage = Callable[[str, dict[str, Any]], Awaitable[None]]
"""Called when a stage is on screen: ``(stage name, screen state)``; the default waits the stage's time."""



def caption_text(part: dict[str, Any]) -> str:
    """What the projector's captions show now: the final lines' last one, or the live words after them."""
    live = " ".join(w for w in (part.get("agreed"), part.get("tentative")) if w)
    lines = part.get("lines") or []
    return live or (lines[-1].get("text", "") if lines else "")

class TourRefusedError(StateError):
    """The tour cannot start now (a real session runs)."""


@dataclass
class TourTokens:
    """The tokens the tour needs: a reader (taps), a facilitator (the tablet's commands), an admin (the report)."""

    reader: str
    facilitator: str
    admin: str


@dataclass
class Tour:
    """One walk through the hour against a running room at ``url``.

    Args:
        url: The room's base URL.
        tokens: See :class:`TourTokens`.
        badges: ``(name, uid)`` of the members who tap, first one first.
        speed: Divides every pause.
        echo: Where the tour tells what happens.
        on_stage: Called at every stage (tests check the screens there); default: wait the stage's time.
    """

    url: str
    tokens: TourTokens
    badges: tuple[tuple[str, str], ...]
    speed: float = 1.0
    echo: Callable[[str], None] = print
    on_stage: Stage | None = None
    state: dict[str, Any] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    # -- the link to the room ---------------------------------------------------------------------------

    def _ws_url(self) -> str:
        parts = urlsplit(self.url.rstrip("/"))
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path + "/ws", f"token={quote(self.tokens.facilitator)}", ""))

    async def _follow(self) -> None:
        async with connect(self._ws_url(), open_timeout=HTTP_TIMEOUT_SECONDS) as ws:
            async for message in ws:
                snapshot = json.loads(message)
                if isinstance(snapshot, dict):
                    self.state = snapshot
                    self._changed.set()

    async def until(self, what: str, predicate: Callable[[dict[str, Any]], Any]) -> Any:
        """Wait until the screen state satisfies ``predicate`` (its value is returned).

        Raises:
            StateError: It did not happen within :data:`EVENT_TIMEOUT_SECONDS`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EVENT_TIMEOUT_SECONDS
        while True:
            value = predicate(self.state)
            if value:
                return value
            self._changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise StateError(f"the tour waited {EVENT_TIMEOUT_SECONDS:.0f} s for {what}; it did not happen")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._changed.wait()

    async def on_screen(self, view: dict[str, Any]) -> dict[str, Any]:
        """Wait until the screen state shows the step of ``view`` (a command's answer); returns ``view``."""
        await self.until("the step on screen", lambda s: (s.get("session") or {}).get("index") == view["index"])
        return view

    async def command(self, http: httpx.AsyncClient, name: str, **args: Any) -> dict[str, Any]:
        """Send a tablet command; a refusal stops the tour with the room's sentence."""
        response = await http.post("/api/v1/session/commands", json={"command": name, "args": args},
                                   headers=self._auth(self.tokens.facilitator))  # fmt: skip
        if response.status_code >= 400:
            raise StateError(f"the room refused {name}: {response.json().get('detail', response.text)}")
        answer: dict[str, Any] = response.json()
        return answer

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def stage(self, name: str, kind: str, text: str) -> None:
        """Tell what is on screen now and leave it there for the stage's time."""
        self.echo(f"[tour] {name}: {text}")
        if self.on_stage is not None:
            await self.on_stage(name, self.state)
        else:
            await asyncio.sleep(STAGE_SECONDS[kind] / self.speed)

    # -- the hour -----------------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        """Walk through the hour; returns the group's learning-time report.

        Raises:
            TourRefusedError: A session runs already.
            StateError: The room refused a step or did not react in time.
        """
        async with httpx.AsyncClient(base_url=self.url, timeout=HTTP_TIMEOUT_SECONDS) as http:
            current = (await http.get("/api/v1/session", headers=self._auth(self.tokens.facilitator))).json()
            if current.get("phase") not in (None, "idle", "ended"):
                raise TourRefusedError(
                    f"a session is running ({current.get('group')}, step {current.get('index', 0) + 1}: "
                    f"{current.get('step', {}).get('title', {}).get('nl', '?')}); the tour only starts in an empty "
                    "room: end the session on the tablet first"
                )
            follower = asyncio.create_task(self._follow(), name="tour-screen")
            try:
                await self.until("the screen state", lambda s: s.get("version"))
                return await self._hour(http)
            finally:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await follower

    async def _hour(self, http: httpx.AsyncClient) -> dict[str, Any]:
        first, uid = self.badges[0]
        tap = await http.post("/api/v1/door/taps", json={"uid": uid}, headers=self._auth(self.tokens.reader))
        decision = tap.json()
        if not decision.get("granted"):
            raise StateError(f"the door refused {first}'s badge: {decision.get('reason', decision)}")
        await self.until("the session to start", lambda s: (s.get("session") or {}).get("phase") == "arrival")
        await self.stage("tap", "tap", f"{first} taps the badge: the door opens, the booking is checked in, "
                         "the room switches on (scene arrival)")  # fmt: skip
        for name, other in self.badges[1:3]:
            await http.post("/api/v1/door/taps", json={"uid": other}, headers=self._auth(self.tokens.reader))
            self.echo(f"[tour]   {name} taps in too")
        await self.command(http, "situation", text=WORK_SITUATION)
        await self.command(http, "choose", questions=list(CHOSEN))
        for question, note in NOTES.items():
            await self.command(http, "note", question=question, text=note)
        await self.until("the arrival on screen", lambda s: (s.get("session") or {}).get("work_situation"))
        await self.stage("arrival", "arrival", f"arrival: who is here, today's work situation \"{WORK_SITUATION}\"")
        session = self.state["session"]
        for _ in range(1, session["count"] - 1):
            view = await self.on_screen(await self.command(http, "next"))
            await self._step(http, view, view["step"])
        view = await self.on_screen(await self.command(http, "next"))
        await self.stage("wrapup", "wrapup", f"step {view['index'] + 1}/{view['count']} {view['step']['title']['nl']}: "
                         "what do we take away?")  # fmt: skip
        group_id = await self._group_id(http)
        await self.command(http, "end")
        await self.until("the session to end", lambda s: not s.get("session"))
        report = await http.get(f"/api/v1/reports/learning-time/groups/{group_id}", headers=self._auth(self.tokens.admin))
        body: dict[str, Any] = report.json()
        await self.stage("report", "report", f"learning-time report: {body.get('session_minutes', 0)} min of session, "
                         f"{body.get('proposals_validated', 0)} validated proposal(s); see /report")  # fmt: skip
        self.echo("[tour] done: the room is idle again; the pages stay open")
        return body

    async def _group_id(self, http: httpx.AsyncClient) -> int:
        groups = (await http.get("/api/v1/groups", headers=self._auth(self.tokens.admin))).json()
        name = (self.state.get("session") or {}).get("group")
        return next(int(g["id"]) for g in groups if g["name"] == name)

    async def scene(self, name: str | None) -> str:
        """Wait until the room's devices confirmed scene ``name``; a few words on what they do now ('' without devices)."""
        devices = (self.state.get("devices") or {}).get("devices") or []
        if not name or not devices:
            return ""

        def confirmed(s: dict[str, Any]) -> bool:
            run = (s.get("devices") or {}).get("scene") or {}
            return run.get("name") == name and run.get("status") in ("complete", "incomplete")

        await self.until(f"the scene {name}", confirmed)
        states = []
        for device in (self.state.get("devices") or {}).get("devices", []):
            state = device.get("state") or {}
            if "brightness" in state and state.get("on"):
                states.append(f"{device['name']} {state['brightness']} %")
            elif "position" in state:
                states.append(f"{device['name']} {state['position']} %")
        return f" [scene {name}: {', '.join(states)}]"

    async def _step(self, http: httpx.AsyncClient, view: dict[str, Any], step: dict[str, Any]) -> None:
        title = step["title"]["nl"]
        questions = "; ".join(q.get("nl", "") for q in step.get("question_texts", []))
        minutes = round(view.get("remaining_seconds", 0) / 60)
        label = f"step {view['index'] + 1}/{view['count']} {title}"
        scene = await self.scene(step.get("scene"))
        questions += scene
        if step["kind"] == "problem":
            await self.command(http, "problem", text=PROBLEM)
        if step["kind"] == "brainstorm":
            await self.stage(label, "step", f"{questions} (timer {minutes} min)")
            await self._brainstorm(http)
        elif step["kind"] == "proposal":
            await self.stage(label, "step", f"the group asks the AI for an improvement proposal{scene}")
            await self._proposal(http)
        elif step["kind"] == "validation":
            await self.stage(label, "step", f"{questions} (timer {minutes} min)")
            await self._verdict(http)
        else:
            await self.stage(label, "step", f"{questions} (timer {minutes} min)")

    async def _brainstorm(self, http: httpx.AsyncClient) -> None:
        await self.command(http, "consent", agreed=True)
        await self.until("the consent question", lambda s: (s.get("recording") or {}).get("state") == "consent")
        await self.stage("consent", "consent", "the tablet asks everyone present for consent to record")
        await self.command(http, "record_start")
        await self.until("the recording", lambda s: (s.get("recording") or {}).get("state") in ("recording", "error"))
        if self.state["recording"]["state"] == "error":
            self.echo(f"[tour]   recording is not possible here: {self.state['recording'].get('message', {}).get('en')}")
            return
        try:
            await self.until("the first caption", lambda s: caption_text(s.get("captions") or {}))
            text = caption_text(self.state["captions"])
            await self.stage("recording", "recording", f"recording, live captions on the projector: \"{text.strip()}\"")
        finally:
            await self.command(http, "record_stop")
        await self.until("the transcript", lambda s: (s.get("recording") or {}).get("state") in ("idle", "error"))

    async def _proposal(self, http: httpx.AsyncClient) -> None:
        try:
            answer = await self.command(http, "ask_proposal")
            asked = (answer.get("result") or {}).get("request") or {}
            if asked.get("state") == "preview":
                await self.stage("preview", "preview", "the tablet shows exactly what will leave the room, names "
                                 "replaced by [persoon 1], [persoon 2]; the group sends it")  # fmt: skip
                sent = await http.post(f"/api/v1/proposal-previews/{asked['preview_id']}/send", json={"struck": []},
                                       headers=self._auth(self.tokens.facilitator))  # fmt: skip
                if sent.status_code >= 400:
                    raise StateError(f"the room refused to send the preview: {sent.json().get('detail', sent.text)}")
        except StateError as exc:
            self.echo(f"[tour]   no proposal: {exc.detail}")
            return
        writing = await self.until("the proposal", lambda s: (s.get("proposal") or {}).get("state") in
                                   ("writing", "ready", "waiting", "failed"))  # fmt: skip
        writer = (self.state.get("proposal_writer") or {}).get("label")
        who = writer["en"] if writer else "Claude"
        if writing == "writing":
            self.echo(f"[tour]   the proposal streams onto the projector ({who})")
        state = await self.until("the proposal to be ready", lambda s: (s.get("proposal") or {}).get("state")
                                 if (s.get("proposal") or {}).get("state") in ("ready", "failed") else None)  # fmt: skip
        if state == "failed":
            self.echo(f"[tour]   the proposal failed: {self.state['proposal'].get('message', {}).get('en')}")
            return
        title = self.state["proposal"].get("draft", {}).get("title", "")
        await self.stage("proposal", "proposal", f"proposal ready: \"{title}\" ({who})")

    async def _verdict(self, http: httpx.AsyncClient) -> None:
        if (self.state.get("proposal") or {}).get("state") != "ready":
            return
        await self.command(http, "verdict", verdict="accept")
        await self.until("the verdict", lambda s: (s.get("proposal") or {}).get("state") == "accepted")
        await self.stage("verdict", "verdict", "the group accepts the proposal: it joins the group's portfolio")
