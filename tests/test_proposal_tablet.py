"""End to end in system Chromium: the tablet shows what will leave the room, the group strikes a passage, sends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from roomctl.config import Settings
from roomctl.demo import DEMO_FACILITATOR, DEMO_MEMBERS
from roomctl.devices.broker import free_port
from roomctl.session.service import SessionService
from tests.conftest import ARTIFACTS, serving, wait_for
from tests.fake_anthropic import FakeAnthropic, Reply
from tests.proposal_helpers import GOOD_PROPOSAL, sent_text

KEY = "sk-test-tablet"
TABLET = {"width": 800, "height": 1280}
UI_TIMEOUT_MS = 20_000
SECRET = "Dit blijft binnen: Daan heeft thuis problemen."
TRANSCRIPT = (
    f"Anna de Vries zegt dat de overdracht rommelig is. {SECRET} Bram wil een vaste lijst; Eva Smit "
    "begeleidt de proef. Teamleider Karin Wouters is bereikbaar op 06-12345678."
)


async def test_the_group_sees_strikes_and_sends_what_leaves(
    make_settings: Callable[..., Settings], browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("ROOMCTL_ANTHROPIC_API_KEY", KEY)
    with FakeAnthropic(valid_keys={KEY}, default=Reply(tool_input=GOOD_PROPOSAL)) as fake:
        settings = make_settings(server={"port": free_port()}, llm={"base_url": fake.base_url})
        async with serving(settings) as live:
            async with httpx.AsyncClient(base_url=live.url) as client:
                tap = await client.post("/api/v1/door/taps", json={"uid": DEMO_MEMBERS[0][1]},
                                        headers=live.headers("reader"))
                assert tap.json()["granted"] is True
                await wait_for(lambda: live.room.service(SessionService).session_id is not None, timeout=10)
                session = (await client.get("/api/v1/session", headers=live.headers("facilitator"))).json()
                moved = await client.post("/api/v1/session/commands", json={"command": "next", "args": {}},
                                          headers=live.headers("facilitator"))
                assert moved.status_code == 200, moved.text
                asked = await client.post(f"/api/v1/sessions/{session['id']}/proposals",
                                          json={"transcript": TRANSCRIPT}, headers=live.headers("facilitator"))
                assert asked.status_code == 202 and asked.json()["state"] == "preview", asked.text
            tablet = await browser.new_page(viewport=TABLET)
            await tablet.goto(f"{live.url}/tablet#token={live.tokens['facilitator']}")
            panel = tablet.locator("[data-testid=preview]")
            await panel.locator("button.passage").first.wait_for(timeout=UI_TIMEOUT_MS)
            shown = await panel.inner_text()
            for name in ("Anna", "Vries", "Bram", "Eva", "Smit", "Karin", "Wouters", "06-12345678",
                         DEMO_MEMBERS[3][0], DEMO_FACILITATOR[0]):
                assert name not in shown, name
            marks = await panel.locator("mark.placeholder").all_inner_texts()
            assert "[persoon 1]" in marks and "[telefoonnummer 1]" in marks
            assert fake.requests == [], "nothing leaves before the group sends it"

            passage = panel.locator("button.passage", has_text="Dit blijft binnen")
            await passage.click()
            await tablet.locator("button.passage.struck").wait_for(timeout=UI_TIMEOUT_MS)
            await tablet.locator("[data-testid=preview-exact] summary").click()
            exact = tablet.locator("[data-testid=preview-text]")
            await exact.filter(has_text="[weggelaten door de groep]").wait_for(timeout=UI_TIMEOUT_MS)
            shown_exact = await exact.inner_text()
            assert "Dit blijft binnen" not in shown_exact
            ARTIFACTS.mkdir(exist_ok=True)
            await tablet.screenshot(path=str(ARTIFACTS / "tablet-proposal-preview.png"), full_page=True)

            await tablet.locator("[data-testid=preview-rules] summary").click()
            rules = await tablet.locator("[data-testid=preview-rules] pre").inner_text()
            await tablet.locator("[data-testid=preview-send]").click()
            await wait_for(lambda: len(fake.message_requests()) == 1, timeout=15)
            body = fake.message_requests()[0].body
            content = body["messages"][0]["content"]
            assert "Dit blijft binnen" not in sent_text(body) and "[weggelaten door de groep]" in content
            assert content == shown_exact  # the tablet showed exactly what left
            assert body["system"] == rules

            # the group looks back at what was sent
            await tablet.locator("[data-testid=sent-show]").click(timeout=UI_TIMEOUT_MS)
            kept = tablet.locator("[data-testid=sent-text]")
            await kept.wait_for(timeout=UI_TIMEOUT_MS)
            assert await kept.inner_text() == content
            await tablet.close()
            live.room.service(SessionService).pairing.rotate()
        fake.assert_no_errors()
