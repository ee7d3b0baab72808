"""The group sees what leaves: the preview, striking passages, sending, what was sent, and its expiry."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roomctl.api.app import create_app
from roomctl.api.tokens import create_token
from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.proposal.llm_thread import ThreadedProvider
from roomctl.proposal.service import ProposalService
from tests.conftest import wait_for
from tests.fake_anthropic import FakeAnthropic, Reply
from tests.proposal_helpers import (
    GOOD_PROPOSAL,
    MEMBERS,
    OTHER_MEMBER,
    build_room,
    running,
    seed_group,
    seed_sessions,
    sent_text,
)

KEY = "sk-test-preview"
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TRANSCRIPT = (
    "Anna zegt dat de overdracht rommelig is. Zoë Janssen van het andere team doet het al anders. "
    "Meneer Kramer op kamer twaalf belt steeds om 06-12345678. Dit moet niet naar buiten: het gaat over Pieter zijn "
    "ziekte. Fatima stelt voor om het twee weken te proberen."
)


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(valid_keys={KEY}, default=Reply(tool_input=GOOD_PROPOSAL)) as server:
        yield server


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("ROOMCTL_ANTHROPIC_API_KEY", KEY)


@pytest.fixture
def app_client(
    make_settings: Callable[..., Settings], fake: FakeAnthropic
) -> Iterator[tuple[TestClient, dict[str, str], int, ManualClock]]:
    clock = ManualClock(START)
    room = build_room(make_settings(llm={"base_url": fake.base_url}, speech={"transcript_retention_days": 30}), clock)
    group = seed_group(room)
    seed_sessions(room, group, (4, 5, 6))
    _, token = create_token(room.db, "facilitator", label="tablet", now=clock.now(), group_id=group)
    with TestClient(create_app(room)) as client:
        yield client, {"Authorization": f"Bearer {token}"}, group, clock


def wait_proposals(client: TestClient, headers: dict[str, str], session_id: int, count: int) -> list[dict[str, Any]]:
    for _ in range(400):
        proposals = client.get(f"/api/v1/sessions/{session_id}/proposals", headers=headers).json()["proposals"]
        if len(proposals) >= count:
            return list(proposals)
        time.sleep(0.025)
    raise AssertionError(f"no {count} proposal(s) for session {session_id}")


def test_nothing_leaves_before_the_group_sends_and_struck_passages_never_leave(app_client, fake) -> None:
    client, fac, group, _ = app_client
    room = client.app.state.room  # type: ignore[attr-defined]
    asked = client.post("/api/v1/sessions/4/proposals", json={"transcript": TRANSCRIPT, "group_id": group,
                                                              "work_situation": "Anna werkt op de afdeling"},
                        headers=fac)
    assert asked.status_code == 202, asked.text
    answer = asked.json()
    assert answer["state"] == "preview" and "id" not in answer
    assert room.screen.get("proposal")["state"] == "preview"
    assert room.screen.get("proposal")["preview_id"] == answer["preview_id"]
    assert fake.requests == [] and room.db.execute("select count(*) from proposal_requests").fetchone()[0] == 0

    view = client.get(f"/api/v1/proposal-previews/{answer['preview_id']}", headers=fac).json()
    assert "mapping" not in view and "Anna" not in str(view["sections"])
    for name in (*MEMBERS, OTHER_MEMBER, "Kramer", "06-12345678"):
        assert name not in view["text"], name
    assert "[persoon 1] werkt op de afdeling" in view["text"] and "Meneer [persoon" in view["text"]
    assert "[telefoonnummer 1]" in view["text"]
    [transcript] = [s for s in view["sections"] if s["tag"] == "transcript"]
    assert len(transcript["passages"]) == 5  # one passage per sentence
    secret = next(p for p in transcript["passages"] if "niet naar buiten" in p["text"])

    refused = client.post(f"/api/v1/proposal-previews/{answer['preview_id']}/send", json={"struck": ["nope-1"]},
                          headers=fac)
    assert refused.status_code == 422 and "nope-1" in refused.json()["detail"]
    assert fake.requests == []

    sent = client.post(f"/api/v1/proposal-previews/{answer['preview_id']}/send", json={"struck": [secret["id"]]},
                       headers=fac)
    assert sent.status_code == 202, sent.text
    assert sent.json()["state"] in ("pending", "sending", "done")
    twice = client.post(f"/api/v1/proposal-previews/{answer['preview_id']}/send", json={"struck": []}, headers=fac)
    assert twice.status_code == 200 and twice.json()["id"] == sent.json()["id"]
    [proposal] = wait_proposals(client, fac, 4, 1)
    [out] = fake.message_requests()
    content = out.body["messages"][0]["content"]
    assert "niet naar buiten" not in sent_text(out.body) and "ziekte" not in sent_text(out.body)
    assert "[weggelaten door de groep]" in content
    assert content == view["text"].replace(secret["text"], "[weggelaten door de groep]")

    # what was sent stays on the Pi with the proposal, for the group to look back at
    kept = client.get(f"/api/v1/proposals/{proposal['id']}/sent", headers=fac).json()
    assert kept["expired"] is False and kept["text"] == content and kept["struck"] == [secret["id"]]


def test_what_was_sent_expires_with_the_transcript(app_client, fake) -> None:
    client, fac, group, clock = app_client
    room = client.app.state.room  # type: ignore[attr-defined]
    answer = client.post("/api/v1/sessions/5/proposals", json={"transcript": TRANSCRIPT, "group_id": group},
                         headers=fac).json()
    client.post(f"/api/v1/proposal-previews/{answer['preview_id']}/send", json={"struck": []}, headers=fac)
    [proposal] = wait_proposals(client, fac, 5, 1)
    assert client.get(f"/api/v1/proposals/{proposal['id']}/sent", headers=fac).json()["expired"] is False
    service = room.service(ProposalService)
    clock.advance(timedelta(days=29).total_seconds())
    assert service.expire() == []
    clock.advance(timedelta(days=2).total_seconds())
    assert service.expire() == [answer["preview_id"]]
    kept = client.get(f"/api/v1/proposals/{proposal['id']}/sent", headers=fac).json()
    assert kept["expired"] is True and kept["text"] is None
    [row] = room.db.query("select sections_json, mapping_json, state from proposal_previews")
    assert row == {"sections_json": None, "mapping_json": None, "state": "expired"}
    body = room.db.execute("select body_json from proposal_requests").fetchone()[0]
    assert "overdracht" not in body and "persoon" not in body
    # the proposal itself stays in the group's portfolio
    assert client.get(f"/api/v1/proposals/{proposal['id']}", headers=fac).json()["content"] == GOOD_PROPOSAL
    revise = client.post(f"/api/v1/proposals/{proposal['id']}/verdict",
                         json={"verdict": "revise", "remarks": "korter"}, headers=fac)
    assert revise.status_code == 409 and "expired" in revise.json()["detail"]
    assert client.get(f"/api/v1/proposal-previews/{answer['preview_id']}", headers=fac).status_code == 409


async def test_optional_preview_sends_at_once_unless_asked(make_settings, fake) -> None:
    room = build_room(make_settings(llm={"base_url": fake.base_url, "preview": "optional"}))
    group = seed_group(room)
    async with running(room) as svc:
        direct, _ = svc.ask(1, transcript=TRANSCRIPT, group_id=group)
        assert direct["state"] == "pending"
        await wait_for(lambda: (room.screen.get("proposal") or {}).get("state") == "ready", timeout=10)
        kept, _ = svc.ask(2, transcript=TRANSCRIPT, group_id=group, preview=True)
        assert kept["state"] == "preview"
        assert len(fake.message_requests()) == 1
        again, created = svc.ask(2, transcript=TRANSCRIPT, group_id=group)
        assert not created and again["preview_id"] == kept["preview_id"]
    text = sent_text(fake.message_requests()[0].body)
    assert not re.search(r"(?<!\w)(Anna|Pieter|Fatima|Kramer)(?!\w)", text)


async def test_a_revision_is_previewed_too_and_keeps_the_numbering(make_settings, fake) -> None:
    room = build_room(make_settings(llm={"base_url": fake.base_url}))
    group = seed_group(room)
    async with running(room) as svc:
        first, _ = svc.ask(1, transcript=TRANSCRIPT, group_id=group)
        svc.send(first["preview_id"], [])
        await wait_for(lambda: (room.screen.get("proposal") or {}).get("state") == "ready", timeout=10)
        [draft] = svc.store.proposals_for_session(1)
        answer = svc.verdict(draft["id"], "revise", "Anna en Kramer willen het korter.")
        preview = answer["request"]
        assert preview["state"] == "preview" and svc.store.proposal(draft["id"])["status"] == "draft"
        view = svc.preview_view(preview["preview_id"])
        assert [s["tag"] for s in view["sections"]][-2:] == ["draft", "remarks"]
        remarks = view["sections"][-1]["passages"][0]["text"]
        anna = re.search(r"\[persoon (\d+)\] werkt|\[persoon (\d+)\] zegt", view["text"])
        assert anna is not None and remarks.startswith(f"[persoon {anna[1] or anna[2]}] en [persoon")
        assert len(fake.message_requests()) == 1
        svc.send(preview["preview_id"], [])
        await wait_for(lambda: len(svc.store.proposals_for_session(1)) == 2, timeout=10)
        assert svc.store.proposal(draft["id"])["status"] == "revised"
    assert "Kramer" not in sent_text(fake.message_requests()[1].body)


async def test_asking_over_the_api_deidentifies_off_the_event_loop(make_settings, fake) -> None:
    import threading

    room = build_room(make_settings(llm={"base_url": fake.base_url}))
    group = seed_group(room)
    threads: list[str] = []
    async with running(room) as svc:
        made = svc._material

        def recording(prepared: Any) -> Any:
            threads.append(threading.current_thread().name)
            return made(prepared)

        svc._material = recording  # type: ignore[method-assign]
        answer, created = await svc.ask_async(3, transcript=TRANSCRIPT * 50, group_id=group)
        again, created_again = await svc.ask_async(3, transcript=TRANSCRIPT, group_id=group)
    assert created and not created_again and again["preview_id"] == answer["preview_id"]
    assert threads and threads[0] != threading.main_thread().name
    assert "Kramer" not in svc.preview_view(answer["preview_id"])["text"]


async def test_what_was_sent_expires_on_time_without_a_restart_or_an_ask(make_settings, fake) -> None:
    import asyncio
    import contextlib

    clock = ManualClock(START)
    room = build_room(make_settings(llm={"base_url": fake.base_url}, speech={"transcript_retention_days": 7}), clock)
    async with running(room) as svc:
        answer, _ = svc.ask(1, transcript=TRANSCRIPT)
        svc.send(answer["preview_id"], [])
        await wait_for(lambda: (room.screen.get("proposal") or {}).get("state") == "ready", timeout=10)
        clock.advance(timedelta(days=8).total_seconds())
        task = asyncio.create_task(svc._expire_every(0.01))
        try:
            await wait_for(lambda: svc.store.preview(answer["preview_id"])["state"] == "expired", timeout=5)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        [proposal] = svc.store.proposals_for_session(1)
        assert svc.sent(proposal["id"])["expired"] is True


def test_without_the_built_deidentifier_nothing_is_stored_or_sent(app_client, fake, monkeypatch, tmp_path) -> None:
    from roomctl.proposal import deduce_engine

    client, fac, group, _ = app_client
    room = client.app.state.room  # type: ignore[attr-defined]
    assert room.service(ProposalService)._preload is None  # no session started here: nothing loads deduce meanwhile
    monkeypatch.setattr(deduce_engine, "_ENGINE", None)  # as in a fresh process on a machine never set up
    monkeypatch.setenv("ROOMCTL_DEDUCE_DIR", str(tmp_path / "never-built"))
    asked = client.post("/api/v1/sessions/6/proposals", json={"transcript": TRANSCRIPT, "group_id": group},
                        headers=fac)
    assert asked.status_code == 409, asked.text
    problem = asked.json()
    assert problem["type"].endswith("/deidentify-not-ready") and "roomctl deidentify build" in problem["detail"]
    assert client.get("/healthz").json()["components"]["llm"]["status"] == "degraded"
    assert room.db.execute("select count(*) from proposal_previews").fetchone()[0] == 0
    assert fake.requests == [] and not (tmp_path / "never-built").exists()


async def test_a_preview_loads_the_model_sdk_while_the_group_reads_it_and_sends_nothing(make_settings, fake) -> None:
    # The first call of a process imports the SDK (seconds of interpreter time on the SDK thread): done while
    # the preview is on the tablet, the send that follows does not pay it while the room serves commands.
    room = build_room(make_settings(llm={"base_url": fake.base_url}))
    group = seed_group(room)
    async with running(room) as svc:
        provider = svc.outbox.provider
        assert isinstance(provider, ThreadedProvider)
        clients = provider.provider._clients.clients  # type: ignore[attr-defined]
        assert clients == {}
        kept, _ = svc.ask(1, transcript=TRANSCRIPT, group_id=group)
        assert kept["state"] == "preview"
        await wait_for(lambda: len(clients) == 1, timeout=10)
        assert fake.requests == [], "warming up opens no connection and sends nothing"
