"""Time from "ask for a proposal" to first text on the screen state and to the complete proposal.

Runs against the local fake Messages API with a fixed delay (the model "thinking") and a paced stream, through
the real anthropic SDK, and compares with a bare SDK call of the same request: the difference is roomctl's
overhead (storing the request, the outbox, redaction, throttled screen updates, validation, storing the draft).

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

from roomctl.config import load_settings
from tests.fake_anthropic import FakeAnthropic, Reply
from tests.proposal_helpers import GOOD_PROPOSAL, TRANSCRIPT, build_room, running, seed_group

KEY = "sk-bench"


async def bare_sdk(fake: FakeAnthropic, body: dict[str, Any]) -> tuple[float, float]:
    """First input_json event and complete message, seconds, for one bare SDK call."""
    client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key=KEY, max_retries=0)
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


async def roomctl_runs(fake: FakeAnthropic, runs: int, data_dir: Path) -> tuple[list[float], list[float], dict]:
    """First draft text on the screen and the ready state, seconds, for ``runs`` asks."""
    settings = load_settings(None, {"storage": {"data_dir": data_dir}, "mqtt": {"enabled": False},
                                    "llm": {"base_url": fake.base_url, "daily_budget_eur": 1000}})
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
            svc.ask(run + 1, transcript=TRANSCRIPT, problem="Overdracht", group_id=group)
            while "ready" not in marks:
                await asyncio.sleep(0.001)
            unsubscribe()
            firsts.append(marks["first"])
            totals.append(marks["ready"])
        body = dict(fake.message_requests()[-1].body)
    body.pop("stream", None)
    return firsts, totals, body


def fmt(values: list[float]) -> str:
    low, high = min(values) * 1000, max(values) * 1000
    return f"median {statistics.median(values) * 1000:7.1f} ms  (min {low:.1f}, max {high:.1f})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.3, help="fake model delay before the first byte, s")
    parser.add_argument("--event-delay", type=float, default=0.01, help="delay between SSE events, s")
    args = parser.parse_args()
    os.environ["ROOMCTL_ANTHROPIC_API_KEY"] = KEY
    reply = Reply(tool_input=GOOD_PROPOSAL, delay=args.delay, event_delay=args.event_delay, chunk_chars=40)
    with FakeAnthropic(default=reply) as fake, tempfile.TemporaryDirectory() as tmp:
        firsts, totals, body = await roomctl_runs(fake, args.runs, Path(tmp))
        bare = [await bare_sdk(fake, body) for _ in range(args.runs)]
    print(f"fake server: {args.delay * 1000:.0f} ms delay, {args.event_delay * 1000:.0f} ms between events, "
          f"{args.runs} runs, tool JSON {len(json.dumps(GOOD_PROPOSAL, ensure_ascii=False))} chars in 40-char deltas")
    print(f"roomctl  ask -> first text on screen state : {fmt(firsts)}")
    print(f"roomctl  ask -> complete proposal (ready)  : {fmt(totals)}")
    print(f"bare SDK call -> first tool JSON delta     : {fmt([b[0] for b in bare])}")
    print(f"bare SDK call -> complete message          : {fmt([b[1] for b in bare])}")
    first_overhead = statistics.median(firsts) - statistics.median([b[0] for b in bare])
    total_overhead = statistics.median(totals) - statistics.median([b[1] for b in bare])
    print(f"roomctl overhead, first text               : {first_overhead * 1000:7.1f} ms")
    print(f"roomctl overhead, complete                 : {total_overhead * 1000:7.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
