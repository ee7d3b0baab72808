"""The model SDK thread: a provider's calls run off the room's loop; drafts, answers, errors and cancels cross back."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from roomctl.config import LlmSettings
from roomctl.proposal.llm import LlmAnswer, LlmCallError, make_provider
from roomctl.proposal.llm_thread import GIL_SWITCH_SECONDS, SDK_THREAD_NICENESS, THREAD_NAME, ThreadedProvider

BODY = {"model": "m", "messages": []}


class RecordingProvider:
    """A provider that records where it runs and streams ``drafts`` (a test double of the Provider protocol)."""

    name = "recording"
    needs_key = False

    def __init__(self, drafts: list[str], *, fail: bool = False, hold: asyncio.Event | None = None) -> None:
        self.drafts = drafts
        self.fail = fail
        self.hold = hold
        self.threads: list[str] = []
        self.niceness: list[int] = []
        self.cancelled = threading.Event()
        self.closed_on: str | None = None
        self.offered = threading.Event()

    def read_key(self) -> str | None:
        return None

    async def write(self, key: str, body: dict[str, Any], on_draft: Callable[[str], None]) -> LlmAnswer:
        self.threads.append(threading.current_thread().name)
        self.niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        for text in self.drafts:
            on_draft(text)
        self.offered.set()
        if self.fail:
            raise LlmCallError("server", "the API had a server error (HTTP 529)", input_tokens=3)
        if self.hold is not None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        return LlmAnswer(tool_input={"title": self.drafts[-1]}, input_tokens=3, output_tokens=5, model="m",
                         stop_reason="tool_use")  # fmt: skip

    async def warm(self, key: str) -> None:
        self.threads.append(threading.current_thread().name)

    async def close(self) -> None:
        self.closed_on = threading.current_thread().name


async def test_a_call_runs_on_the_sdk_thread_and_its_drafts_reach_the_loop_coalesced() -> None:
    inner = RecordingProvider(["{", '{"ti', '{"title": "x"}'])
    provider = ThreadedProvider(inner)
    seen: list[tuple[str, str]] = []
    call = asyncio.create_task(provider.write("", BODY, lambda text: seen.append((threading.current_thread().name, text))))
    await asyncio.sleep(0)
    assert inner.offered.wait(5), "the call did not run while the room's loop was busy"  # holds the loop meanwhile
    answer = await call
    assert inner.threads == [THREAD_NAME]
    assert answer.tool_input == {"title": '{"title": "x"}'} and answer.output_tokens == 5
    assert seen, "no draft reached the caller"
    assert {name for name, _ in seen} == {threading.current_thread().name}
    assert seen[-1][1] == '{"title": "x"}'
    assert [text for _, text in seen] == ['{"title": "x"}'], "drafts sent while the loop was busy reach it once"
    await provider.close()
    assert inner.closed_on == THREAD_NAME
    assert THREAD_NAME not in {t.name for t in threading.enumerate()}


async def test_an_error_on_the_thread_is_raised_to_the_caller_after_its_drafts() -> None:
    provider = ThreadedProvider(RecordingProvider(["{"], fail=True))
    seen: list[str] = []
    with pytest.raises(LlmCallError) as raised:
        await provider.write("", BODY, seen.append)
    assert raised.value.kind == "server" and raised.value.input_tokens == 3
    assert seen == ["{"], "the draft sent before the error arrives before it"
    await asyncio.sleep(0.05)
    assert seen == ["{"], "a draft arrived after the call was over"
    await provider.close()


async def test_the_sdk_thread_runs_below_the_rooms_loop() -> None:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's default
    try:
        inner = RecordingProvider(["{"])
        provider = ThreadedProvider(inner)
        await provider.write("", BODY, lambda _text: None)
        loop_niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        assert inner.niceness == [min(loop_niceness + SDK_THREAD_NICENESS, 19)]
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_SECONDS)
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_niceness, "the loop kept its own"
        await provider.close()
    finally:
        sys.setswitchinterval(previous)


async def test_cancelling_the_caller_cancels_the_call_on_the_thread() -> None:
    inner = RecordingProvider(["{"], hold=asyncio.Event())
    provider = ThreadedProvider(inner)
    task = asyncio.create_task(provider.write("", BODY, lambda _text: None))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(inner.cancelled.wait, 5), "the SDK call kept running"
    await provider.close()


async def test_every_configured_provider_runs_on_the_sdk_thread() -> None:
    for name in ("anthropic", "openai_compatible", "demo"):
        provider = make_provider(LlmSettings(provider=name, model="m", base_url="http://127.0.0.1:9"))
        assert isinstance(provider, ThreadedProvider) and provider.name == name
        await provider.close()


async def test_warming_up_runs_on_the_sdk_thread() -> None:
    inner = RecordingProvider(["{"])
    provider = ThreadedProvider(inner)
    await provider.warm("")
    assert inner.threads == [THREAD_NAME]
    await provider.close()
