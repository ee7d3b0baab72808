"""Live captions with real faster-whisper: words on screen while people speak, and bad input.

Speech from espeak-ng goes through the simulated microphone into the whole speech pipeline (spool, chunks,
worker process, live captions). Every change of the screen part ``captions`` is recorded.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from roomctl.config import Settings
from roomctl.speech.events import RecordingConsent, StartRecording
from roomctl.speech.models import model_dir
from roomctl.speech.sources import SAMPLE_RATE
from roomctl.speech.worker import caption_words, windowed_model
from tests.conftest import wait_for
from tests.speech_helpers import (
    ENGLISH_TEXT,
    ENGLISH_VOICE,
    installed_model,
    normalise,
    require,
    silence_file,
    speech_file,
    wer,
)
from tests.test_speech_pipeline import SESSION_STEP, Harness

pytestmark = pytest.mark.slow

CAPTION_KEYS = {"recording_id", "live", "lines", "agreed", "tentative", "behind", "lag_seconds"}
"""Everything the captions part may hold: text and timing, never a person."""
MORE_ENGLISH = [
    "Then we looked at the rota for the weekend and the holidays in the summer.",
    "Nobody wants to work three late shifts in a row, so we will share them fairly.",
]


@pytest.fixture(scope="module")
def english_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_file(ENGLISH_TEXT + MORE_ENGLISH, tmp_path_factory.mktemp("audio") / "en.wav", ENGLISH_VOICE)


class Captions:
    """Every change of the screen part ``captions`` while a harness runs."""

    def __init__(self, h: Harness) -> None:
        self.parts: list[dict[str, Any] | None] = []
        h.room.screen.subscribe(self._on_change)

    def _on_change(self, snapshot: dict[str, Any]) -> None:
        part = snapshot.get("captions")
        if not self.parts or part != self.parts[-1]:
            self.parts.append(part)

    def shown(self) -> list[dict[str, Any]]:
        return [p for p in self.parts if p]

    def live_words(self) -> list[str]:
        return [f"{p.get('agreed', '')} {p.get('tentative', '')}".strip() for p in self.shown()]


@pytest.fixture
def captioned(make_settings: Callable[..., Settings]) -> Callable[..., Any]:
    @asynccontextmanager
    async def make(wav: list[Path], speed: float = 1.5, **speech: Any) -> AsyncIterator[tuple[Harness, Captions]]:
        settings = make_settings(
            speech={"model": "tiny.en", "language": "en", "chunk_seconds": 10, "live_captions": True, **speech}
        )
        installed_model("tiny.en", model_dir(settings))
        h = Harness(settings, wav, speed=speed)
        log = Captions(h)
        await h.room.start()
        await h.room.dispatch(SESSION_STEP)
        try:
            yield h, log
        finally:
            await h.room.stop()

    return make


def test_a_caption_pass_encodes_one_window_and_times_its_words_within_the_audio(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(speech={"model": "tiny.en", "language": "en"})
    model = windowed_model(str(installed_model("tiny.en", model_dir(settings))), cpu_threads=1, parallel=1)
    windows: list[int] = []

    class Counting:
        """CTranslate2's model, counting the frames of every encoder run."""

        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def encode(self, features: Any, **options: Any) -> Any:
            windows.append(features.shape[-1])
            return self.real.encode(features, **options)

    model.model = Counting(model.model)
    wav = speech_file(ENGLISH_TEXT[:1], tmp_path / "one.wav", ENGLISH_VOICE)
    spoken, _ = soundfile.read(wav, dtype="int16")
    samples = np.concatenate([spoken, np.zeros(SAMPLE_RATE, dtype=np.int16)])  # a pause after the sentence
    heard = caption_words(model, samples, "", "en")
    assert len(windows) == 1, "one encoder window per pass: the rest after the last word is not decoded again"
    assert windows[0] < 3000, "the encoder window is as long as the audio, not Whisper's 30 s"
    text = normalise(" ".join(word for _, _, word in heard))
    assert "group" in text and "monday" in text, text
    seconds = len(samples) / SAMPLE_RATE
    assert all(0 <= start <= end <= seconds for start, end, _ in heard)
    assert [start for start, _, _ in heard] == sorted(start for start, _, _ in heard)


async def start(h: Harness) -> None:
    await h.room.dispatch(RecordingConsent(source="test"))
    await h.room.dispatch(StartRecording(source="test"))


async def finish(h: Harness) -> None:
    await wait_for(lambda: h.sources and h.sources[-1].finished, timeout=120)
    await h.service.stop_recording()
    await wait_for(lambda: h.ready, timeout=90)
    await wait_for(lambda: h.room.screen.get("captions") is None, timeout=10)


async def test_words_show_while_spoken_and_the_captions_end_as_the_final_transcript(
    captioned: Any, english_wav: Path
) -> None:
    async with captioned([english_wav]) as (h, log):
        await start(h)
        await finish(h)
        result = h.transcript()
        tables = {r[0] for r in h.room.db.execute("select name from sqlite_master where type = 'table'").fetchall()}
    shown = log.shown()
    first_final = next(i for i, p in enumerate(shown) if p["lines"])
    early = [w for w in log.live_words()[:first_final] if w]
    assert early, "words reached the screen before the first chunk of the final transcript was done"
    assert any(word in " ".join(early).lower() for word in ("group", "monday", "morning", "schedule"))
    assert all(set(p) <= CAPTION_KEYS for p in shown), "captions hold text only"
    assert all(set(line) == {"start", "text"} for p in shown for line in p["lines"])
    seen: dict[float, str] = {}
    for p in shown:
        for line in p["lines"]:
            assert seen.setdefault(line["start"], line["text"]) == line["text"], "confirmed text never changes"
    starts = sorted(seen)
    assert [seen[s] for s in starts] == [s["text"] for s in result["segments"]], "lines came in transcript order"
    last = shown[-1]
    assert [line["text"] for line in last["lines"]] == [s["text"] for s in result["segments"][-len(last["lines"]) :]]
    assert not last.get("tentative") and not last.get("agreed"), "at the end only the final text is shown"
    assert log.parts[-1] is None, "captions are cleared once the transcript is complete"
    assert not any("caption" in t for t in tables), "captions are never stored"
    assert wer(" ".join(ENGLISH_TEXT + MORE_ENGLISH), result["text"]) < 0.25, result["text"]


async def test_a_worker_killed_mid_sentence_loses_no_words_and_captions_resume(
    captioned: Any, english_wav: Path
) -> None:
    async with captioned([english_wav]) as (h, log):
        await start(h)
        worker = await wait_for(lambda: h.service.transcriber.worker, timeout=30)
        await wait_for(lambda: worker.captioning and h.service.live and h.service.live.received > 8 * SAMPLE_RATE,
                       timeout=60, interval=0.005)  # fmt: skip
        os.kill(worker.pid, signal.SIGKILL)
        killed_at = len(log.parts)
        await finish(h)
        result = h.transcript()
    assert worker.restarts >= 1 or h.service.transcriber.failures == 0
    after_kill = [w for w in log.live_words()[killed_at:] if w]
    assert after_kill, "captions came back after the worker restarted"
    assert result["complete"] and result["failed_chunks"] == 0
    assert wer(" ".join(ENGLISH_TEXT + MORE_ENGLISH), result["text"]) < 0.3, result["text"]


async def test_a_starved_worker_makes_the_captions_say_they_are_behind_then_catch_up(
    captioned: Any, english_wav: Path
) -> None:
    async with captioned([english_wav], speed=1.0) as (h, log):
        await start(h)
        worker = await wait_for(lambda: h.service.transcriber.worker, timeout=30)
        await wait_for(lambda: worker.ready and h.service.live and h.service.live.passes >= 2, timeout=60)
        os.kill(worker.pid, signal.SIGSTOP)  # no CPU at all for the worker, as under a long busy spell
        try:
            await wait_for(lambda: (h.room.screen.get("captions") or {}).get("behind"), timeout=30)
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        await wait_for(lambda: not (h.room.screen.get("captions") or {}).get("behind", True), timeout=60)
        await finish(h)
        result = h.transcript()
    behind = [i for i, p in enumerate(log.shown()) if p.get("behind")]
    assert behind and len(log.shown()) > behind[-1] + 1, "behind was shown, then cleared"
    assert result["complete"] and result["failed_chunks"] == 0
    assert wer(" ".join(ENGLISH_TEXT + MORE_ENGLISH), result["text"]) < 0.3, result["text"]


async def test_minutes_of_silence_show_no_words(captioned: Any, tmp_path: Path) -> None:
    async with captioned([silence_file(tmp_path / "quiet.wav", 150)], speed=10.0) as (h, log):
        await start(h)
        await finish(h)
        result = h.transcript()
    assert log.shown(), "the captions part was there while recording"
    assert not any(log.live_words()), "no words made up from silence"
    assert result["segments"] == [] and result["complete"]


def sox(*args: str) -> None:
    subprocess.run([require("sox"), *args], check=True, capture_output=True)


async def test_music_and_two_voices_at_once_keep_the_pipeline_going(captioned: Any, tmp_path: Path) -> None:
    one = speech_file(ENGLISH_TEXT[:2], tmp_path / "one.wav", ENGLISH_VOICE)
    two = speech_file(ENGLISH_TEXT[2:], tmp_path / "two.wav", ["-v", "en+f3", "-s", "150"])
    both = tmp_path / "both.wav"
    sox("-m", str(one), str(two), str(both))
    music = tmp_path / "music.wav"
    sox("-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(music), "synth", "12", "pluck", "C3", "pluck", "E3",
        "pluck", "G3", "remix", "-", "tremolo", "3", "60", "gain", "-6")  # fmt: skip
    assert soundfile.info(str(music)).duration == pytest.approx(12, abs=0.1)
    assert np.abs(soundfile.read(str(music))[0]).max() > 0.05, "the music is audible"
    async with captioned([music, both], speed=1.5) as (h, log):
        await start(h)
        await finish(h)
        result = h.transcript()
        state = h.room.screen.get("recording")["state"]
    heard = set(normalise(result["text"]).split())
    said = {w for w in normalise(" ".join(ENGLISH_TEXT)).split() if len(w) > 3}
    assert result["complete"] and result["failed_chunks"] == 0 and state == "idle"
    assert len(heard & said) >= 3, f"words of the two voices are in the transcript: {result['text']}"
    assert any(log.live_words()), "captions showed words while the two spoke"
