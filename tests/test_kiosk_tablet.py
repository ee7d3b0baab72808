"""End to end in system Chromium: a tablet paired with the projector's PIN steers the kiosk.

A kiosk page and two tablet pages in one browser; a tap on "volgende" on one tablet changes the question on the
kiosk and the other tablet follows. Saves 1920x1080 screenshots of the kiosk's idle and step screens.
"""

from __future__ import annotations

from typing import Any

import httpx

from roomctl.demo import DEMO_MEMBERS
from roomctl.session.service import SessionService
from tests.conftest import ARTIFACTS, LiveRoom, wait_for
from tests.session_helpers import MIXED_ID, install_mixed

KIOSK_VIEWPORT = {"width": 1920, "height": 1080}
TABLET_PORTRAIT = {"width": 800, "height": 1280}
TABLET_LANDSCAPE = {"width": 1280, "height": 800}
UI_TIMEOUT_MS = 20_000


async def pair(page: Any, pin: str) -> None:
    await page.locator("[data-testid=pin]").fill(pin)
    await page.locator("[data-testid=pair]").click()


async def release_sockets(live: LiveRoom, *pages: Any) -> None:
    """Close the pages, then change the screen state once so the server notices the closed WebSockets."""
    for page in pages:
        await page.close()
    live.room.service(SessionService).pairing.rotate()


async def test_tablet_pairs_and_next_changes_the_question_on_the_kiosk(live_room: LiveRoom, browser: Any) -> None:
    url = live_room.url
    kiosk = await browser.new_page(viewport=KIOSK_VIEWPORT)
    await kiosk.goto(f"{url}/kiosk#token={live_room.tokens['kiosk']}")
    await kiosk.wait_for_selector("[data-testid=tap-hint]", timeout=UI_TIMEOUT_MS)
    pin_text = await kiosk.locator("[data-testid=pairing-pin]").inner_text()
    pin = pin_text.replace(" ", "")
    assert pin == live_room.room.screen.get("pairing")["pin"]
    ARTIFACTS.mkdir(exist_ok=True)
    await kiosk.screenshot(path=str(ARTIFACTS / "kiosk-idle.png"))

    tablet = await browser.new_page(viewport=TABLET_PORTRAIT)
    await tablet.goto(f"{url}/tablet")
    wrong = "000000" if pin != "000000" else "111111"
    await pair(tablet, wrong)
    error = tablet.locator("[data-testid=pair-error]")
    await error.filter(has_text="wrong").wait_for(timeout=UI_TIMEOUT_MS)
    assert "4 tries left" in await error.inner_text()
    await pair(tablet, pin)
    await tablet.wait_for_selector("[data-testid=no-session]", timeout=UI_TIMEOUT_MS)

    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/api/v1/door/taps", json={"uid": DEMO_MEMBERS[0][1]}, headers=live_room.headers("reader"))
        assert response.json()["granted"] is True
    await kiosk.locator("[data-testid=step-title]", has_text="Aankomst").wait_for(timeout=UI_TIMEOUT_MS)
    await tablet.locator("[data-testid=tablet-step]", has_text="Aankomst").wait_for(timeout=UI_TIMEOUT_MS)

    # the group names today's work situation on the tablet; the projector shows it
    await tablet.locator("[data-testid=situation]").fill("Klanten wachten te lang op terugbellen")
    await tablet.locator("[data-testid=situation-save]").click()
    await kiosk.locator("[data-testid=situation]", has_text="Klanten wachten te lang").wait_for(timeout=UI_TIMEOUT_MS)

    second = await browser.new_page(viewport=TABLET_LANDSCAPE)
    await second.goto(f"{url}/tablet#token={live_room.tokens['facilitator']}")
    await second.locator("[data-testid=tablet-step]", has_text="Aankomst").wait_for(timeout=UI_TIMEOUT_MS)

    assert await kiosk.locator("[data-testid=questions]").count() == 0
    await tablet.locator("[data-testid=next]").click()
    questions = kiosk.locator("[data-testid=questions]")
    await questions.wait_for(timeout=UI_TIMEOUT_MS)
    assert "Wat is de situatie precies?" in await questions.inner_text()
    assert "Analyse" in await kiosk.locator("[data-testid=step-title]").inner_text()
    await second.locator("[data-testid=tablet-step]", has_text="2/8").wait_for(timeout=UI_TIMEOUT_MS)
    assert "Klanten wachten te lang" in await kiosk.locator("[data-testid=situation]").inner_text()
    await kiosk.screenshot(path=str(ARTIFACTS / "kiosk-step.png"))

    # a note typed on the second tablet appears under the question on the projector
    await second.locator("[data-testid=note-q1]").fill("Verzoeken blijven twee dagen liggen")
    await second.locator("[data-testid=note-q1-save]").click()
    await kiosk.locator("[data-question=q1] .note", has_text="twee dagen").wait_for(timeout=UI_TIMEOUT_MS)

    # play on a step whose clip is paused works; the kiosk's state says paused on both tablets
    await tablet.locator("[data-testid=pause_clip]").click()
    await second.locator("[data-testid=clip-state]", has_text="gepauzeerd").wait_for(timeout=UI_TIMEOUT_MS)
    assert live_room.room.screen.get("session")["clip"]["state"] == "paused"
    await release_sockets(live_room, kiosk, tablet, second)


async def test_tablet_shows_a_clear_error_for_play_without_clip(live_room: LiveRoom, browser: Any) -> None:
    tablet = await browser.new_page(viewport=TABLET_PORTRAIT)
    await tablet.goto(f"{live_room.url}/tablet#token={live_room.tokens['facilitator']}")
    await tablet.locator("[data-testid=start]").click()
    await tablet.locator("[data-testid=tablet-step]", has_text="Aankomst").wait_for(timeout=UI_TIMEOUT_MS)
    before = live_room.room.screen.get("session")
    response = await tablet.evaluate(
        """async () => {
            const r = await fetch('/api/v1/session/commands', {method: 'POST',
              headers: {'Authorization': 'Bearer ' + localStorage.getItem('roomctl.token/tablet'),
                        'Content-Type': 'application/json'},
              body: JSON.stringify({command: 'play'})});
            return {status: r.status, body: await r.json()};
        }"""
    )
    assert response["status"] == 409 and "no clip" in response["body"]["detail"]
    await tablet.locator("[data-testid=goto-7]").click()
    await tablet.locator("[data-testid=tablet-step]", has_text="8/8").wait_for(timeout=UI_TIMEOUT_MS)
    await wait_for(lambda: live_room.room.screen.get("session")["index"] == 7)
    assert live_room.room.screen.get("session")["id"] == before["id"]
    await release_sockets(live_room, tablet)


async def test_the_last_minute_shows_as_a_warning_on_kiosk_and_tablet(
    live_room: LiveRoom, browser: Any, tmp_path: Any
) -> None:
    install_mixed(live_room.room, tmp_path)
    async with httpx.AsyncClient(base_url=live_room.url, headers=live_room.headers("facilitator")) as client:
        started = await client.post("/api/v1/session/commands", json={"command": "start", "args": {"videoframe": MIXED_ID}})
        assert started.status_code == 200, started.text
        moved = await client.post("/api/v1/session/commands", json={"command": "goto", "args": {"index": 2}})
        assert moved.json()["step"]["kind"] == "break"
    kiosk = await browser.new_page(viewport=KIOSK_VIEWPORT)
    await kiosk.goto(f"{live_room.url}/kiosk#token={live_room.tokens['kiosk']}")
    tablet = await browser.new_page(viewport=TABLET_PORTRAIT)
    await tablet.goto(f"{live_room.url}/tablet#token={live_room.tokens['facilitator']}")
    await kiosk.locator("[data-testid=timer][data-mood=warning]").wait_for(timeout=UI_TIMEOUT_MS)
    assert await kiosk.locator("[data-testid=timer-label]").inner_text() == "LAATSTE MINUUT"
    await tablet.locator("[data-mood=warning] [data-testid=tablet-timer]").wait_for(timeout=UI_TIMEOUT_MS)
    await release_sockets(live_room, kiosk, tablet)
