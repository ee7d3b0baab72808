"""The outbox: stored requests go out one at a time, with retries, and survive restarts.

A request row is written before anything is sent (:meth:`roomctl.proposal.service.ProposalService.send`, after
the group saw the de-identified text), and goes out through the room's :class:`~roomctl.proposal.llm.Provider`.
This worker takes due ``pending`` rows in order and moves each through the states::

    pending ──> sending ──> done      (answer valid: the proposal version is created in the same transaction)
       ^           │──────> failed    (too many 429/5xx, a malformed answer after its retries, a refused request)
       └───────────┘                  (429 / 5xx / network error / malformed answer with retries left / bad key)

Rules:
- 429: wait what ``retry-after`` says (else exponential backoff), then retry; counts toward ``max_attempts``.
- 5xx and network errors: exponential backoff up to ``max_backoff_seconds``. 5xx counts toward
  ``max_attempts``; a network error does not (without network the request waits until it can go out).
- No key: the request is not sent; it waits (``wait_reason = no_key``) and goes out once a key is set.
- Key refused (401/403): the request waits until the key changes (a tag of the refused key is stored, never
  the key), then goes out again.
- Malformed answer: asked again up to ``malformed_retries`` times, then failed with the reason.

"Never sent twice": one worker per room sends, one request at a time; an answer is recorded together with the
``done`` state in one transaction, so a request with a recorded answer is never sent again. A crash *while*
``sending`` (before an answer was recorded) leaves the row in ``sending``; at the next start such rows go back
to ``pending`` and are sent again, because the Messages API has no idempotency key and nothing of the earlier
answer reached the Pi. That is the one case of a second send, and it produces one proposal, never two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from roomctl.core.room import Room
from roomctl.proposal import cost, demo_writer, screen
from roomctl.proposal.content import MalformedProposalError, validate_proposal
from roomctl.proposal.llm import LlmCallError, MalformedAnswerError, Provider, key_fingerprint, make_provider
from roomctl.proposal.store import ProposalStore
from roomctl.store.db import crash_safe_write

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 1.0
"""First wait after a 5xx or network error; doubles with each attempt."""
KEY_POLL_SECONDS = 5.0
"""How often a request waiting for a key looks again (a new key is also noticed at once via wake())."""
IDLE_POLL_SECONDS = 30.0
"""Longest sleep of an idle worker."""

def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class Outbox:
    """The worker that sends stored proposal requests (see the module docstring)."""

    name = "proposal-outbox"

    def __init__(
        self,
        room: Room,
        store: ProposalStore,
        *,
        provider: Provider | None = None,
    ) -> None:
        self.room = room
        self.store = store
        self.settings = room.settings.llm
        self.part = room.screen.claim(screen.PART, owner="proposal")
        self.provider: Provider = provider or make_provider(self.settings)
        writer = room.screen.claim(demo_writer.SCREEN_PART, owner="proposal")
        demo = self.provider.name == demo_writer.PROVIDER
        writer.set({"provider": self.provider.name, "label": demo_writer.LABEL if demo else None})
        self.backoff_base = BACKOFF_BASE_SECONDS
        self.key_poll = KEY_POLL_SECONDS
        self.last_wait_reason: str | None = None
        self.looks = 0
        """How many times the worker has looked for a due request (it does at start and on every wake)."""
        self.last_error: str | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._offline_streak: dict[int, int] = {}
        self.on_done: Callable[[int, int], None] | None = None

    # -- lifecycle --------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Put requests a crash left in 'sending' back to pending, then start the worker."""
        cost.release_all(self.room.db)  # nothing is in flight at start
        resumed = self.store.reset_sending()
        if resumed:
            log.warning("resending %d proposal request(s) interrupted by a stop: %s", len(resumed), resumed)
        pending = self.store.count_in_state("pending")
        if pending:
            log.info("%d proposal request(s) pending at start", pending)
        self._task = self.room.spawn(self._run(), name="proposal-outbox")

    async def stop(self) -> None:
        """Stop the worker; a request being sent goes back to pending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.store.reset_sending()
        await self.provider.close()

    def wake(self) -> None:
        """Look at the outbox now (a request was added, a key was set)."""
        self._wake.set()

    # -- the loop ---------------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self.looks += 1
            now = self.room.clock.now()
            due: dict[str, Any] | None = None
            delay = IDLE_POLL_SECONDS
            for row in self.store.pending():
                at = _parse(row["next_attempt_at"])
                if at is None or at <= now:
                    due = row
                    break
                delay = min(delay, (at - now).total_seconds())
                break
            if due is None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(delay, 0.01)):
                        await self._wake.wait()
                continue
            try:
                await self._process(due)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("proposal request %s: unexpected failure; it stays pending", due["id"])
                self._defer(due["id"], "server", self.settings.max_backoff_seconds)

    def _defer(self, request_id: int, reason: str, seconds: float, error: str | None = None) -> None:
        at = self.room.clock.now() + timedelta(seconds=seconds)
        values: dict[str, Any] = {"state": "pending", "wait_reason": reason, "next_attempt_at": at.isoformat()}
        if error is not None:
            values["last_error"] = error
        self.store.update_request(request_id, **values)
        self.last_wait_reason = reason
        self._show(request_id, "waiting", reason, wait_reason=reason, retry_in=round(seconds, 1))

    def _show(self, request_id: int, state: str, key: str, detail: str = "", **extra: Any) -> None:
        row = self.store.raw_request(request_id)
        self.part.set(
            {
                "state": state,
                "session_id": row["session_id"],
                "request_id": request_id,
                "proposal_id": row["proposal_id"],
                "message": screen.message(key, detail),
                **extra,
            },
        )

    def warm(self) -> None:
        """Load the model SDK in the background now, before the group sends (a preview is on the tablet).

        The first call of a process imports the SDK: a few seconds of interpreter time on the SDK thread. Done
        while the group reads its preview, the send that follows streams at once. Nothing is sent.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # asked outside the room's loop (a script): the send loads it
            return
        key = self.provider.read_key() or ""
        if key or not self.provider.needs_key:
            self.room.spawn(self.provider.warm(key), name="model SDK warm-up")

    def _backoff(self, attempts: int) -> float:
        return float(min(self.settings.max_backoff_seconds, self.backoff_base * 2 ** max(attempts - 1, 0)))

    async def _process(self, row: dict[str, Any]) -> None:
        request_id = int(row["id"])
        key = self.provider.read_key() or ""
        if not key and self.provider.needs_key:
            self._defer(request_id, "no_key", self.key_poll)
            return
        tag = key_fingerprint(key)
        if row["rejected_key"] == tag:
            self._defer(request_id, "key_rejected", self.key_poll)
            return
        attempts = int(row["attempts"]) + 1
        now = self.room.clock.now()
        body = self.store.request(request_id)["body"]
        tz = self.room.settings.room.tz
        # The reservation and 'sending' are undone at every start (see start()): a commit that does not wait for
        # the disk is enough for them, and a tablet command arriving now does not wait for an fsync.
        with crash_safe_write(self.room.db):
            if not cost.reserve(self.room.db, self.settings, request_id, body, now, tz):  # issue 14: reserved when sent
                tomorrow = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(0), tz)
                self._defer(request_id, "budget", max((tomorrow - now).total_seconds(), 1.0))
                return
            self.store.update_request(request_id, state="sending", attempts=attempts, sent_at=now.isoformat())
        base = {"state": "writing", "session_id": row["session_id"], "request_id": request_id,
                "message": screen.message("writing")}
        self.part.set({**base, "draft": {}})
        publisher = screen.DraftPublisher(self.room, self.part, base, self.settings.screen_throttle_seconds)
        try:
            answer = await self.provider.write(key, body, publisher.update)
        except LlmCallError as exc:
            publisher.close()
            self._record(request_id, row["model"], exc.input_tokens, exc.output_tokens)
            self._failed_call(request_id, attempts, exc)
            return
        except MalformedProposalError as exc:
            publisher.close()
            if isinstance(exc, MalformedAnswerError):
                self._record(request_id, row["model"], exc.input_tokens, exc.output_tokens)
            self._malformed(request_id, int(row["malformed"]) + 1, str(exc))
            return
        except BaseException:
            publisher.close()
            raise
        finally:
            with crash_safe_write(self.room.db):
                cost.release(self.room.db, request_id)  # the call is over: only recorded usage counts now
        publisher.close()
        try:
            content = validate_proposal(answer.tool_input)
        except MalformedProposalError as exc:
            self._record(request_id, row["model"], answer.input_tokens, answer.output_tokens)
            self._malformed(request_id, int(row["malformed"]) + 1, str(exc))
            return
        self._offline_streak.pop(request_id, None)
        stopping = await _one_turn()
        try:
            with self.room.db.atomic():  # the call's usage and the proposal it wrote: one commit, one disk wait
                self._record(request_id, row["model"], answer.input_tokens, answer.output_tokens)
                proposal_id = self.store.complete(
                    request_id, content.model_dump(), now=self.room.clock.now(),
                    language=self.room.settings.room.language,
                )  # fmt: skip
            self.last_wait_reason = None
            self.last_error = None
            log.info("proposal request %d done: proposal %d", request_id, proposal_id)
            if self.on_done is not None:
                self.on_done(request_id, proposal_id)
        finally:
            if stopping:
                raise asyncio.CancelledError

    def _record(self, request_id: int, model: str, input_tokens: int, output_tokens: int) -> None:
        now = self.room.clock.now()
        self.store.record_usage(
            request_id,
            at=now,
            day=cost.local_day(now, self.room.settings.room.tz),
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=cost.cost_eur(self.settings, model, input_tokens, output_tokens),
        )

    def _fail(self, request_id: int, error: str) -> None:
        self.store.update_request(
            request_id,
            state="failed",
            wait_reason=None,
            last_error=error,
            completed_at=self.room.clock.now().isoformat(),
        )
        self.last_error = error
        log.warning("proposal request %d failed: %s", request_id, error)
        self._show(request_id, "failed", "failed", error)

    def _failed_call(self, request_id: int, attempts: int, exc: LlmCallError) -> None:
        log.info("proposal request %d: %s (attempt %d)", request_id, exc.detail, attempts)
        if exc.kind == "bad_request":
            self._fail(request_id, exc.detail)
        elif exc.kind == "auth":
            key = self.provider.read_key() or ""
            self.store.update_request(request_id, rejected_key=key_fingerprint(key),
                                      attempts=attempts - 1)
            self._defer(request_id, "key_rejected", self.key_poll, exc.detail)
        elif exc.kind == "network":
            streak = self._offline_streak.get(request_id, 0) + 1
            self._offline_streak[request_id] = streak
            self.store.update_request(request_id, attempts=attempts - 1)
            self._defer(request_id, "offline", self._backoff(streak), exc.detail)
        elif attempts >= self.settings.max_attempts:
            self._fail(request_id, f"{exc.detail}; gave up after {attempts} attempts")
        else:
            wait = exc.retry_after if exc.retry_after is not None else self._backoff(attempts)
            self._defer(request_id, exc.kind, min(wait, self.settings.max_backoff_seconds), exc.detail)

    def _malformed(self, request_id: int, count: int, error: str) -> None:
        log.info("proposal request %d: malformed answer %d: %s", request_id, count, error)
        self.store.update_request(request_id, malformed=count)
        if count > self.settings.malformed_retries:
            self._fail(request_id, f"{error} (asked {count} times)")
        else:
            self._defer(request_id, "malformed", 0.0, error)


async def _one_turn() -> bool:
    """Let the loop run what else is due (a tablet command) between validating an answer and storing it.

    Finishing a proposal is a few milliseconds of work on the room's loop (the validation, then the commit with
    its wait for the disk and the final draft on the screen); a command that arrived meanwhile goes between. A stop of
    the room that comes in this turn is held until the answer is stored: a paid answer is not thrown away.

    Returns:
        Whether the task was cancelled meanwhile (the caller raises :class:`asyncio.CancelledError` when done).
    """
    try:
        await asyncio.sleep(0)
    except asyncio.CancelledError:
        return True
    return False
