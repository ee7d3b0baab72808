"""The proposal over HTTP: ask, verdict (versions, edits, revise, reject), portfolio export, roles, redaction rules."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roomctl.api.app import create_app
from roomctl.api.tokens import create_token
from roomctl.config import Settings
from roomctl.core.clock import RunningClock
from roomctl.proposal.service import ProposalService
from tests.fake_anthropic import FakeAnthropic, Reply
from tests.proposal_helpers import GOOD_PROPOSAL, TRANSCRIPT, build_room, seed_group, seed_sessions

KEY = "sk-test-api"
REVISED = {**GOOD_PROPOSAL, "title": "Overdrachtskaart, met de teamleider als eigenaar"}


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(valid_keys={KEY}, default=Reply(tool_input=GOOD_PROPOSAL)) as server:
        yield server


@pytest.fixture
def app_client(
    make_settings: Callable[..., Settings], fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch, clock: RunningClock
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], int]]:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("ROOMCTL_ANTHROPIC_API_KEY", KEY)
    room = build_room(make_settings(llm={"base_url": fake.base_url}), clock)
    group = seed_group(room)
    seed_sessions(room, group, (1, 3, 7, 9))
    headers = {}
    for role in ("facilitator", "admin", "facilities", "kiosk"):
        bound = {"group_id": group} if role == "facilitator" else {}  # the group's tablet
        _, token = create_token(room.db, role, label=role, now=room.clock.now(), **bound)
        headers[role] = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(room)) as client:
        client.app.state.room.service(ProposalService).outbox.backoff_base = 0.05  # type: ignore[attr-defined]
        yield client, headers, group


def send_preview(client: TestClient, headers: dict[str, str], answer: dict[str, Any]) -> dict[str, Any]:
    """Send a preview the way the tablet does, striking nothing; return the request."""
    assert answer["state"] == "preview", answer
    sent = client.post(f"/api/v1/proposal-previews/{answer['preview_id']}/send", json={"struck": []}, headers=headers)
    assert sent.status_code == 202, sent.text
    return dict(sent.json())


def wait_ready(client: TestClient, headers: dict[str, str], session_id: int, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        proposals = client.get(f"/api/v1/sessions/{session_id}/proposals", headers=headers).json()["proposals"]
        if len(proposals) >= count:
            return proposals
        time.sleep(0.05)
    raise AssertionError(f"no {count} proposal(s) for session {session_id} within 10 s")


def test_verdict_flow_with_versions_edits_and_portfolio(app_client, fake) -> None:
    client, headers, group = app_client
    fac = headers["facilitator"]
    body = {"transcript": TRANSCRIPT, "problem": "Overdracht", "group_id": group,
            "kader_notes": [{"question": "Wat wil je leren?", "note": "Beter overdragen"}]}
    asked = client.post("/api/v1/sessions/7/proposals", json=body, headers={**fac, "Idempotency-Key": "t-1"})
    assert asked.status_code == 202, asked.text
    again = client.post("/api/v1/sessions/7/proposals", json=body, headers={**fac, "Idempotency-Key": "t-1"})
    assert again.status_code == 200 and again.json()["preview_id"] == asked.json()["preview_id"]
    request = send_preview(client, fac, asked.json())
    after = client.post("/api/v1/sessions/7/proposals", json=body, headers={**fac, "Idempotency-Key": "t-1"})
    assert after.status_code == 200 and after.json()["id"] == request["id"]
    [v1] = wait_ready(client, fac, 7, 1)
    assert v1["version"] == 1 and v1["status"] == "draft"

    # edit one item; the model's original is kept
    steps = [{**GOOD_PROPOSAL["steps"][0], "effort": "3 uur"}]
    edited = client.patch(f"/api/v1/proposals/{v1['id']}", json={"steps": steps}, headers=fac)
    assert edited.status_code == 200, edited.text
    assert edited.json()["content"]["steps"] == steps and edited.json()["edited"] is True
    assert edited.json()["original"] == GOOD_PROPOSAL
    bad = client.patch(f"/api/v1/proposals/{v1['id']}", json={"steps": []}, headers=fac)
    assert bad.status_code == 422
    assert client.get(f"/api/v1/proposals/{v1['id']}", headers=fac).json()["content"]["steps"] == steps

    # revise without remarks: refused, nothing changed
    refused = client.post(f"/api/v1/proposals/{v1['id']}/verdict", json={"verdict": "revise"}, headers=fac)
    assert refused.status_code == 422 and "remarks" in refused.json()["detail"]
    fake.script(Reply(tool_input=REVISED))
    remarks = "Anna wil dat de teamleider eigenaar wordt."
    revised = client.post(f"/api/v1/proposals/{v1['id']}/verdict",
                          json={"verdict": "revise", "remarks": remarks}, headers=fac)
    assert revised.status_code == 200, revised.text
    assert revised.json()["proposal"]["status"] == "draft"  # until the group sends the revision's preview
    send_preview(client, fac, revised.json()["request"])
    assert client.get(f"/api/v1/proposals/{v1['id']}", headers=fac).json()["status"] == "revised"
    versions = wait_ready(client, fac, 7, 2)
    v2 = versions[1]
    assert v2["version"] == 2 and v2["parent_id"] == v1["id"] and v2["content"]["title"] == REVISED["title"]
    revision_request = fake.message_requests()[-1].body["messages"][0]["content"]
    assert "<draft>" in revision_request and "<remarks>" in revision_request
    assert "3 uur" in revision_request  # the group's edit went into the draft
    assert "Anna wil" not in revision_request and "[persoon 1] wil dat de teamleider" in revision_request
    assert revision_request.count("<transcript>") == 1

    # a judged version cannot be judged again
    twice = client.post(f"/api/v1/proposals/{v1['id']}/verdict", json={"verdict": "accept"}, headers=fac)
    assert twice.status_code == 409

    accepted = client.post(f"/api/v1/proposals/{v2['id']}/verdict", json={"verdict": "accept"}, headers=fac)
    assert accepted.status_code == 200 and accepted.json()["proposal"]["status"] == "accepted"

    md = client.get(f"/api/v1/groups/{group}/portfolio.md", headers=fac)
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "# Portfolio: Team Oost" in md.text and f"## {REVISED['title']}" in md.text
    assert "| teamleider |" in md.text and GOOD_PROPOSAL["title"] not in md.text
    page = client.get(f"/api/v1/groups/{group}/portfolio.html", headers=headers["admin"])
    assert page.status_code == 200 and "<table>" in page.text and "@media print" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # prints offline


def test_three_rejections_leave_a_clear_state_and_no_duplicates(app_client, fake) -> None:
    client, headers, group = app_client
    fac = headers["facilitator"]
    for round_ in range(1, 4):
        asked = client.post("/api/v1/sessions/9/proposals", json={"transcript": TRANSCRIPT, "group_id": group},
                            headers=fac)
        assert asked.status_code == 202
        send_preview(client, fac, asked.json())
        proposals = wait_ready(client, fac, 9, round_)
        latest = proposals[-1]
        rejected = client.post(f"/api/v1/proposals/{latest['id']}/verdict",
                               json={"verdict": "reject", "remarks": "past niet"}, headers=fac)
        assert rejected.status_code == 200
    listing = client.get("/api/v1/sessions/9/proposals", headers=fac).json()
    assert [p["status"] for p in listing["proposals"]] == ["rejected"] * 3
    assert [p["version"] for p in listing["proposals"]] == [1, 2, 3]
    assert [r["state"] for r in listing["requests"]] == ["done"] * 3
    assert len(fake.message_requests()) == 3
    md = client.get(f"/api/v1/groups/{group}/portfolio.md", headers=fac)
    assert "Nog geen aangenomen voorstellen." in md.text


def test_roles_facilities_and_kiosk_are_refused(app_client) -> None:
    client, headers, group = app_client
    for role in ("facilities", "kiosk"):
        for method, path in (("get", "/api/v1/sessions/1/proposals"), ("get", "/api/v1/proposals/1"),
                             ("get", f"/api/v1/groups/{group}/portfolio.md"),
                             ("post", "/api/v1/sessions/1/proposals"), ("get", "/api/v1/proposal-previews/1"),
                             ("post", "/api/v1/proposal-previews/1/send"), ("get", "/api/v1/proposals/1/sent")):
            response = client.request(method.upper(), path, headers=headers[role], json={"transcript": "x"})
            assert response.status_code == 403, (role, path)
    assert client.get("/api/v1/sessions/1/proposals").status_code == 401


def test_bad_input_is_refused_with_nothing_stored(app_client, fake) -> None:
    client, headers, _ = app_client
    fac = headers["facilitator"]
    empty = client.post("/api/v1/sessions/3/proposals", json={"transcript": "  "}, headers=fac)
    assert empty.status_code == 422 and "transcript is empty" in empty.json()["detail"]
    unknown = client.post("/api/v1/sessions/3/proposals", json={"transcript": "x", "prompt": "y"}, headers=fac)
    assert unknown.status_code == 422
    assert client.get("/api/v1/proposals/999", headers=fac).status_code == 404
    assert client.post("/api/v1/proposals/999/verdict", json={"verdict": "accept"}, headers=fac).status_code == 404
    assert client.get("/api/v1/sessions/3/proposals", headers=fac).json() == {"requests": [], "proposals": []}
    assert fake.requests == []


def test_health_reports_llm_degraded_without_key(app_client, monkeypatch) -> None:
    client, _, _ = app_client
    assert client.get("/healthz").json()["components"]["llm"]["status"] == "ok"
    monkeypatch.delenv("ROOMCTL_ANTHROPIC_API_KEY")
    report = client.get("/healthz").json()
    assert report["components"]["llm"]["status"] == "degraded" and report["components"]["llm"]["critical"] is False
    assert "sk-" not in str(report)
