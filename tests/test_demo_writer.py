"""The demo writer: a proposal from the group's own words, through the real outbox, validation and streaming."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from roomctl.config import Settings
from roomctl.demo import DEMO_BRAINSTORM, demo_overrides
from roomctl.devices.broker import Broker
from tests.conftest import wait_for
from tests.proposal_helpers import build_room, running, seed_group, sent_text


@pytest.fixture(autouse=True)
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ROOMCTL_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)


def proposal_state(room: Any) -> dict[str, Any]:
    return room.screen.get("proposal") or {}


async def test_demo_writer_builds_the_proposal_from_the_transcript_and_streams_it(
    make_settings: Callable[..., Settings],
) -> None:
    room = build_room(make_settings(llm={"provider": "demo", "model": "demo-writer", "screen_throttle_seconds": 0.05, "preview": "optional"}))
    group = seed_group(room)
    seen: list[dict[str, Any]] = []
    room.screen.subscribe(lambda snap: seen.append(snap.get("proposal") or {}))
    assert room.screen.get("proposal_writer")["label"] == {"nl": "demo — geen AI", "en": "demo — no AI"}
    async with running(room) as svc:
        request, _ = svc.ask(1, transcript=DEMO_BRAINSTORM, group_id=group, work_situation="Telefonie klantcontact")
        await wait_for(lambda: proposal_state(room).get("state") == "ready", timeout=15)
    draft = proposal_state(room)["draft"]
    assert draft["problem"].startswith("We hebben het probleem dat klanten te lang wachten")
    actions = [step["action"] for step in draft["steps"]]
    assert any("terugbelservice" in a for a in actions) and any("pauzes te spreiden" in a for a in actions)
    assert not any("probleem dat klanten" in a for a in actions), "the problem sentence is not an idea"
    assert "Telefonie klantcontact" in draft["situation_summary"]
    writing = [s for s in seen if s.get("state") == "writing" and s.get("draft", {}).get("steps")]
    assert writing and len(writing[0]["draft"]["steps"]) < len(draft["steps"]), "the proposal did not stream"
    row = svc.store.request(request["id"])
    assert row["state"] == "done" and row["model"] == "demo-writer" and row["cost_eur"] == 0
    assert svc.store.proposals_for_session(1)[0]["content"] == draft


async def test_demo_writer_never_sees_member_names_and_revises_with_remarks(
    make_settings: Callable[..., Settings],
) -> None:
    room = build_room(make_settings(llm={"provider": "demo", "model": "demo-writer", "preview": "optional"}))
    group = seed_group(room)
    transcript = "Het probleem is dat Anna de Vries elke ochtend de overdracht mist. Een vaste lijst helpt."
    async with running(room) as svc:
        svc.ask(1, transcript=transcript, group_id=group)
        await wait_for(lambda: proposal_state(room).get("state") == "ready", timeout=15)
        first = proposal_state(room)
        assert "Anna" not in sent_text(first["draft"]), "the writer only sees the de-identified material"
        svc.verdict(first["proposal_id"], "revise", "Maak de lijst samen met de teamleider")
        await wait_for(lambda: proposal_state(room).get("version") == 2 and proposal_state(room)["state"] == "ready",
                       timeout=15)  # fmt: skip
    revised = proposal_state(room)["draft"]
    assert any("samen met de teamleider" in step["action"] for step in revised["steps"])
    assert revised["problem"] == first["draft"]["problem"]


async def test_without_the_demo_provider_there_is_no_writer_and_no_key_waits(
    make_settings: Callable[..., Settings],
) -> None:
    room = build_room(make_settings(llm={"preview": "optional"}))
    group = seed_group(room)
    assert room.screen.get("proposal_writer")["label"] is None
    async with running(room) as svc:
        svc.ask(1, transcript=DEMO_BRAINSTORM, group_id=group)
        await wait_for(lambda: proposal_state(room).get("wait_reason") == "no_key", timeout=10)


def test_the_demo_uses_the_writer_without_a_key_and_claude_with_one(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    without = demo_overrides("127.0.0.1", 8080, broker)
    assert without["llm"] == {"provider": "demo", "model": "demo-writer"}
    monkeypatch.setenv("ROOMCTL_ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    with_key = demo_overrides("127.0.0.1", 8080, broker)
    assert "llm" not in with_key and with_key["mqtt"]["port"] == broker.port
