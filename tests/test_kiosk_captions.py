"""Live captions on the projector page in system Chromium while a WAV plays through the simulated microphone.

The room is served by real uvicorn; a member taps in (the session starts), the facilitator asks consent and
starts recording over the API, the speech pipeline (real faster-whisper) captions what the simulated microphone
plays. The page's caption text is recorded on every DOM change: it grows in order and ends as the final
transcript. Saves a 1920x1080 screenshot with live captions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile

from roomctl.demo import DEMO_MEMBERS
from roomctl.devices.broker import free_port
from roomctl.speech.models import model_dir
from roomctl.speech.service import SpeechService
from tests.conftest import ARTIFACTS, serving, wait_for
from tests.speech_helpers import ENGLISH_TEXT, ENGLISH_VOICE, installed_model, normalise, speech_file

pytestmark = pytest.mark.slow

KIOSK_VIEWPORT = {"width": 1920, "height": 1080}
UI_TIMEOUT_MS = 60_000
RECORD_CAPTIONS = """() => {
  window.captionLog = [];
  const record = () => {
    const box = document.querySelector("[data-testid=captions]");
    const entry = box ? {
      finals: [...box.querySelectorAll(".final")].map((e) => e.textContent),
      live: box.querySelectorAll(".agreed, .tentative").length > 0,
      text: box.querySelector("[data-testid=caption-text]").textContent,
    } : null;
    const last = window.captionLog[window.captionLog.length - 1];
    if (JSON.stringify(entry) !== JSON.stringify(last)) window.captionLog.push(entry);
  };
  new MutationObserver(record).observe(document.getElementById("screen"), { childList: true, subtree: true });
}"""


async def test_kiosk_captions_grow_in_order_and_end_as_the_final_transcript(
    make_settings: Any, browser: Any, tmp_path: Path
) -> None:
    wav = speech_file(ENGLISH_TEXT, tmp_path / "brainstorm.wav", ENGLISH_VOICE)
    settings = make_settings(
        server={"port": free_port()},
        speech={"model": "tiny.en", "language": "en", "simulated_files": [str(wav)], "chunk_seconds": 10,
                "live_captions": True},
    )  # fmt: skip
    installed_model("tiny.en", model_dir(settings))
    page = await browser.new_page(viewport=KIOSK_VIEWPORT)
    async with serving(settings) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        await page.goto(f"{live.url}/kiosk#token={live.tokens['kiosk']}")
        await page.wait_for_selector("[data-testid=tap-hint]", timeout=UI_TIMEOUT_MS)
        tap = await http.post("/api/v1/door/taps", json={"uid": DEMO_MEMBERS[0][1]}, headers=live.headers("reader"))
        assert tap.json()["granted"] is True
        await page.locator("[data-testid=step-title]").wait_for(timeout=UI_TIMEOUT_MS)
        await page.evaluate(RECORD_CAPTIONS)
        facilitator = live.headers("facilitator")
        consent = await http.post("/api/v1/session/recording/consent", headers=facilitator, json={})
        assert consent.status_code == 200, consent.text
        started = await http.post("/api/v1/session/recording/start", headers=facilitator)
        assert started.json()["state"] == "recording", started.text
        recording_id = started.json()["recording_id"]
        await page.locator("[data-testid=captions-tentative], [data-testid=captions-agreed]").first.wait_for(
            timeout=UI_TIMEOUT_MS
        )
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "kiosk-captions.png"))
        speech = live.room.service(SpeechService)
        played = soundfile.info(str(wav)).duration + 1
        await wait_for(lambda: speech._capture is not None and speech._capture.seconds > played, timeout=90)
        await http.post("/api/v1/session/recording/stop", headers=facilitator)
        await wait_for(lambda: recording_id in speech.transcripts_ready, timeout=60)
        session = live.room.db.execute(
            "select session_id from speech_recordings where id = ?", [recording_id]
        ).fetchone()[0]
        body = (await http.get(f"/api/v1/sessions/{session}/transcript", headers=facilitator)).json()
        await page.locator("[data-testid=captions]").wait_for(state="detached", timeout=UI_TIMEOUT_MS)
        log: list[dict[str, Any] | None] = await page.evaluate("window.captionLog")
        await page.close()
    assert body["complete"], body
    segments = [s["text"] for s in body["segments"]]
    shown = [entry for entry in log if entry]
    first_shown = next(i for i, e in enumerate(log) if e)
    assert None not in log[first_shown:-1], "the captions never blink out before the transcript is complete"
    assert len(shown) >= 5, "the captions changed many times while the clip played"
    first_final = next(i for i, e in enumerate(shown) if e["finals"])
    assert any(e["live"] for e in shown[:first_final]), "live words showed before the first final line"
    newest = [segments.index(e["finals"][-1]) for e in shown if e["finals"]]
    assert newest == sorted(newest), "final lines come in the transcript's order"
    assert all(
        e["finals"] == segments[segments.index(e["finals"][0]) :][: len(e["finals"])] for e in shown if e["finals"]
    )
    last = shown[-1]
    assert not last["live"], "at the end only final text is shown"
    assert normalise(last["text"]) == normalise(" ".join(segments[-len(last["finals"]) :]))
    assert log[-1] is None, "captions are cleared once the transcript is complete"
