"""Opening a session with continuity for a group with two years of history.

Builds a room on a manual clock and, through the real services, gives the demo group 104 weeks of four
sessions a week: each week's first session chooses the week's questions and work situations (the ``cycle``
command), every session ends with a validated proposal, and every other proposal gets a follow-up. Then times:

- ``SessionService.begin`` (the new session put in its week's cycle and opened with the week's choices),
- ``WeekService.opening`` (the last validated proposal, its follow-up, the week's cycle with its calendar,
  the count of proposals never followed up): what the continuity part holds,
- both together, as a session opens (begin, then the continuity the arrival screens show), and the group's
  cycle history (104 cycles with their changes) as the API answers it.

    .venv/bin/python bench/bench_cycle.py [--weeks 104] [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from roomctl.config import load_settings
from roomctl.core.clock import ManualClock
from roomctl.core.room import Room
from roomctl.demo import seed
from roomctl.proposal.service import ProposalService
from roomctl.runtime import build_room
from roomctl.session.commands import run_command
from roomctl.session.service import SessionService
from roomctl.session.weeks import WeekService

START = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Amsterdam
DAYS = (0, 1, 2, 3)
"""Four sessions a week, Monday to Thursday."""


def stats(samples: list[float]) -> str:
    """Median and 95th percentile in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms"


def validated(room: Room, session_id: int, group_id: int, n: int) -> int:
    """A proposal as the outbox stores a model's answer, then accepted through the proposal service."""
    content = {"title": f"Voorstel {n}", "situation_summary": "s", "problem": "p", "risks": [], "open_questions": [],
               "steps": [{"role": "team", "action": f"stap {n}", "effort": "1 uur", "expected_effect": "beter"}],
               "learning_needs": [f"behoefte {n % 7}"]}  # fmt: skip
    now = room.clock.now().isoformat()
    db = room.db
    with db.atomic():
        requests = db.table("proposal_requests")
        requests.insert({"idempotency_key": f"b-{session_id}", "session_id": session_id, "group_id": group_id,
                         "kind": "ask", "body_json": "{}", "state": "done", "model": "bench", "created_at": now})  # fmt: skip
        proposals = db.table("proposals")
        proposals.insert({"session_id": session_id, "group_id": group_id, "request_id": requests.last_pk, "version": 1,
                          "status": "draft", "content_json": json.dumps(content), "original_json": json.dumps(content),
                          "language": "nl", "created_at": now})  # fmt: skip
        proposal_id = int(proposals.last_pk)  # type: ignore[arg-type]
    room.service(ProposalService).verdict(proposal_id, "accept")
    return proposal_id


async def history(room: Room, clock: ManualClock, group_id: int, weeks: int) -> int:
    """Two years of weeks through the real services; returns the number of sessions."""
    service = room.service(SessionService)
    count = 0
    for week in range(weeks):
        for day in DAYS:
            clock.set(START + timedelta(weeks=week, days=day))
            session_id = await service.begin(group_id, None, clock.now())
            if day == 0:
                await run_command(room, "cycle", {"questions": [f"q{1 + week % 10}", "q3"],
                                                  "situations": [f"Situatie {week}", "Overdracht"]})  # fmt: skip
            if count % 2 == 1:
                await run_command(room, "followup", {"how": "well", "note": f"week {week}"})
            clock.advance(3600)
            await run_command(room, "end", {})
            validated(room, session_id, group_id, count)
            count += 1
    return count


async def bench(weeks: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(None, {"storage": {"data_dir": Path(tmp)}, "mqtt": {"enabled": False},
                                        "llm": {"enabled": False}})  # fmt: skip
        clock = ManualClock(START)
        room = build_room(settings, clock)
        seed(room)
        await room.start()
        try:
            group_id = int(room.db.execute("select id from groups order by id limit 1").fetchone()[0])
            built = time.perf_counter()
            sessions = await history(room, clock, group_id, weeks)
            print(f"history: {sessions} sessions, {weeks} cycles, {sessions} validated proposals "
                  f"(built in {time.perf_counter() - built:.1f} s)")  # fmt: skip
            service = room.service(SessionService)
            week_service = room.service(WeekService)
            begin_ms, opening_ms, total_ms, history_ms = [], [], [], []
            for run in range(runs):
                clock.set(START + timedelta(weeks=weeks, days=run % 4, hours=run // 4))
                first = time.perf_counter()
                session_id = await service.begin(group_id, None, clock.now())
                second = time.perf_counter()
                opening = week_service.opening(group_id, session_id)
                third = time.perf_counter()
                assert opening["last_proposal"] is not None and opening["cycle"]["week"]
                begin_ms.append((second - first) * 1000)
                opening_ms.append((third - second) * 1000)
                total_ms.append((third - first) * 1000)
                clock.advance(600)
                await run_command(room, "end", {})
                started = time.perf_counter()
                week_service.cycles.history(group_id)
                history_ms.append((time.perf_counter() - started) * 1000)
            print(f"begin (cycle attach, choices)        {stats(begin_ms)}")
            print(f"continuity (last proposal, cycle)    {stats(opening_ms)}")
            print(f"open a session with continuity       {stats(total_ms)}")
            print(f"cycle history ({weeks} weeks)           {stats(history_ms)}")
        finally:
            await room.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=104, help="weeks of history (four sessions each)")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(bench(args.weeks, args.runs))


if __name__ == "__main__":
    main()
