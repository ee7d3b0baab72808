"""The guided tour in Chromium: the room walks through the hour and every screen shows its stage, in words.

A real room (real Whisper with the base model, the simulated microphone playing espeak-ng's Dutch brainstorm,
the demo writer through the real outbox) is served on a free port; the kiosk (1920x1080) and a tablet
(1280x800) follow it in headless Chromium. At every stage of the tour the test checks what both pages show,
that no raw identifier is on screen, that the tablet's Next stays in view, and saves screenshots.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from roomctl.config import Settings
from roomctl.demo import DEMO_MEMBERS, brainstorm_audio
from roomctl.demo_tour import PROBLEM, WORK_SITUATION, Tour, TourRefusedError, TourTokens
from roomctl.devices.broker import free_port
from roomctl.proposal.store import ProposalStore
from tests.conftest import LiveRoom, serving
from tests.screen_helpers import KIOSK, TABLET_LANDSCAPE, UI_TIMEOUT_MS, assert_words_only, in_view, shot
from tests.speech_helpers import installed_model, require

TOUR_SPEED = 50.0


@pytest.fixture
async def tour_room(make_settings: Callable[..., Settings], tmp_path: Path) -> Any:
    require("espeak-ng")
    audio = brainstorm_audio(tmp_path)
    models = tmp_path / "models"
    installed_model("base", models)
    settings = make_settings(
        server={"port": free_port()},
        speech={"simulated_files": [audio], "chunk_seconds": 10.0, "model_dir": models},
        llm={"provider": "demo", "model": "demo-writer", "screen_throttle_seconds": 0.05},
    )
    async with serving(settings) as live:
        yield live


def tokens(live: LiveRoom) -> TourTokens:
    return TourTokens(reader=live.tokens["reader"], facilitator=live.tokens["facilitator"], admin=live.tokens["admin"])


async def test_the_tour_walks_the_hour_and_every_screen_follows(tour_room: LiveRoom, browser: Any) -> None:
    live = tour_room
    kiosk = await browser.new_page(viewport=KIOSK)
    await kiosk.goto(f"{live.url}/kiosk#token={live.tokens['kiosk']}")
    tablet = await browser.new_page(viewport=TABLET_LANDSCAPE)
    await tablet.goto(f"{live.url}/tablet#token={live.tokens['facilitator']}")
    await kiosk.wait_for_selector("[data-testid=tap-hint]", timeout=UI_TIMEOUT_MS)
    await shot(kiosk, "kiosk-1920-idle")
    await shot(tablet, "tablet-1280x800-idle")
    seen: list[str] = []

    def text(page: Any, testid: str, has: str) -> Any:
        return page.locator(f"[data-testid={testid}]", has_text=has).wait_for(timeout=UI_TIMEOUT_MS)

    async def check(stage: str, state: dict[str, Any]) -> None:
        try:
            await check_stage(stage, state)
        except Exception:
            await shot(kiosk, "failed-kiosk")
            await shot(tablet, "failed-tablet")
            raise

    async def check_stage(stage: str, state: dict[str, Any]) -> None:
        seen.append(stage)
        session = state.get("session") or {}
        if session:
            title = session["step"]["title"]["nl"]
            await text(kiosk, "step-title", title)
            await text(tablet, "tablet-step", f"{session['index'] + 1}/{session['count']}")
            await kiosk.locator("[data-testid=timer]").wait_for(timeout=UI_TIMEOUT_MS)
            assert await in_view(tablet, "[data-testid=next]"), f"{stage}: Next scrolled out of view"
        if stage == "tap":
            await text(kiosk, "present", DEMO_MEMBERS[0][0])
        elif stage == "arrival":
            await text(kiosk, "situation", WORK_SITUATION[:30])
        elif stage.startswith("step") and session["step"]["kind"] != "proposal" and session["step"].get("question_texts"):
            first = session["step"]["question_texts"][0]["nl"]
            await kiosk.locator("[data-testid=questions]", has_text=first).wait_for(timeout=UI_TIMEOUT_MS)
        elif stage == "consent":
            await tablet.locator("[data-testid=record-start]").wait_for(timeout=UI_TIMEOUT_MS)
        elif stage == "recording":
            await kiosk.locator("[data-testid=caption-text]").first.wait_for(timeout=UI_TIMEOUT_MS)
            await kiosk.locator("[data-testid=recording]").wait_for(timeout=UI_TIMEOUT_MS)
        elif stage == "proposal":
            await kiosk.locator("[data-testid=proposal][data-state=ready]").wait_for(timeout=UI_TIMEOUT_MS)
            await text(kiosk, "proposal-writer", "demo — geen AI")
            await text(tablet, "proposal-writer", "demo — geen AI")
        elif stage == "verdict":
            await text(kiosk, "proposal-state", "Aangenomen")
        elif stage == "wrapup":
            await kiosk.locator("[data-testid=outcome]").wait_for(timeout=UI_TIMEOUT_MS)
        elif stage == "report":
            await kiosk.wait_for_selector("[data-testid=tap-hint]", timeout=UI_TIMEOUT_MS)
        await assert_words_only(kiosk, f"kiosk at {stage}")
        await assert_words_only(tablet, f"tablet at {stage}")
        name = stage.split(" ")[0] + (f"-{session['index'] + 1}" if stage.startswith("step") else "")
        await shot(kiosk, f"kiosk-1920-tour-{name}")
        await shot(tablet, f"tablet-1280x800-tour-{name}")

    lines: list[str] = []
    tour = Tour(live.url, tokens(live), badges=DEMO_MEMBERS, speed=TOUR_SPEED, echo=lines.append, on_stage=check)
    report = await tour.run()

    assert seen[:2] == ["tap", "arrival"]
    assert [s for s in seen if s.startswith("step")] == [
        "step 2/8 Analyse van de werksituatie", "step 3/8 Het probleem benoemen", "step 4/8 Brainstorm over oplossingen",
        "step 5/8 Bewegingspauze", "step 6/8 Verbetervoorstel van de AI", "step 7/8 Evalueren en valideren",
    ]  # fmt: skip
    for stage in ("consent", "recording", "preview", "proposal", "verdict", "wrapup", "report"):
        assert stage in seen, f"the tour skipped {stage}: {lines}"
    assert report["proposals_validated"] == 1 and report["sessions"] >= 1
    accepted = [p for p in ProposalStore(live.room.db).proposals_for_session(1) if p["status"] == "accepted"]
    assert len(accepted) == 1 and accepted[0]["content"]["problem"] == PROBLEM and accepted[0]["content"]["steps"]
    assert live.room.screen.get("session") is None
    assert any("proposal ready" in line for line in lines)
    await kiosk.close()
    await tablet.close()


async def test_the_tour_refuses_while_a_session_runs(live_room: LiveRoom) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=live_room.url, headers=live_room.headers("facilitator")) as client:
        started = await client.post("/api/v1/session/commands", json={"command": "start"})
        assert started.status_code == 200
    tour = Tour(live_room.url, tokens(live_room), badges=DEMO_MEMBERS, speed=TOUR_SPEED, echo=lambda _: None)
    with pytest.raises(TourRefusedError, match="a session is running"):
        await tour.run()
    session = live_room.room.screen.get("session")
    assert session["index"] == 0 and session["id"] == started.json()["id"]
