"""Time from "ask for a proposal" to first text on the screen state and to the complete proposal, per provider.

Runs against local fake servers with a fixed delay (the model "thinking") and a paced stream: the Messages API
(tests/fake_anthropic.py, through the real anthropic SDK) and an OpenAI-compatible chat-completions server such
as llama.cpp or Ollama on the LAN (tests/fake_openai.py, through the real openai SDK). Each is compared with a
bare SDK call of the same request: the difference is roomctl's overhead (de-identification, storing the preview
and the request, the outbox, throttled screen updates, validation, storing the draft). The group's preview is
set to optional here: the time a group takes to read it is not roomctl's.

    .venv/bin/python bench/bench_proposal.py [--runs 5] [--delay 0.3] [--event-delay 0.01]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anthropic
import openai

from roomctl.config import load_settings
from roomctl.proposal.llm import chat_request
from tests import fake_anthropic, fake_openai
from tests.proposal_helpers import GOOD_PROPOSAL, TRANSCRIPT, build_room, running, seed_group

KEY = "sk-bench"


async def bare_anthropic(base_url: str, body: dict[str, Any]) -> tuple[float, float]:
    """First input_json event and complete message, seconds, for one bare anthropic SDK call."""
    client = anthropic.AsyncAnthropic(base_url=base_url, api_key=KEY, max_retries=0)
    start = time.perf_counter()
    first = 0.0
    async with client.messages.stream(**body) as stream:
        async for event in stream:
            if event.type == "input_json" and not first:
                first = time.perf_counter() - start
        await stream.get_final_message()
    total = time.perf_counter() - start
    await client.close()
    return first, total


async def bare_openai(base_url: str, body: dict[str, Any]) -> tuple[float, float]:
    """First content delta and the end of the stream, seconds, for one bare openai SDK call."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0)
    start = time.perf_counter()
    first = 0.0
    stream = await client.chat.completions.create(**chat_request(body))
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and not first:
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    await client.close()
    return first, total


async def roomctl_runs(llm: dict[str, Any], runs: int, data_dir: Path) -> tuple[list[float], list[float], dict]:
    """First draft text on the screen and the ready state, seconds, for ``runs`` asks."""
    settings = load_settings(None, {"storage": {"data_dir": data_dir}, "mqtt": {"enabled": False},
                                    "llm": {"daily_budget_eur": 1000, "preview": "optional", **llm}})
    room = build_room(settings)
    group = seed_group(room)
    firsts: list[float] = []
    totals: list[float] = []
    body: dict[str, Any] = {}
    async with running(room) as svc:
        for run in range(runs):
            marks: dict[str, float] = {}
            start = time.perf_counter()

            def listen(snapshot: dict[str, Any], marks: dict[str, float] = marks, start: float = start) -> None:
                part = snapshot.get("proposal") or {}
                if part.get("state") == "writing" and part.get("draft") and "first" not in marks:
                    marks["first"] = time.perf_counter() - start
                if part.get("state") == "ready" and "ready" not in marks:
                    marks["ready"] = time.perf_counter() - start

            unsubscribe = room.screen.subscribe(listen)
            request, _ = svc.ask(run + 1, transcript=TRANSCRIPT, problem="Overdracht", group_id=group)
            while "ready" not in marks:
                await asyncio.sleep(0.001)
            unsubscribe()
            firsts.append(marks["first"])
            totals.append(marks["ready"])
            body = dict(svc.store.request(request["id"])["body"])
    return firsts, totals, body


def fmt(values: list[float]) -> str:
    low, high = min(values) * 1000, max(values) * 1000
    return f"median {statistics.median(values) * 1000:7.1f} ms  (min {low:.1f}, max {high:.1f})"


def report(name: str, firsts: list[float], totals: list[float], bare: list[tuple[float, float]]) -> None:
    print(f"{name}:")
    print(f"  roomctl  ask -> first text on screen state : {fmt(firsts)}")
    print(f"  roomctl  ask -> complete proposal (ready)  : {fmt(totals)}")
    print(f"  bare SDK call -> first proposal JSON       : {fmt([b[0] for b in bare])}")
    print(f"  bare SDK call -> complete answer           : {fmt([b[1] for b in bare])}")
    first_overhead = statistics.median(firsts) - statistics.median([b[0] for b in bare])
    total_overhead = statistics.median(totals) - statistics.median([b[1] for b in bare])
    print(f"  roomctl overhead, first text / complete    : {first_overhead * 1000:7.1f} ms / "
          f"{total_overhead * 1000:.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.3, help="fake model delay before the first byte, s")
    parser.add_argument("--event-delay", type=float, default=0.01, help="delay between streamed events, s")
    args = parser.parse_args()
    os.environ["ROOMCTL_ANTHROPIC_API_KEY"] = KEY
    os.environ["ROOMCTL_OPENAI_API_KEY"] = KEY
    print(f"fake servers: {args.delay * 1000:.0f} ms delay, {args.event_delay * 1000:.0f} ms between events, "
          f"{args.runs} runs, proposal JSON {len(json.dumps(GOOD_PROPOSAL, ensure_ascii=False))} chars "
          "in 40-char pieces")
    reply = fake_anthropic.Reply(tool_input=GOOD_PROPOSAL, delay=args.delay, event_delay=args.event_delay,
                                 chunk_chars=40)
    with fake_anthropic.FakeAnthropic(default=reply) as fake, tempfile.TemporaryDirectory() as tmp:
        firsts, totals, body = await roomctl_runs({"base_url": fake.base_url}, args.runs, Path(tmp))
        bare = [await bare_anthropic(fake.base_url, body) for _ in range(args.runs)]
    report("anthropic (Messages API, tool call)", firsts, totals, bare)
    lan = fake_openai.Reply(content=GOOD_PROPOSAL, delay=args.delay, event_delay=args.event_delay, chunk_chars=40)
    with fake_openai.FakeOpenAI(default=lan) as fake_lan, tempfile.TemporaryDirectory() as tmp:
        llm = {"provider": "openai_compatible", "base_url": fake_lan.base_url, "model": "qwen2.5-7b-instruct"}
        firsts, totals, body = await roomctl_runs(llm, args.runs, Path(tmp))
        bare = [await bare_openai(fake_lan.base_url, body) for _ in range(args.runs)]
    report("openai_compatible (chat completions, JSON schema)", firsts, totals, bare)


if __name__ == "__main__":
    asyncio.run(main())
