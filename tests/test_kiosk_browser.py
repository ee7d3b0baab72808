"""The projector's browser launcher keeps the kiosk token off Chromium's command line, and the page still works."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from roomctl.ops.kiosk_browser import browser_argv, write_start_page
from tests.conftest import LiveRoom


def test_the_token_is_in_a_private_start_page_not_in_argv(tmp_path: Path) -> None:
    token = "rct_secret-kiosk-token"
    page = write_start_page(tmp_path, "http://127.0.0.1:8080/kiosk", token)
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert f"http://127.0.0.1:8080/kiosk#token={token}" in page.read_text(encoding="utf-8")
    argv = browser_argv(tmp_path, page)
    assert argv[0] == "/usr/bin/chromium" and argv[-1] == page.as_uri()
    assert token not in " ".join(argv)


async def test_chromium_reaches_the_kiosk_page_through_the_start_page(
    live_room: LiveRoom, browser: Any, tmp_path: Path
) -> None:
    page_file = write_start_page(tmp_path, f"{live_room.url}/kiosk", live_room.tokens["kiosk"])
    page = await browser.new_page()
    await page.goto(page_file.as_uri())
    await page.wait_for_url(f"{live_room.url}/kiosk*")
    await page.wait_for_selector("[data-testid=pairing-pin]", timeout=15_000)
    shown = (await page.locator("[data-testid=pairing-pin]").inner_text()).replace(" ", "")
    assert shown == live_room.room.screen.get("pairing")["pin"], "the kiosk page got its token and the feed"
