"""The speech self-test of ``roomctl doctor``: will live captions keep up with the configured model on this machine?

A 10-second clip (Dutch from espeak-ng when it is installed, else a voice-like synthetic sound) goes through the
real worker process as the room would use it: caption passes over growing windows, and the clip as one chunk of
the final transcript, both at the same time when the worker runs two requests at once. From the time a caption
pass takes, the expected caption latency is about half the caption interval plus one pass (median) and the whole
interval plus one pass (p90); captions keep up when a pass takes less than the interval and the chunk is done
faster than it was spoken.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from roomctl.config import Settings
from roomctl.speech import models, spool
from roomctl.speech.sources import SAMPLE_RATE, load_wav
from roomctl.speech.tuning import caption_plan
from roomctl.speech.worker import WorkerConfig, WorkerProcess

log = logging.getLogger(__name__)

CLIP_SECONDS = 10.0
SELFTEST_TEXT = (
    "We hebben vandaag gesproken over de overdracht aan het einde van de dienst. Iedereen vindt dat het overleg "
    "te lang duurt. Volgende week proberen wij een korte samenvatting."
)
ESPEAK_TIMEOUT_SECONDS = 60
TARGET_P90_SECONDS = 3.0
"""Captions should show new words within this (p90) to count as live."""


@dataclass(frozen=True)
class SelfTest:
    """What the self-test measured.

    Attributes:
        enabled: Live captions are on with the current settings.
        keeps_up: They will keep up here.
        pass_seconds: Mean time of one caption pass.
        chunk_rtf: Time to transcribe the clip as a chunk of the final transcript, per second of audio.
        median_seconds: Expected caption latency, median.
        p90_seconds: Expected caption latency, p90.
        speech: True when the clip was speech (espeak-ng), False for the synthetic sound.
        summary: One sentence for the doctor.
    """

    enabled: bool
    keeps_up: bool
    pass_seconds: float
    chunk_rtf: float
    median_seconds: float
    p90_seconds: float
    speech: bool
    summary: str


def selftest_clip(directory: Path) -> tuple[np.ndarray, bool]:
    """Ten seconds of Dutch speech from espeak-ng, or a voice-like sound when espeak-ng is missing."""
    espeak = shutil.which("espeak-ng")
    if espeak is not None:
        raw = directory / "selftest.wav"
        subprocess.run([espeak, "-v", "nl+m1", "-s", "140", "-g", "4", "-w", str(raw), SELFTEST_TEXT],
                       check=True, timeout=ESPEAK_TIMEOUT_SECONDS, capture_output=True)  # fmt: skip
        audio = load_wav(raw)
        clip = np.zeros(int(CLIP_SECONDS * SAMPLE_RATE), dtype=np.int16)
        clip[: min(len(audio), len(clip))] = audio[: len(clip)]
        return clip, True
    t = np.arange(int(CLIP_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    voice = 6000 * np.sin(2 * np.pi * 150 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    return voice.astype(np.int16), False


async def _measure(settings: Settings, clip: np.ndarray, chunk: Path) -> tuple[float, float]:
    plan = caption_plan(settings.speech)
    speech = settings.speech
    path = models.resolve_model(settings)
    worker = WorkerProcess(
        WorkerConfig(str(path), speech.language, speech.beam_size, speech.threads, parallel=plan.parallel)
    )
    await worker.start()
    try:
        step = int(plan.interval_seconds * SAMPLE_RATE)
        window = 3 * step

        async def captions() -> list[float]:
            took = []
            for end in range(2 * step, len(clip) + 1, step):
                _, seconds = await worker.caption(clip[max(0, end - window) : end], "")
                took.append(seconds)
            return took

        final = worker.transcribe("selftest", chunk, "")
        passes, (_, chunk_seconds) = await asyncio.gather(captions(), final)
    finally:
        await worker.stop()
    return sum(passes) / len(passes), chunk_seconds / CLIP_SECONDS


def run_selftest(settings: Settings) -> SelfTest:
    """Run the self-test through the configured model (takes 10 to 60 s; raises when the model is unusable).

    Raises:
        AdapterError: The model is missing or cannot be loaded.
    """
    plan = caption_plan(settings.speech)
    with tempfile.TemporaryDirectory(prefix="roomctl-selftest-") as tmp:
        clip, is_speech = selftest_clip(Path(tmp))
        chunk = Path(tmp) / "chunk.wav"
        spool.write_wav(chunk, clip)
        pass_seconds, chunk_rtf = asyncio.run(_measure(settings, clip, chunk))
    interval = plan.interval_seconds
    median, p90 = interval / 2 + pass_seconds, interval + pass_seconds
    keeps_up = pass_seconds < interval and chunk_rtf < 1.0 and p90 <= TARGET_P90_SECONDS
    measured = (
        f"a caption pass takes {pass_seconds:.2f} s per {interval:g} s of speech, the final transcript "
        f"{chunk_rtf:.2f} s per second of audio ({'speech' if is_speech else 'synthetic sound: install espeak-ng'})"
    )
    if keeps_up:
        verdict = f"live captions keep up here: new words show about {median:.1f} s (p90 {p90:.1f} s) after speech"
    else:
        verdict = (
            f"live captions would fall behind here (expected p90 {p90:.1f} s); use a smaller model, more cores, "
            "or set [speech] live_captions = false (the final transcript still comes)"
        )
    state = "on" if plan.enabled else "off"
    summary = f"{verdict}; {measured}; captions are {state}: {plan.reason}"
    return SelfTest(plan.enabled, keeps_up, pass_seconds, chunk_rtf, median, p90, is_speech, summary)
