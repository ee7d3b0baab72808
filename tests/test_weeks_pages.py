"""End to end in system Chromium: a session opens with "Vorige keer besloten" on kiosk and tablet, the group
follows it up on the tablet, a guest's door code typed on the tablet puts them on the kiosk as "gast", a
meditation gives the calm screen, a kader resource shows as a QR code; and a member composes their trajectory
on their own page. Saves 1920x1080 screenshots of the kiosk's arrival and meditation screens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from roomctl.api.tokens import create_token
from roomctl.booking.repository import BookingRepository
from roomctl.demo import DEMO_MEMBERS
from roomctl.session.events import SessionCommand
from roomctl.session.service import SessionService
from tests.conftest import ARTIFACTS, LiveRoom, wait_for
from tests.weeks_helpers import accept, draft_proposal

KIOSK_VIEWPORT = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}
TABLET_PORTRAIT = {"width": 800, "height": 1280}
UI_TIMEOUT_MS = 20_000


async def release_sockets(live: LiveRoom, *pages: Any) -> None:
    """Close the pages, then change the screen state once so the server notices the closed WebSockets."""
    for page in pages:
        await page.close()
    live.room.service(SessionService).pairing.rotate()


async def test_a_session_opens_with_last_time_and_the_tablet_follows_it_up(live_room: LiveRoom, browser: Any) -> None:
    room = live_room.room
    service = room.service(SessionService)
    group = BookingRepository(room.db).groups()[0].id
    earlier = await service.begin(group, None, room.clock.now() - timedelta(days=7))  # last week's cycle
    await room.dispatch(SessionCommand(source="test", command="end"))
    accept(room, draft_proposal(room, earlier, "Overdracht met een checklist"))
    async with httpx.AsyncClient(base_url=live_room.url, headers=live_room.headers("admin")) as admin:
        added = await admin.post("/api/v1/kader/q1/resources", json={"kind": "podcast", "title": "Podcast: kijken naar je werk", "url": "https://example.org/p"})
        assert added.status_code == 201, added.text

    kiosk = await browser.new_page(viewport=KIOSK_VIEWPORT)
    await kiosk.goto(f"{live_room.url}/kiosk#token={live_room.tokens['kiosk']}")
    tablet = await browser.new_page(viewport=TABLET_PORTRAIT)
    await tablet.goto(f"{live_room.url}/tablet#token={live_room.tokens['facilitator']}")
    await tablet.wait_for_selector("[data-testid=no-session]", timeout=UI_TIMEOUT_MS)
    async with httpx.AsyncClient(base_url=live_room.url) as client:
        tapped = await client.post("/api/v1/door/taps", json={"uid": DEMO_MEMBERS[0][1]}, headers=live_room.headers("reader"))
        assert tapped.json()["granted"] is True

    await kiosk.locator("[data-testid=continuity-title]", has_text="Overdracht met een checklist").wait_for(timeout=UI_TIMEOUT_MS)
    assert "Vorige keer besloten" in (await kiosk.locator("[data-testid=continuity]").text_content() or "")
    await tablet.locator("[data-testid=last-proposal]", has_text="Overdracht met een checklist").wait_for(timeout=UI_TIMEOUT_MS)
    assert "Eerste sessie van de week" in await tablet.locator("[data-testid=cycle-hint]").inner_text()
    await tablet.locator("[data-testid=week-situations]").fill("Overdracht aan de avonddienst\nKlachten")
    await tablet.locator("[data-testid=week-q2]").check()
    await tablet.locator("[data-testid=week-save]").click()
    await tablet.locator("[data-testid=today-situation-1]").click()
    await kiosk.locator("[data-testid=situation]", has_text="Klachten").wait_for(timeout=UI_TIMEOUT_MS)
    await kiosk.locator("[data-testid=week-situations]", has_text="Overdracht aan de avonddienst").wait_for(timeout=UI_TIMEOUT_MS)
    await tablet.locator("[data-testid=followup-note]").fill("Checklist werkt, nog niet iedereen gebruikt hem")
    await tablet.locator("[data-testid=followup-partly]").click()
    await kiosk.locator("[data-testid=continuity-followup]", has_text="Deels gelukt").wait_for(timeout=UI_TIMEOUT_MS)
    row = await wait_for(lambda: room.db.execute("select how_it_went, note from proposal_followups").fetchone())
    assert tuple(row) == ("partly", "Checklist werkt, nog niet iedereen gebruikt hem")

    await tablet.locator("[data-testid=guest-name]").fill("Gerda Gast")
    await tablet.locator("[data-testid=guest-invite]").click()
    shown = tablet.locator("[data-testid=guest-result]")
    await shown.filter(has_text="Deurcode").wait_for(timeout=UI_TIMEOUT_MS)
    code = (await shown.inner_text()).rsplit(" ", 1)[1]
    await tablet.locator("[data-testid=door-code]").fill(code)
    await tablet.locator("[data-testid=door-code-enter]").click()
    await tablet.locator("[data-testid=door-code-result]", has_text="Welkom").wait_for(timeout=UI_TIMEOUT_MS)
    await kiosk.locator("[data-testid=guest-chip]", has_text="Gerda Gast · gast").wait_for(timeout=UI_TIMEOUT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    await kiosk.screenshot(path=str(ARTIFACTS / "kiosk-arrival-continuity.png"))
    await tablet.locator("[data-testid=door-code]").fill(code)
    await tablet.locator("[data-testid=door-code-enter]").click()
    await tablet.locator("[data-testid=door-code-result]", has_text="once").wait_for(timeout=UI_TIMEOUT_MS)

    await tablet.locator("[data-testid=next]").click()
    await kiosk.locator("[data-testid=resource]", has_text="Podcast: kijken naar je werk").wait_for(timeout=UI_TIMEOUT_MS)
    src = await kiosk.locator("[data-testid=resource] img").get_attribute("src")
    assert src is not None and src.startswith("data:image/svg+xml"), "the QR code is drawn on the Pi, not fetched"
    await tablet.locator("[data-testid=insert-meditation]").click()
    await kiosk.locator("[data-testid=calm]").wait_for(timeout=UI_TIMEOUT_MS)
    assert await kiosk.locator("main#screen").get_attribute("data-phase") == "meditation"
    await kiosk.screenshot(path=str(ARTIFACTS / "kiosk-meditation.png"))
    await release_sockets(live_room, kiosk, tablet)


async def test_typing_on_the_tablet_survives_a_change_of_the_room(live_room: LiveRoom, browser: Any) -> None:
    """A colleague tapping in while the week's situations are typed neither blurs the field nor loses a letter."""
    tablet = await browser.new_page(viewport=TABLET_PORTRAIT)
    await tablet.goto(f"{live_room.url}/tablet#token={live_room.tokens['facilitator']}")
    await tablet.wait_for_selector("[data-testid=no-session]", timeout=UI_TIMEOUT_MS)
    async with httpx.AsyncClient(base_url=live_room.url, headers=live_room.headers("reader")) as reader:
        assert (await reader.post("/api/v1/door/taps", json={"uid": DEMO_MEMBERS[0][1]})).json()["granted"] is True
        field = tablet.locator("[data-testid=week-situations]")
        await field.click()
        await tablet.keyboard.type("Overdracht ")
        assert (await reader.post("/api/v1/door/taps", json={"uid": DEMO_MEMBERS[1][1]})).json()["granted"] is True
        await tablet.locator("[data-testid=tablet-present]", has_text=DEMO_MEMBERS[1][0]).wait_for(timeout=UI_TIMEOUT_MS)
    await tablet.keyboard.type("aan de avonddienst")
    assert await field.input_value() == "Overdracht aan de avonddienst"
    assert await tablet.evaluate("document.activeElement.dataset.testid") == "week-situations"
    await tablet.locator("[data-testid=week-save]").click()
    await tablet.locator("[data-testid=today-situation-0]", has_text="Overdracht aan de avonddienst").wait_for(timeout=UI_TIMEOUT_MS)
    await release_sockets(live_room, tablet)


async def test_a_member_composes_their_trajectory_on_their_own_phone(live_room: LiveRoom, browser: Any) -> None:
    room = live_room.room
    anna = BookingRepository(room.db).members()[0]
    token = create_token(room.db, "member", label="anna", now=room.clock.now(), member_id=anna.id)[1]
    phone = await browser.new_page(viewport=PHONE)
    await phone.goto(f"{live_room.url}/trajectory#token={token}")
    await phone.locator("[data-testid=save]").wait_for(timeout=UI_TIMEOUT_MS)
    assert anna.name in await phone.locator("#title").inner_text()
    assert "#token" not in phone.url, "the token leaves the address bar"
    await phone.locator("[data-testid=weeks]").fill("0")
    await phone.locator("[data-testid=save]").click()
    await phone.locator("[data-testid=message].error").wait_for(timeout=UI_TIMEOUT_MS)
    assert "weeks" in await phone.locator("[data-testid=message]").inner_text()
    assert room.db.execute("select count(*) from trajectories").fetchone()[0] == 0

    await phone.locator("[data-testid=weeks]").fill("20")
    await phone.locator("[data-testid=minutes]").fill("90")
    await phone.locator("[data-testid=question-q4]").check()
    await phone.locator("[data-testid=wishes]").fill("Training gespreksvoering")
    await phone.locator("[data-testid=save]").click()
    await phone.locator("[data-testid=message]", has_text="Opgeslagen").wait_for(timeout=UI_TIMEOUT_MS)
    await phone.locator("[data-testid=week-row]").first.wait_for(timeout=UI_TIMEOUT_MS)
    stored = room.db.execute("select weeks, minutes_per_week, questions, wishes from trajectories").fetchone()
    assert tuple(stored) == (20, 90, '["q4"]', "Training gespreksvoering")
    assert "%" not in await phone.locator("[data-testid=progress]").inner_text(), "minutes, never percentages"
    await phone.locator("[data-testid=report-minutes]", has_text="/ 90 min").wait_for(timeout=UI_TIMEOUT_MS)
    assert "Training" not in await phone.locator("[data-testid=talent-report]").inner_text(), "the report holds no wishes"
    await phone.close()


async def test_admin_adds_a_resource_with_a_qr_code_and_refuses_a_link_that_is_not_http(
    live_room: LiveRoom, browser: Any
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{live_room.url}/admin#token={live_room.tokens['admin']}")
    await page.locator("[data-testid=resource-add-q5]").wait_for(timeout=UI_TIMEOUT_MS)
    await page.locator("[data-testid=resource-title-q5]").fill("Artikel over feedback")
    await page.locator("[data-testid=resource-url-q5]").fill("javascript:alert(1)")
    await page.locator("[data-testid=resource-add-q5]").click()
    await page.locator("[data-testid=resource-error-q5]", has_text="http").wait_for(timeout=UI_TIMEOUT_MS)
    assert live_room.room.db.execute("select count(*) from kader_resources").fetchone()[0] == 0

    await page.locator("[data-testid=resource-kind-q5]").select_option("article")
    await page.locator("[data-testid=resource-title-q5]").fill("Artikel over feedback")
    await page.locator("[data-testid=resource-url-q5]").fill("https://example.org/artikel")
    await page.locator("[data-testid=resource-add-q5]").click()
    row = page.locator("[data-question=q5] [data-testid=resource-row]")
    await row.filter(has_text="Artikel over feedback").wait_for(timeout=UI_TIMEOUT_MS)
    assert (await row.locator("img").get_attribute("src") or "").startswith("data:image/svg+xml")

    anna = BookingRepository(live_room.room.db).members()[0]
    await page.locator(f"[data-testid=trajectory-link-{anna.id}]").click()
    link = page.locator("[data-testid=trajectory-link]")
    await link.filter(has_text="/trajectory#token=").wait_for(timeout=UI_TIMEOUT_MS)
    await page.close()
