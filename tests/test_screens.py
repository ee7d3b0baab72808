"""Screens a facilitator uses without a manual, in headless Chromium.

- the tablet at 1280x800 and 800x1280: Next stays in view however far the kader list scrolls, the kader list sits
  beside the controls in landscape, every touch target is at least 48 px;
- every page (kiosk, tablet, admin, facilities, report) shows states in words, never raw ids, and times in the
  room's zone although the browser runs in another one;
- admin's week view books a free slot once or every week; admin shows the scenes a videoframe lacks;
- facilities keeps a long alert readable (full card width).
Screenshots of every page at tablet and projector size go to test-artifacts/.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from roomctl.access.events import ReaderStatusChanged
from roomctl.booking.repository import BookingRepository
from roomctl.demo import DEMO_MEMBERS
from roomctl.session.service import SessionService
from tests.conftest import LiveRoom
from tests.media_helpers import base_manifest, write_package
from tests.screen_helpers import (
    KIOSK,
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    UI_TIMEOUT_MS,
    assert_words_only,
    in_view,
    shot,
    small_targets,
)

BROWSER_ZONE = "Pacific/Auckland"
"""The browser's own zone in these tests: far from the room's, so a time shown in it is plainly wrong."""
PAGES = ("kiosk", "tablet", "admin", "facilities", "report")
ROLE = {"kiosk": "kiosk", "tablet": "facilitator", "admin": "admin", "facilities": "facilities", "report": "admin"}
READY = {
    "kiosk": "[data-testid=step-title]", "tablet": "[data-testid=tablet-step]", "admin": "[data-testid=week-booking]",
    "facilities": "[data-testid=room-card]", "report": "main",
}  # fmt: skip


async def start_session(live: LiveRoom) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        tap = await client.post("/api/v1/door/taps", json={"uid": DEMO_MEMBERS[0][1]}, headers=live.headers("reader"))
        assert tap.json()["granted"] is True


async def open_page(browser: Any, live: LiveRoom, name: str, viewport: dict[str, int], language: str = "nl") -> Any:
    context = await browser.new_context(viewport=viewport, timezone_id=BROWSER_ZONE, locale="nl-NL")
    page = await context.new_page()
    await page.goto(f"{live.url}/{name}?lang={language}#token={live.tokens[ROLE[name]]}")
    await page.locator(READY[name]).first.wait_for(timeout=UI_TIMEOUT_MS)
    return page


def room_time(live: LiveRoom, iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(live.settings.room.tz).strftime("%H:%M")


async def test_every_page_in_words_and_in_the_room_zone_at_tablet_and_projector_size(
    live_room: LiveRoom, browser: Any
) -> None:
    live = live_room
    await start_session(live)
    booking = live.room.screen.get("booking")["current"]
    expected = f"{room_time(live, booking['start'])}\u2013{room_time(live, booking['end'])}"  # an en dash, as the pages write it
    for name in PAGES:
        for label, viewport in (("projector", KIOSK), ("landscape", TABLET_LANDSCAPE), ("portrait", TABLET_PORTRAIT)):
            if name == "kiosk" and label != "projector":
                continue
            page = await open_page(browser, live, name, viewport)
            await assert_words_only(page, f"/{name} at {label}")
            await shot(page, f"{name}-{viewport['width']}x{viewport['height']}")
            if name == "kiosk":
                # the projector's clock is the room's own time in the room's zone, whatever the browser's clock says
                instant = live.room.clock.now()
                shown = await page.locator("[data-testid=clock]").inner_text()
                wanted = {(instant + timedelta(seconds=lag)).astimezone(live.settings.room.tz).strftime("%H:%M")
                          for lag in (-60, 0, 60)}  # fmt: skip
                assert shown in wanted, f"the kiosk clock shows {shown}, the room's time is {wanted}"
            if name in ("tablet", "admin"):
                # the booking's times are the room's wall clock, not the browser's (Auckland)
                await page.get_by_text(expected).first.wait_for(timeout=UI_TIMEOUT_MS)
            await page.context.close()
    for name in PAGES:
        page = await open_page(browser, live, name, TABLET_LANDSCAPE, "en")
        await assert_words_only(page, f"/{name} in English", "en")
        await shot(page, f"{name}-1280x800-en")
        await page.context.close()


async def test_tablet_keeps_next_in_view_with_the_kader_beside_and_big_targets(live_room: LiveRoom, browser: Any) -> None:
    live = live_room
    await start_session(live)
    for label, viewport in (("landscape", TABLET_LANDSCAPE), ("portrait", TABLET_PORTRAIT)):
        page = await open_page(browser, live, "tablet", viewport)
        await page.locator("[data-testid=note-q10]").wait_for(timeout=UI_TIMEOUT_MS)
        assert await small_targets(page) == [], f"{label}: touch targets under 48 px"
        # scroll the kader list to its very end: the session controls stay where they are
        await page.locator("[data-testid=note-q10]").scroll_into_view_if_needed()
        assert await in_view(page, "[data-testid=note-q10]")
        assert await in_view(page, "[data-testid=next]"), f"{label}: Next scrolled out of view"
        assert await in_view(page, "[data-testid=tablet-timer]"), f"{label}: the timer scrolled out of view"
        controls = await page.locator("[data-testid=controls-pane]").bounding_box()
        content = await page.locator("[data-testid=content-pane]").bounding_box()
        if label == "landscape":
            assert content["x"] >= controls["x"] + controls["width"] - 1, "the kader list is not beside the controls"
            assert abs(content["y"] - controls["y"]) < 2
        else:
            assert content["y"] >= controls["y"] + controls["height"] - 1, "the kader list is not below the controls"
        await shot(page, f"tablet-{viewport['width']}x{viewport['height']}-kader-scrolled")
        # the next step's controls (clip) are in view too, and big enough
        await page.locator("[data-testid=next]").click()
        await page.locator("[data-testid=tablet-step]", has_text="2/8").wait_for(timeout=UI_TIMEOUT_MS)
        assert await in_view(page, "[data-testid=play], [data-testid=pause_clip]")
        assert await small_targets(page) == []
        await page.locator("[data-testid=previous]").click()
        await page.locator("[data-testid=tablet-step]", has_text="1/8").wait_for(timeout=UI_TIMEOUT_MS)
        await page.context.close()


async def test_admin_week_view_books_a_free_slot_once_and_as_a_series(live_room: LiveRoom, browser: Any) -> None:
    live = live_room
    page = await open_page(browser, live, "admin", TABLET_LANDSCAPE)
    repo = BookingRepository(live.room.db)
    tz = live.settings.room.tz
    always = (datetime(2000, 1, 1, tzinfo=tz), datetime(2100, 1, 1, tzinfo=tz))
    before = {b.id for b in repo.overlapping(*always)}
    title = page.locator("[data-testid=week-title]")
    await page.locator("[data-testid=week-grid] button.slot.free").first.wait_for(timeout=UI_TIMEOUT_MS)
    this_week = await title.inner_text()
    await page.locator("[data-testid=week-next]").click()
    await page.wait_for_function(
        "(before) => { const el = document.querySelector('[data-testid=week-title]'); return el && el.textContent && el.textContent !== before; }",
        arg=this_week, timeout=UI_TIMEOUT_MS,
    )  # fmt: skip
    slot = page.locator("[data-testid=week-grid] button.slot.free").filter(has=None)
    target = page.locator("[data-testid^='slot-'][data-testid$='-10:00']").nth(1)  # the week's Tuesday, 10:00
    testid = await target.get_attribute("data-testid")
    assert testid and await slot.count() > 0
    date = testid.split("-", 1)[1].rsplit("-", 1)[0]
    await target.click()
    await page.locator("[data-testid=week-form-when]", has_text="10:00").wait_for(timeout=UI_TIMEOUT_MS)
    await page.locator("[data-testid=week-book]").click()
    await page.locator(f"[data-testid='slot-{date}-10:00']").wait_for(state="detached", timeout=UI_TIMEOUT_MS)
    made = [b for b in repo.overlapping(datetime.fromisoformat(f"{date}T00:00").replace(tzinfo=live.settings.room.tz),
                                        datetime.fromisoformat(f"{date}T23:59").replace(tzinfo=live.settings.room.tz))
            if b.id not in before]  # fmt: skip
    assert len(made) == 1 and made[0].start.astimezone(live.settings.room.tz).strftime("%H:%M") == "10:00"
    assert (made[0].end - made[0].start).total_seconds() == 3600

    # the same weekday at 14:00, every week for three weeks: a series
    await page.locator(f"[data-testid='slot-{date}-14:00']").click()
    await page.locator("[data-testid=week-repeat]").check()
    await page.locator("[data-testid=week-weeks]").fill("3")
    await page.locator("[data-testid=week-book]").click()
    await page.locator(f"[data-testid='slot-{date}-14:00']").wait_for(state="detached", timeout=UI_TIMEOUT_MS)
    series = [b for b in repo.overlapping(datetime.fromisoformat(f"{date}T00:00").replace(tzinfo=live.settings.room.tz),
                                          always[1])
              if b.id not in before and b.kind == "series"]  # fmt: skip
    assert len(series) == 3 and {b.start.astimezone(live.settings.room.tz).strftime("%H:%M") for b in series} == {"14:00"}
    await page.locator("[data-testid=week-booking]").nth(1).wait_for(timeout=UI_TIMEOUT_MS)  # both show in the week
    await assert_words_only(page, "/admin week view")
    await shot(page, "admin-1280x800-week")
    await page.context.close()


async def test_admin_names_the_scenes_a_videoframe_needs_and_the_room_lacks(
    live_room: LiveRoom, browser: Any, tmp_path: Path
) -> None:
    live = live_room
    manifest = base_manifest(id="spotlicht")
    manifest["steps"][1]["scene"] = "spotlight"
    live.room.service(SessionService).library.install(write_package(tmp_path / "pkg", manifest))
    live.room.service(SessionService).library.default()
    page = await open_page(browser, live, "admin", TABLET_LANDSCAPE)
    missing = page.locator("[data-testid=missing-scenes-spotlicht]")
    await missing.wait_for(timeout=UI_TIMEOUT_MS)
    assert "spotlight" in await missing.inner_text() and "focus" not in await missing.inner_text()
    await page.locator("[data-testid=scenes-ok-werksituatie-verbeteren]").wait_for(timeout=UI_TIMEOUT_MS)
    await missing.scroll_into_view_if_needed()
    await shot(page, "admin-1280x800-missing-scenes")
    await page.context.close()


async def test_facilities_keeps_a_long_alert_readable_and_names_the_reader_that_is_offline(
    live_room: LiveRoom, browser: Any
) -> None:
    # the room has no speech model installed: its alert carries a long sentence saying how to fix it
    await live_room.room.dispatch(ReaderStatusChanged(source="keypad", reader="keypad", online=False, detail="unplugged"))
    page = await open_page(browser, live_room, "facilities", TABLET_PORTRAIT)
    alarms = page.locator("[data-testid=room-alarms]")
    await alarms.wait_for(timeout=UI_TIMEOUT_MS)
    await page.get_by_text("Lezer offline (keypad)", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    assert (await alarms.inner_text()).lower().count("offline") == 1, "the alarm and its alert are listed once"
    card = await page.locator("[data-testid=room-card]").first.bounding_box()
    box = await alarms.bounding_box()
    assert len(await alarms.inner_text()) > 60
    assert box["width"] >= 0.85 * card["width"], "the alert is squeezed into a narrow column"
    await assert_words_only(page, "/facilities")
    await shot(page, "facilities-800x1280-long-alert")
    await page.context.close()
