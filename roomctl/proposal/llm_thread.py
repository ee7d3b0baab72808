"""The thread the model SDKs run on, so that writing a proposal never holds the room's loop.

An SDK call is CPU work in Python between its network waits: building and encoding the request (the prompt,
the transcript and the tool's schema pass through the SDK's type transforms), then parsing every streamed
event into typed objects and, at the end, the whole message. On the room's loop each of those steps delayed
whatever was due then: a tablet command arriving just as a request went out waited several milliseconds
for it. Here the provider's calls run on a loop of their own in a thread (``llm-sdk``), and the room's loop
only receives the growing draft, coalesced to its latest text, and the answer.

The thread runs below the room: at a niceness :data:`SDK_THREAD_NICENESS` higher than the loop's (on Linux
niceness is a thread's own), so a loop woken by a tap or a tablet command gets the core first, and with the
interpreter's switch interval at :data:`GIL_SWITCH_SECONDS`, so the loop waits at most that long for the lock
the thread holds while it parses. With both, ``bench_ws.py --busy`` measured a p99 of 10.6-15.1 ms where it
measured 10.7-17.9 ms without (round 12).

The wrapped provider keeps its contract: :meth:`ThreadedProvider.write` raises what the provider raises, and a
cancelled ``write`` cancels the call on the thread. Nothing on the thread touches the room's database or
screen state: a provider gets the request body and hands back text.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from roomctl.proposal.llm import LlmAnswer, Provider

log = logging.getLogger(__name__)

THREAD_NAME = "llm-sdk"
"""The name of the thread the SDK calls run on (shown by ``py-spy`` and in thread dumps)."""
CLOSE_TIMEOUT_SECONDS = 5.0
"""How long :meth:`ThreadedProvider.close` waits for the SDK clients to close on their thread."""
SDK_THREAD_NICENESS = 10
"""How much lower the SDK thread's CPU priority is than its starter's (at most the lowest, 19): when the room's
loop wakes while the SDK parses a streamed event, the scheduler runs the loop. Threads the SDK thread starts
(its loop's name lookups) inherit it."""
GIL_SWITCH_SECONDS = 0.0005
"""The interpreter's switch interval once the SDK thread runs (Python's default is 5 ms). A thread that wants
the interpreter lock waits until its holder blocks or this long has passed; the room's loop gives the lock up
at every socket write and database call, so without this it could wait up to 5 ms for the SDK thread's turn."""


class ThreadedProvider:
    """A :class:`~roomctl.proposal.llm.Provider` whose calls run on a thread and event loop of their own.

    The thread starts with the first call and ends with :meth:`close`.

    Args:
        provider: The provider to run there.
    """

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.name = provider.name
        self.needs_key = provider.needs_key
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def read_key(self) -> str | None:
        """The provider's key (read on the caller's thread: a file or an environment variable)."""
        return self.provider.read_key()

    async def write(self, key: str, body: dict[str, Any], on_draft: Callable[[str], None]) -> LlmAnswer:
        """Run the provider's ``write`` on the SDK thread; ``on_draft`` is called on the caller's loop.

        Drafts that arrive faster than the caller's loop takes them are coalesced: the loop gets the latest text
        once. None arrives after this returns or is cancelled.

        Raises:
            LlmCallError: The call failed (sorted by kind).
            MalformedAnswerError: The answer holds no usable proposal JSON.
        """
        caller = asyncio.get_running_loop()
        draft = _LatestDraft(caller, on_draft)
        future = asyncio.run_coroutine_threadsafe(self.provider.write(key, body, draft.offer), self._started())
        try:
            return await asyncio.wrap_future(future)
        finally:
            draft.close()

    async def warm(self, key: str) -> None:
        """Run the provider's ``warm`` on the SDK thread (its imports hold the interpreter there, not here)."""
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.provider.warm(key), self._started()))

    async def close(self) -> None:
        """Close the provider's clients on their thread, then end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            await self.provider.close()
            return
        self._loop = self._thread = None
        closing = asyncio.run_coroutine_threadsafe(self.provider.close(), loop)
        try:
            await _bounded(closing)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join, CLOSE_TIMEOUT_SECONDS)
            if not thread.is_alive():
                loop.close()

    def _started(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            if sys.getswitchinterval() > GIL_SWITCH_SECONDS:
                sys.setswitchinterval(GIL_SWITCH_SECONDS)
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_run_below, args=(loop,), name=THREAD_NAME, daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
            log.debug("model SDK thread started")
        return self._loop


def _run_below(loop: asyncio.AbstractEventLoop) -> None:
    """The SDK thread: lower its CPU priority by :data:`SDK_THREAD_NICENESS`, then run ``loop``."""
    with contextlib.suppress(OSError, AttributeError):  # per thread on Linux; elsewhere it may not be
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, min(os.getpriority(os.PRIO_PROCESS, me) + SDK_THREAD_NICENESS, 19))
    loop.run_forever()


async def _bounded(closing: concurrent.futures.Future[None]) -> None:
    """Wait for ``closing`` (on the SDK thread) at most :data:`CLOSE_TIMEOUT_SECONDS`."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
            await asyncio.wrap_future(closing)
    except TimeoutError:
        log.warning("the model SDK clients did not close within %.0f s", CLOSE_TIMEOUT_SECONDS)


class _LatestDraft:
    """Hands the SDK thread's drafts to the caller's loop, one hop for however many arrive meanwhile."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_draft: Callable[[str], None]) -> None:
        self._loop = loop
        self._on_draft = on_draft
        self._lock = threading.Lock()
        self._text: str | None = None
        self._closed = False

    def offer(self, text: str) -> None:
        """Called on the SDK thread with the draft so far."""
        with self._lock:
            if self._closed:
                return
            pending, self._text = self._text is not None, text
        if not pending:
            self._loop.call_soon_threadsafe(self._deliver)

    def close(self) -> None:
        """Called on the caller's loop: later drafts are dropped."""
        with self._lock:
            self._closed = True
            self._text = None

    def _deliver(self) -> None:
        with self._lock:
            text, self._text = self._text, None
        if text is not None:
            self._on_draft(text)
