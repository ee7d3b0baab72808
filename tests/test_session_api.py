"""The session's HTTP surface: pairing, tablet commands (incl. speech and proposal), player reports, and the
admin's videoframe and kader routes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roomctl.api.app import create_app
from roomctl.config import Settings
from roomctl.core.clock import RunningClock
from roomctl.demo import DEMO_MEMBERS, seed
from roomctl.proposal.service import ProposalService
from roomctl.runtime import build_room
from tests.clock_helpers import INSTANTS, OPEN_AT, at_every_instant
from tests.conftest import role_tokens
from tests.media_helpers import base_manifest, write_package, zip_folder

TAP_TIMEOUT_SECONDS = 30.0
"""A tap starts the session through the room's queue; on a loaded 2-core CI machine that can take seconds."""


class Api:
    """A TestClient with the room and a token per role."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens
        self.room = client.app.state.room  # type: ignore[attr-defined]

    def call(self, method: str, path: str, role: str | None = "facilitator", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        headers.update(kwargs.pop("headers", {}))
        return self.client.request(method, path, headers=headers, **kwargs)

    def command(self, name: str, role: str = "facilitator", **args: Any) -> Any:
        return self.call("POST", "/api/v1/session/commands", role, json={"command": name, "args": args})

    def tap(self, uid: str = DEMO_MEMBERS[0][1]) -> None:
        """A member taps in; waits until the session (started by the room's event) is on screen."""
        response = self.call("POST", "/api/v1/door/taps", "reader", json={"uid": uid})
        assert response.json()["granted"] is True
        deadline = time.monotonic() + TAP_TIMEOUT_SECONDS
        while self.call("GET", "/api/v1/session").json()["phase"] == "idle":
            assert time.monotonic() < deadline, "the tap did not start a session"
            time.sleep(0.02)


@pytest.fixture
def api(settings: Settings, clock: RunningClock) -> Iterator[Api]:
    room = build_room(settings, clock)
    seed(room)
    with TestClient(create_app(room)) as client:
        yield Api(client, role_tokens(room))


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


@at_every_instant
def test_a_tablet_pairs_with_the_pin_and_steers_the_session(api: Api, clock: RunningClock) -> None:
    pin = api.room.screen.get("pairing")["pin"]
    assert api.call("POST", "/api/v1/tablet/pairing/show", None).json()["show_until"]
    problem(api.call("POST", "/api/v1/tablet/pair", None, json={"pin": "abc"}), 422)
    wrong = "000000" if pin != "000000" else "111111"
    body = problem(api.call("POST", "/api/v1/tablet/pair", None, json={"pin": wrong}), 401)
    assert body["tries_left"] == 4 and "wrong" in body["detail"]
    paired = api.call("POST", "/api/v1/tablet/pair", None, json={"pin": pin})
    assert paired.status_code == 200 and paired.json()["role"] == "facilitator"
    api.tokens["tablet"] = paired.json()["token"]
    assert api.call("GET", "/api/v1/session", "tablet").json() == {"phase": "idle"}
    problem(api.command("next", "tablet"), 409)

    api.tap()
    view = api.command("next", "tablet").json()
    assert view["phase"] == "analysis" and view["clip"]["state"] == "playing"
    assert api.command("pause_clip", "tablet").json()["clip"]["state"] == "paused"
    assert api.call("GET", "/api/v1/session", "kiosk").json()["clip"]["state"] == "paused"


def test_five_wrong_pins_lock_pairing_over_http(api: Api) -> None:
    pin = api.room.screen.get("pairing")["pin"]
    wrong = "000000" if pin != "000000" else "111111"
    for _ in range(4):
        problem(api.call("POST", "/api/v1/tablet/pair", None, json={"pin": wrong}), 401)
    body = problem(api.call("POST", "/api/v1/tablet/pair", None, json={"pin": wrong}), 429)
    assert "locked" in body["detail"] and body["retry_after_seconds"] > 0
    problem(api.call("POST", "/api/v1/tablet/pair", None, json={"pin": pin}), 429)
    assert api.room.db.execute("select count(*) from tablet_pairings").fetchone()[0] == 0


def test_out_of_order_commands_answer_clear_errors_and_change_nothing(api: Api) -> None:
    api.tap()
    before = api.call("GET", "/api/v1/session").json()
    assert "no clip" in problem(api.command("play"), 409)["detail"]
    assert "unknown command" in problem(api.command("fly"), 422)["detail"]
    assert "consent" in problem(api.command("record_start"), 409)["detail"]
    assert "transcript is empty" in problem(api.command("ask_proposal"), 422)["detail"]
    assert "no proposal" in problem(api.command("verdict", verdict="accept"), 409)["detail"]
    problem(api.command("verdict", verdict="maybe"), 422)
    assert api.call("GET", "/api/v1/session").json() == before
    assert api.command("end").status_code == 200
    assert "no session" in problem(api.command("next"), 409)["detail"]


def test_player_reports_are_checked_against_the_clip_on_screen(api: Api) -> None:
    api.tap()
    clip = api.command("next").json()["clip"]
    report = {"clip": clip["src"], "step": clip["step"], "restart": clip["restart"], "state": "playing",
              "position_ms": 500, "length_ms": 8000, "error": None}  # fmt: skip
    problem(api.call("POST", "/api/v1/session/player", "facilitator", json=report), 403)
    assert api.call("POST", "/api/v1/session/player", "kiosk", json=report).json()["accepted"] is True
    stale = {**report, "restart": clip["restart"] - 1, "state": "ended"}
    assert api.call("POST", "/api/v1/session/player", "kiosk", json=stale).json()["accepted"] is False
    problem(api.call("POST", "/api/v1/session/player", "kiosk", json={**report, "state": "exploded"}), 422)
    ended = api.call("POST", "/api/v1/session/player", "kiosk", json={**report, "state": "ended"})
    assert ended.json()["accepted"] is True
    view = api.call("GET", "/api/v1/session").json()
    assert view["phase"] == "analysis" and view["clip"] is None, "an analysis clip introduces the step"


def test_admin_installs_lists_and_removes_videoframes(api: Api, tmp_path: Path) -> None:
    package = zip_folder(write_package(tmp_path / "pkg"), tmp_path / "testframe.zip")
    data = package.read_bytes()
    headers = {"content-type": "application/zip"}
    problem(api.call("POST", "/api/v1/videoframes", "facilitator", content=data, headers=headers), 403)
    created = api.call("POST", "/api/v1/videoframes", "admin", content=data, headers=headers)
    assert created.status_code == 201 and created.json()["id"] == "testframe"
    ids = [f["id"] for f in api.call("GET", "/api/v1/videoframes", "admin").json()]
    assert ids == ["testframe", "werksituatie-verbeteren"]
    assert "already installed" in problem(api.call("POST", "/api/v1/videoframes", "admin", content=data, headers=headers), 409)["detail"]

    bad = zip_folder(write_package(tmp_path / "bad", base_manifest(steps=[{"id": "x"}])), tmp_path / "bad.zip")
    body = problem(api.call("POST", "/api/v1/videoframes", "admin", content=bad.read_bytes(), headers=headers), 422)
    assert "manifest.json" in body["detail"] and "steps[0]" in body["detail"]
    problem(api.call("POST", "/api/v1/videoframes", "admin", content=b"not a zip", headers=headers), 422)
    problem(api.call("POST", "/api/v1/videoframes", "admin", content=b"", headers=headers), 422)
    store = Path(api.room.settings.storage.data_dir) / "videoframes"
    assert not list(store.glob(".upload-*")), "uploads are removed after install"

    assert api.call("GET", "/api/v1/videoframes/testframe", "facilitator").json()["version"] == "1.0.0"
    assert api.call("DELETE", "/api/v1/videoframes/testframe", "admin").status_code == 204
    problem(api.call("DELETE", "/api/v1/videoframes/testframe", "admin"), 404)
    assert [f["id"] for f in api.call("GET", "/api/v1/videoframes", "admin").json()] == ["werksituatie-verbeteren"]


def test_admin_edits_kader_questions_and_the_screen_follows(api: Api) -> None:
    questions = api.call("GET", "/api/v1/kader", "facilitator").json()
    assert len(questions) == 10 and questions[0]["id"] == "q1"
    api.tap()
    api.command("next")
    edited = api.call("PUT", "/api/v1/kader/q1", "admin", json={"nl": "Wat gebeurt er precies?", "en": "What happens?"})
    assert edited.status_code == 200 and edited.json()["nl"] == "Wat gebeurt er precies?"
    shown = api.call("GET", "/api/v1/session", "kiosk").json()["step"]["question_texts"][0]
    assert shown["nl"] == "Wat gebeurt er precies?"
    problem(api.call("PUT", "/api/v1/kader/q1", "admin", json={"nl": " ", "en": "x"}), 422)
    problem(api.call("PUT", "/api/v1/kader/q99", "admin", json={"nl": "x", "en": "x"}), 404)
    problem(api.call("PUT", "/api/v1/kader/q1", "facilitator", json={"nl": "x", "en": "x"}), 403)
    assert api.call("GET", "/api/v1/kader/q1", "admin").json()["nl"] == "Wat gebeurt er precies?"
    reset = api.call("POST", "/api/v1/kader/reset", "admin").json()
    assert reset[0]["nl"] == "Wat is de situatie precies?"


@at_every_instant
def test_extend_and_end_move_the_booking_too(api: Api, clock: RunningClock) -> None:
    api.tap()
    booking_id, end_before = api.room.db.execute("select id, end_utc from bookings").fetchone()
    instant = next(name for name, at in INSTANTS.items() if abs((clock.now() - at).total_seconds()) < 600)
    extended = api.command("extend", minutes=5)
    end_after = api.room.db.execute("select end_utc from bookings where id = ?", [booking_id]).fetchone()[0]
    if OPEN_AT[instant]:
        assert extended.json()["plan"][0]["minutes"] == 10
        assert end_after > end_before
    else:
        body = problem(extended, 409)
        assert "closes" in body["detail"] or "open" in body["detail"], body
        assert end_after == end_before, "a refused extension changes nothing"
        assert api.call("GET", "/api/v1/session").json()["plan"][0]["minutes"] == 5
    problem(api.command("extend", minutes=0), 422)
    api.command("end")
    status = api.room.db.execute("select status from bookings where id = ?", [booking_id]).fetchone()[0]
    assert status == "ended", "ending the session early frees the rest of the slot"


def test_ask_proposal_sends_the_groups_situation_problem_and_notes(api: Api) -> None:
    from roomctl.speech import transcripts

    api.tap()
    session_id = api.call("GET", "/api/v1/session").json()["id"]
    api.command("situation", text="Terugbelverzoeken blijven liggen")
    api.command("choose", questions=["q5"])
    api.command("note", question="q5", text="Niemand voelt zich eigenaar")
    api.command("goto", index=2)
    api.command("problem", text="Geen vaste eigenaar voor de mailbox")
    now = api.room.clock.now()
    rid = transcripts.create_recording(api.room.db, session_id=str(session_id), consent="group", model="base",
                                       language="nl", now=now)  # fmt: skip
    transcripts.add_chunk(api.room.db, rid, 0, 0, 16000)
    transcripts.store_segments(api.room.db, transcripts.ChunkJob(rid, 0, 0, 16000, 0),
                               [{"start": 0.0, "end": 1.0, "text": "We zouden een rooster kunnen maken."}],
                               seconds=0.1, now=now)  # fmt: skip

    answer = api.command("ask_proposal").json()
    assert answer["result"]["created"] is True
    preview = answer["result"]["request"]
    assert preview["state"] == "preview"  # [llm] preview = "required": the group sees it before it goes out
    body = api.call("GET", f"/api/v1/proposal-previews/{preview['preview_id']}").json()["text"]
    for text in ("Terugbelverzoeken blijven liggen", "Geen vaste eigenaar voor de mailbox",
                 "Niemand voelt zich eigenaar", "Wat is het eigenlijke probleem achter het probleem?",
                 "rooster"):  # fmt: skip
        assert text in body
    again = api.command("ask_proposal").json()
    assert again["result"]["created"] is False, "asking twice does not send a second request"


def test_asking_over_the_proposal_api_uses_what_the_group_chose_on_the_tablet(api: Api) -> None:
    api.tap()
    session_id = api.call("GET", "/api/v1/session").json()["id"]
    api.command("situation", text="Terugbelverzoeken blijven liggen")
    api.command("choose", questions=["q5"])
    api.command("note", question="q5", text="Niemand voelt zich eigenaar")
    api.command("problem", text="Geen vaste eigenaar voor de mailbox")

    asked = api.call("POST", f"/api/v1/sessions/{session_id}/proposals", json={"transcript": "We maken een rooster."})
    assert asked.status_code == 202, asked.text
    sent = api.call("POST", f"/api/v1/proposal-previews/{asked.json()['preview_id']}/send", json={"struck": []})
    assert sent.status_code == 202, sent.text
    body = json.dumps(api.room.service(ProposalService).store.request(sent.json()["id"])["body"], ensure_ascii=False)
    for text in ("Terugbelverzoeken blijven liggen", "Geen vaste eigenaar voor de mailbox",
                 "Niemand voelt zich eigenaar", "rooster"):  # fmt: skip
        assert text in body

    unknown = api.call("POST", "/api/v1/sessions/9999/proposals", json={"transcript": "Alleen tekst."})
    assert unknown.status_code == 404, "a proposal needs an existing session of the caller's group (issue 14)"
