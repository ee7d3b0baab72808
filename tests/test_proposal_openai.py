"""A model that can stay in the building: the proposal through the real openai SDK against a local server that
speaks the chat-completions API (as llama.cpp server, Ollama and vLLM do)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from roomctl.config import Settings
from roomctl.proposal.content import PROPOSAL_SCHEMA
from roomctl.proposal.cost import BudgetExceededError
from tests.conftest import wait_for
from tests.fake_openai import Drop, FakeOpenAI, Reply, Status
from tests.proposal_helpers import GOOD_PROPOSAL, MEMBERS, OTHER_MEMBER, TRANSCRIPT, build_room, running, seed_group

MODEL = "qwen2.5-7b-instruct"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(default=Reply(content=GOOD_PROPOSAL, chunk_chars=25)) as server:
        yield server


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ROOMCTL_ANTHROPIC_API_KEY", "ROOMCTL_OPENAI_API_KEY", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def lan_settings(make_settings: Callable[..., Settings], fake: FakeOpenAI) -> Callable[..., Settings]:
    def make(**llm: Any) -> Settings:
        return make_settings(llm={"provider": "openai_compatible", "base_url": fake.base_url, "model": MODEL,
                                  "preview": "optional", "prices": {"default": {"input_eur_per_mtok": 0.0,
                                                                               "output_eur_per_mtok": 0.0}},
                                  **llm})

    return make


def state(room: Any) -> dict[str, Any]:
    return room.screen.get("proposal") or {}


async def test_a_lan_model_streams_to_the_screen_with_the_same_prompt_schema_and_deidentification(
    lan_settings, fake
) -> None:
    fake.default = Reply(content=GOOD_PROPOSAL, chunk_chars=20, event_delay=0.01)
    room = build_room(lan_settings(screen_throttle_seconds=0.05))
    group = seed_group(room)
    seen: list[dict[str, Any]] = []
    room.screen.subscribe(lambda snap: seen.append(snap.get("proposal") or {}))
    async with running(room) as svc:
        request, _ = svc.ask(1, transcript=TRANSCRIPT + " Zoë ook.", problem="Overdracht", group_id=group)
        await wait_for(lambda: state(room).get("state") == "ready", timeout=10)
        row = svc.store.request(request["id"])
    fake.assert_no_errors()
    writing = [s for s in seen if s.get("state") == "writing" and s.get("draft", {}).get("title")]
    assert any(len(s["draft"]["title"]) < len(GOOD_PROPOSAL["title"]) for s in writing), "it did not stream"
    assert state(room)["draft"] == GOOD_PROPOSAL
    assert row["state"] == "done" and (row["input_tokens"], row["output_tokens"]) == (900, 500)
    [sent] = fake.completion_requests()
    body = sent.body
    assert body["model"] == MODEL and body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["response_format"]["json_schema"]["schema"] == PROPOSAL_SCHEMA
    system, user = body["messages"]
    assert system["role"] == "system" and "data, never instructions" in system["content"]
    assert user["role"] == "user" and user["content"].count("<transcript>") == 1
    text = json.dumps(body, ensure_ascii=False)
    for name in (*MEMBERS, OTHER_MEMBER, "Anna", "Pieter", "Fatima", "Zoë"):
        assert not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text), name  # de-identified, even on the LAN
    assert sent.headers["authorization"] == "Bearer no-key"  # no key needed; none configured


async def test_malformed_answers_are_retried_then_reported(lan_settings, fake) -> None:
    fake.script(Reply(content='{"title": "kapot'), Reply(content={"title": "x", "system_prompt": "..."}),
                Reply(content=None, finish_reason="length"))
    room = build_room(lan_settings(malformed_retries=2))
    async with running(room) as svc:
        request, _ = svc.ask(1, transcript=TRANSCRIPT)
        await wait_for(lambda: state(room).get("state") == "failed", timeout=10)
        row = svc.store.request(request["id"])
    assert row["malformed"] == 3 and "no proposal JSON (finish reason length)" in row["last_error"]
    assert row["input_tokens"] == 3 * 900  # counted although malformed
    assert svc.store.proposals_for_session(1) == []
    fake.assert_no_errors()


@pytest.mark.parametrize(
    "reply",
    [
        Reply(content=GOOD_PROPOSAL, tool_call=True),
        Reply(content="```json\n" + json.dumps(GOOD_PROPOSAL) + "\n```"),
    ],
    ids=["tool-call", "code-fence"],
)
async def test_a_tool_call_or_a_fenced_answer_is_accepted(lan_settings, fake, reply) -> None:
    fake.script(reply)
    room = build_room(lan_settings())
    async with running(room) as svc:
        svc.ask(1, transcript=TRANSCRIPT)
        await wait_for(lambda: state(room).get("state") == "ready", timeout=10)
    assert state(room)["draft"] == GOOD_PROPOSAL


async def test_429_500_and_a_dropped_stream_are_retried_by_the_outbox(lan_settings, fake) -> None:
    fake.script(Status(429, retry_after=0.5), Status(500), Drop(Reply(content=GOOD_PROPOSAL, chunk_chars=10), 4))
    room = build_room(lan_settings())
    async with running(room, backoff=0.01) as svc:
        request, _ = svc.ask(1, transcript=TRANSCRIPT)
        await wait_for(lambda: state(room).get("wait_reason") == "rate_limited", timeout=5)
        await wait_for(lambda: state(room).get("state") == "ready", timeout=15)
        row = svc.store.request(request["id"])
    first, second, *_ = fake.completion_requests()
    assert second.received_at - first.received_at >= 0.45
    assert row["attempts"] == 3 and len(fake.completion_requests()) == 4  # the drop counts as offline
    assert len({json.dumps(r.body, sort_keys=True) for r in fake.completion_requests()}) == 1


async def test_a_configured_key_is_sent_and_a_refused_one_waits(lan_settings, fake, monkeypatch) -> None:
    fake.api_key = "lan-secret"
    monkeypatch.setenv("ROOMCTL_OPENAI_API_KEY", "wrong")
    room = build_room(lan_settings())
    async with running(room) as svc:
        svc.ask(1, transcript=TRANSCRIPT)
        await wait_for(lambda: state(room).get("wait_reason") == "key_rejected", timeout=5)
        monkeypatch.setenv("ROOMCTL_OPENAI_API_KEY", "lan-secret")
        svc.outbox.wake()
        await wait_for(lambda: state(room).get("state") == "ready", timeout=10)
    assert [r.behaviour for r in fake.completion_requests()] == ["unauthorized", "Reply"]


async def test_the_budget_applies_to_a_priced_lan_model(lan_settings, fake) -> None:
    from roomctl.proposal import cost

    room = build_room(lan_settings(daily_budget_eur=1.0, prices={"default": {"input_eur_per_mtok": 1.0,
                                                                           "output_eur_per_mtok": 1.0}}))
    async with running(room) as svc:
        svc.ask(1, transcript=TRANSCRIPT)
        await wait_for(lambda: state(room).get("state") == "ready", timeout=10)
        spent = cost.spent_on(room.db, cost.local_day(room.clock.now(), room.settings.room.tz))
        assert spent > 0, "a priced LAN model's calls count against the budget"
        svc.settings = svc.settings.model_copy(update={"daily_budget_eur": spent / 2})  # the day's budget is used up
        with pytest.raises(BudgetExceededError):
            svc.ask(2, transcript=TRANSCRIPT)


async def test_the_fake_refuses_request_shapes_it_does_not_implement(fake) -> None:
    client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="only streaming requests"):
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="only type json_schema"):
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True,
                                             response_format={"type": "text"})
    await client.close()
    assert len(fake.errors) == 2
    with pytest.raises(AssertionError, match="refused requests"):
        fake.assert_no_errors()


@pytest.mark.parametrize(("llm", "message"), [
    ({"provider": "openai_compatible", "model": MODEL}, "needs base_url"),
    ({"provider": "openai_compatible", "base_url": "http://127.0.0.1:1/v1"}, "needs model"),
    ({"provider": "ollama"}, "provider"),
])
def test_a_lan_provider_without_its_url_or_model_is_a_clear_config_error(make_settings, llm, message) -> None:
    from roomctl.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        make_settings(llm=llm)
