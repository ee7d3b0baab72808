"""Helpers for the speech tests: real models through the installer, espeak-ng speech, word error rate."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile

from roomctl.speech import models
from roomctl.speech.sources import SAMPLE_RATE

ENGLISH_VOICE = ["-v", "en"]
DUTCH_VOICE = ["-v", "nl+m1", "-s", "140", "-g", "4"]

ENGLISH_TEXT = [
    "The group met on Monday morning to talk about the new schedule for the nurses.",
    "Everyone agreed that the handover at the end of the shift takes too much time.",
    "We will try a short written summary for every patient before the next meeting.",
    "The team leader will ask the other departments how they solve this problem.",
]
DUTCH_TEXT = [
    "Wij hebben vandaag gesproken over de overdracht aan het einde van de dienst.",
    "Iedereen vindt dat het overleg te lang duurt en dat er te veel wordt herhaald.",
    "Volgende week proberen wij een korte samenvatting op papier voor elke cliënt.",
]


def require(tool: str) -> str:
    """The path of a command-line tool the tests need; fail clearly when it is missing."""
    found = shutil.which(tool)
    assert found, f"{tool} is not installed; install it with apt-get install {tool} (listed in .ci/apt-packages)"
    return found


def synthesise(text: str, path: Path, voice: list[str]) -> Path:
    """Speak ``text`` with espeak-ng into a 16 kHz mono WAV."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run([require("espeak-ng"), *voice, "-w", str(raw), text], check=True, capture_output=True)
    data, rate = soundfile.read(str(raw), dtype="float32")
    target = np.arange(int(len(data) / rate * SAMPLE_RATE)) / SAMPLE_RATE
    resampled = np.interp(target, np.arange(len(data)) / rate, data).astype(np.float32)
    soundfile.write(str(path), resampled, SAMPLE_RATE, subtype="PCM_16")
    raw.unlink()
    return path


def speech_file(sentences: list[str], path: Path, voice: list[str], pause: float = 0.6) -> Path:
    """Sentences spoken one after another with a short pause between them."""
    return timed_speech_file(sentences, path, voice, pause)[0]


def timed_speech_file(
    sentences: list[str], path: Path, voice: list[str], pause: float = 0.6
) -> tuple[Path, list[tuple[float, float, str]]]:
    """Like :func:`speech_file`, and when each word was spoken: ``(start, end, word)`` in seconds.

    espeak-ng speaks at an even pace, so a word's times are placed by its characters within the sentence's
    sounding part (leading and trailing silence of each piece excluded).
    """
    parts: list[np.ndarray] = []
    words: list[tuple[float, float, str]] = []
    gap = np.zeros(int(pause * SAMPLE_RATE), dtype=np.float32)
    at = 0
    for i, sentence in enumerate(sentences):
        piece = synthesise(sentence, path.with_name(f"{path.stem}-{i}.wav"), voice)
        audio = soundfile.read(str(piece), dtype="float32")[0]
        piece.unlink()
        loud = np.flatnonzero(np.abs(audio) > 0.01)
        first, last = (int(loud[0]), int(loud[-1])) if len(loud) else (0, len(audio))
        spoken = sentence.split()
        total = sum(len(w) + 1 for w in spoken)
        done = 0
        for word in spoken:
            begin = first + (last - first) * done / total
            done += len(word) + 1
            end = first + (last - first) * done / total
            words.append(((at + begin) / SAMPLE_RATE, (at + end) / SAMPLE_RATE, word))
        parts += [audio, gap]
        at += len(audio) + len(gap)
    soundfile.write(str(path), np.concatenate(parts), SAMPLE_RATE, subtype="PCM_16")
    return path, words


def silence_file(path: Path, seconds: float) -> Path:
    """A WAV of digital silence with a little noise (like a quiet room)."""
    rng = np.random.default_rng(7)
    noise = (rng.standard_normal(int(seconds * SAMPLE_RATE)) * 0.0005).astype(np.float32)
    soundfile.write(str(path), noise, SAMPLE_RATE, subtype="PCM_16")
    return path


def normalise(text: str) -> str:
    """Lower case, no punctuation, digits as they are: for word error rates."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate after normalising both texts."""
    import jiwer

    return float(jiwer.wer(normalise(reference), normalise(hypothesis) or "<empty>"))


def installed_model(name: str, directory: Path) -> Path:
    """Install ``name`` with the real installer into ``directory`` (downloads once into the shared cache)."""
    return models.install_model(name, directory, quiet=True).path
