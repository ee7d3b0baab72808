"""The daily LLM budget is reserved when a request is sent: parallel requests never spend more than it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from roomctl.config import Settings
from roomctl.proposal import cost
from roomctl.store import open_database
from tests.conftest import wait_for
from tests.fake_anthropic import FakeAnthropic, Reply
from tests.proposal_helpers import GOOD_PROPOSAL, TRANSCRIPT, build_room, running

KEY = "sk-test-roomctl-0123456789"
BODY = {"model": "claude-sonnet-4-6", "max_tokens": 1000, "messages": [{"role": "user", "content": "x" * 2000}]}


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(valid_keys={KEY}, default=Reply(tool_input=GOOD_PROPOSAL, chunk_chars=200)) as server:
        yield server


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("ROOMCTL_ANTHROPIC_API_KEY", KEY)


def test_reservations_in_parallel_never_pass_the_budget(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    room = build_room(settings)
    llm = settings.llm.model_copy(update={"daily_budget_eur": 0.0})
    one = cost.worst_case_eur(llm, BODY)
    llm = llm.model_copy(update={"daily_budget_eur": one * 3.5})  # room for three calls in flight
    now = datetime(2027, 3, 1, 10, tzinfo=UTC)
    results: dict[int, bool] = {}
    lock = threading.Lock()
    start = threading.Barrier(20)

    def reserve(request_id: int) -> None:  # each its own connection, as separate workers or processes would
        db = open_database(settings.storage.database_path)
        start.wait()
        got = cost.reserve(db, llm, request_id, BODY, now, settings.room.tz)
        with lock:
            results[request_id] = got
        db.conn.close()

    threads = [threading.Thread(target=reserve, args=(i,)) for i in range(1, 21)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [request_id for request_id, got in results.items() if got]
    assert len(winners) == 3 and len(results) == 20, results
    reserved = room.db.execute("select sum(amount_eur) from proposal_reservations").fetchone()[0]
    assert reserved <= llm.daily_budget_eur
    assert not cost.reserve(room.db, llm, 98, BODY, now, settings.room.tz), "the budget is fully reserved"
    cost.release(room.db, winners[0])
    assert cost.reserve(room.db, llm, 99, BODY, now, settings.room.tz), "a released reservation frees its share"


async def test_requests_queued_together_stop_at_the_budget(make_settings: Callable[..., Settings],
                                                          fake: FakeAnthropic) -> None:  # fmt: skip
    settings = make_settings(llm={"base_url": fake.base_url, "model": "claude-sonnet-4-6", "max_tokens": 600,
                                  "daily_budget_eur": 0.06, "preview": "optional"})  # fmt: skip
    room = build_room(settings)
    async with running(room) as svc:
        for session_id in range(1, 7):  # all queued while nothing is spent: the ask-time check lets them in
            svc.ask(session_id, transcript=TRANSCRIPT)

        def settled() -> Any:
            rows = [r for s in range(1, 7) for r in svc.store.requests_for_session(s)]
            return rows if all(r["state"] == "done" or r["wait_reason"] == "budget" for r in rows) else None

        rows = await wait_for(settled, timeout=30)
    spent = cost.spent_on(room.db, cost.local_day(room.clock.now(), settings.room.tz))
    assert 0 < spent <= 0.06, spent
    waiting = [r for r in rows if r["wait_reason"] == "budget"]
    assert waiting and len(fake.message_requests()) == 6 - len(waiting), "requests that do not fit are not sent"
    assert room.db.execute("select count(*) from proposal_reservations").fetchone()[0] == 0
