"""The recording routes on the whole room: consent, start, stop, transcript, and who may call them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roomctl.api.app import create_app
from roomctl.api.tokens import create_token
from roomctl.config import Settings
from roomctl.core.clock import RunningClock
from roomctl.runtime import build_room
from roomctl.speech.models import model_dir
from tests.conftest import role_tokens
from tests.speech_helpers import ENGLISH_TEXT, ENGLISH_VOICE, installed_model, synthesise, wer

pytestmark = pytest.mark.slow
BASE = "/api/v1/session/recording"


@pytest.fixture
def client(
    make_settings: Callable[..., Settings], tmp_path: Path, clock: RunningClock
) -> Iterator[tuple[TestClient, dict[str, str], Any]]:
    wav = synthesise(ENGLISH_TEXT[0], tmp_path / "one.wav", ENGLISH_VOICE)
    settings = make_settings(
        speech={"model": "tiny.en", "language": "en", "simulated_files": [str(wav)], "chunk_seconds": 10}
    )
    installed_model("tiny.en", model_dir(settings))
    room = build_room(settings, clock)
    now = room.clock.now().isoformat()
    with room.db.atomic():  # session 42 of a group, whose tablet records it (the group scope checks session ids)
        room.db.execute("insert into groups (id, name, created_at) values (1, 'Team', ?)", [now])
        room.db.execute(
            "insert into sessions (id, group_id, videoframe_id, videoframe_version, started_at, ended_at, state, "
            "updated_at) values (42, 1, 'vf', '1', ?, ?, '{}', ?)", [now, now, now])  # fmt: skip
    with TestClient(create_app(room)) as test_client:
        tokens = role_tokens(room)
        tokens["facilitator"] = create_token(room.db, "facilitator", label="tablet", now=room.clock.now(), group_id=1)[1]
        yield test_client, tokens, room


def auth(tokens: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def test_roles_and_refusals(client: tuple[TestClient, dict[str, str], Any]) -> None:
    http, tokens, room = client
    assert http.get(BASE).status_code == 401
    assert http.get(BASE, headers=auth(tokens, "kiosk")).json()["state"] == "idle"
    assert http.post(f"{BASE}/consent", headers=auth(tokens, "kiosk"), json={}).status_code == 403
    assert http.get("/api/v1/sessions/1/transcript", headers=auth(tokens, "facilities")).status_code == 403
    refused = http.post(f"{BASE}/start", headers=auth(tokens, "facilitator"))
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert "consent" in refused.json()["detail"]
    missing = http.get("/api/v1/sessions/99/transcript", headers=auth(tokens, "admin"))
    assert missing.status_code == 404
    bad = http.post(f"{BASE}/consent", headers=auth(tokens, "facilitator"), json={"member_id": -3})
    assert bad.status_code == 422
    assert room.db.execute("select count(*) from speech_recordings").fetchone()[0] == 0
    assert http.post(f"{BASE}/stop", headers=auth(tokens, "facilitator")).json()["state"] == "idle"


def test_consent_record_stop_and_read_the_transcript(client: tuple[TestClient, dict[str, str], Any]) -> None:
    http, tokens, room = client
    facilitator = auth(tokens, "facilitator")
    consent = http.post(f"{BASE}/consent", headers=facilitator, json={"session_id": 42})
    assert consent.status_code == 200 and consent.json()["state"] == "consent"
    assert "opgenomen" in consent.json()["message"]["nl"]
    started = http.post(f"{BASE}/start", headers=facilitator)
    assert started.status_code == 200 and started.json()["state"] == "recording"
    assert room.screen.get("recording")["active"] and room.status.get("recording") == {"active": True}
    deadline = time.monotonic() + 30
    while http.get(BASE, headers=facilitator).json()["seconds"] < 5.5:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    stopped = http.post(f"{BASE}/stop", headers=facilitator)
    assert stopped.json()["state"] in ("finishing", "idle")
    assert room.status.get("recording") == {"active": False}
    body: dict[str, Any] = {}
    while not body.get("complete"):
        assert time.monotonic() < deadline + 30
        time.sleep(0.2)
        body = http.get("/api/v1/sessions/42/transcript", headers=facilitator).json()
    assert wer(ENGLISH_TEXT[0], body["text"]) < 0.25, body["text"]
    assert body["recordings"][0]["state"] == "done"
    assert http.get(BASE, headers=facilitator).json()["state"] == "idle"
    assert http.get("/healthz").json()["components"]["speech"]["status"] == "ok"
