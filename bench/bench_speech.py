"""Live captions and the streaming transcript of a brainstorm, against plain faster-whisper on the whole file.

A Dutch brainstorm (espeak-ng ``nl+m1 -s 140 -g 4``) of ``--minutes`` is played through the simulated microphone
at ``--speed`` times real time into the speech service (spool, quiet-point chunks, live captions, worker process).
Then the same audio goes through plain faster-whisper in one pass (beam 5, VAD, temperature 0) as the reference.
The streaming transcript uses the configured ``beam_size`` and ``chunk_seconds`` unless given.
Prints, in one run on the same audio:

- caption latency: for every spoken word, from the audio time its speech ended to the first screen-state update
  whose captions show it (aligned to the spoken text), median, p90 and max; and how often captions were behind;
- lag from stop to the final transcript;
- WER of the streaming (final) transcript and of the reference;
- CPU: the worker's CPU seconds (every thread, model loading excluded) over the reference's CPU seconds;
- the load average before and after (other people's work on the machine disturbs the figures).

    .venv/bin/python bench/bench_speech.py [--minutes 5] [--speed 1] [--model base] [--beam N] [--chunk-seconds S]
        [--no-captions] [--no-reference]

Real time (``--speed 1``) is what a room sees; at higher speeds the backlog grows and the lag measures it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jiwer
import soundfile

from roomctl.config import load_settings
from roomctl.core.room import Room
from roomctl.speech import transcripts
from roomctl.speech.events import RecordingConsent, StartRecording, TranscriptReady
from roomctl.speech.models import model_dir
from roomctl.speech.service import SpeechService
from roomctl.speech.sources import WavSource
from roomctl.speech.worker import WorkerProcess
from roomctl.store import open_database
from tests.speech_helpers import (
    DUTCH_TEXT,
    DUTCH_VOICE,
    ENGLISH_TEXT,
    ENGLISH_VOICE,
    installed_model,
    normalise,
    timed_speech_file,
    wer,
)

MORE_DUTCH = [
    "Het team wil de planning van de week eerder bespreken, liefst op maandag.",
    "Een collega stelt voor om de nieuwe werkwijze eerst twee weken uit te proberen.",
    "Wij vragen de leidinggevende om tijd vrij te maken voor het leren op de werkvloer.",
    "De vraag is wat wij vandaag anders gaan doen dan vorige week.",
    "Niet iedereen is het eens, maar we willen het samen proberen.",
    "Aan het einde van de maand kijken we terug en passen we het plan aan.",
]
Spoken = list[tuple[float, float, str]]
BENCH_SESSION = 1
"""The session the recording belongs to (no session row is needed for the speech service alone)."""


def sentences_for(minutes: float, language: str) -> list[str]:
    """Enough sentences for about ``minutes`` of speech (about 6 s a sentence)."""
    pool = DUTCH_TEXT + MORE_DUTCH if language == "nl" else ENGLISH_TEXT
    count = int(minutes * 60 / 6.3)
    return [pool[i % len(pool)] for i in range(count)]


class CaptionLog:
    """Every change of the screen part ``captions``, with the audio time (seconds played) it happened at."""

    def __init__(self, room: Room, sources: list[WavSource]) -> None:
        self.updates: list[tuple[float, str]] = []
        self.behind_updates = 0
        self._final: dict[float, str] = {}
        self._sources = sources
        self._loop = asyncio.get_running_loop()
        room.screen.subscribe(self._on_change)

    def _on_change(self, snapshot: dict[str, Any]) -> None:
        part = snapshot.get("captions")
        if not part or not self._sources or not self._sources[-1]._loaded:
            return
        source = self._sources[-1]
        at = (self._loop.time() - source._started) * source.speed
        for line in part.get("lines", []):
            self._final[line["start"]] = line["text"]
        finals = [text for _, text in sorted(self._final.items())]
        shown = " ".join([*finals, part.get("agreed", ""), part.get("tentative", "")])
        self.behind_updates += bool(part.get("behind"))
        if not self.updates or self.updates[-1][1] != shown:
            self.updates.append((at, shown))

    def latencies(self, words: Spoken) -> tuple[list[float], int]:
        """Per spoken word, seconds from the end of its speech to the first update that shows it; words never shown.

        Each update's text is aligned (jiwer) to the words spoken by then; a word counts as shown when the
        alignment puts a word of the captions on it (the same word, or a misheard one).
        """
        first: dict[int, float] = {}
        for at, shown in self.updates:
            spoken = [i for i, w in enumerate(words) if w[0] <= at]
            if not spoken or not normalise(shown):
                continue
            reference = " ".join(normalise(words[i][2]) for i in spoken)
            out = jiwer.process_words(reference, normalise(shown))
            for chunk in out.alignments[0]:
                if chunk.type in ("equal", "substitute"):
                    for i in range(chunk.ref_start_idx, chunk.ref_end_idx):
                        first.setdefault(spoken[i], at)
        latencies = [max(first[i] - words[i][1], 0.0) for i in sorted(first)]
        return latencies, len(words) - len(first)


async def streaming(settings: Any, wav: Path, speed: float, words: Spoken) -> dict[str, Any]:
    room = Room(settings, open_database(settings.storage.database_path))
    sources: list[WavSource] = []

    def source() -> WavSource:
        sources.append(WavSource([wav], speed=speed, then_silence=False))
        return sources[-1]

    service = SpeechService(room, source_factory=source)
    room.add_service(service)
    ready: list[TranscriptReady] = []
    room.on(TranscriptReady, ready.append)
    await room.start()
    log = CaptionLog(room, sources)
    try:
        await room.dispatch(RecordingConsent(source="bench", session_id=BENCH_SESSION))
        while not (service.transcriber.worker and service.transcriber.worker.ready):
            await asyncio.sleep(0.05)
        worker: WorkerProcess = service.transcriber.worker
        cpu_before = worker.cpu_seconds()
        await room.dispatch(StartRecording(source="bench"))
        live = service.live
        while not (sources and sources[-1].finished):
            await asyncio.sleep(0.05)
        pending_at_stop = transcripts.pending_chunks(room.db, service.recording_id or 0)
        stopped = time.perf_counter()
        await service.stop_recording()
        while not ready:
            await asyncio.sleep(0.01)
        lag = time.perf_counter() - stopped
        cpu = worker.cpu_seconds() - cpu_before
        worker_rss = worker.peak_rss_kb() / 1024
        rows = list(room.db.query("select seconds from speech_chunks where recording_id = ?", [ready[0].recording_id]))
        text = transcripts.transcript(room.db, BENCH_SESSION)["text"]
    finally:
        await room.stop()
    latencies, unseen = log.latencies(words)
    return {
        "lag": lag,
        "cpu": cpu,
        "chunk_seconds": sum(r["seconds"] or 0 for r in rows),
        "chunks": len(rows),
        "slowest_chunk": max((r["seconds"] or 0 for r in rows), default=0),
        "pending_at_stop": pending_at_stop,
        "text": text,
        "worker_rss_mb": worker_rss,
        "latencies": latencies,
        "unseen": unseen,
        "updates": len(log.updates),
        "behind_updates": log.behind_updates,
        "passes": live.passes if live else 0,
        "pass_seconds": live.pass_seconds if live else 0.0,
        "skipped": live.skipped_seconds if live else 0.0,
    }


def reference(model_path: Path, wav: Path, language: str, beam: int) -> dict[str, Any]:
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(model_path), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1, local_files_only=True
    )
    audio, _ = soundfile.read(str(wav), dtype="float32")
    started, cpu = time.perf_counter(), time.process_time()
    segments, _ = model.transcribe(audio, language=language, beam_size=beam, temperature=0.0, vad_filter=True)
    text = " ".join(s.text.strip() for s in segments)
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "text": text}


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--speed", type=float, default=1.0, help="times real time the microphone plays")
    parser.add_argument("--model", default="base")
    parser.add_argument("--language", default="nl")
    parser.add_argument("--beam", type=int, help="[speech] beam_size of the final transcript (default: the configured default)")
    parser.add_argument("--reference-beam", type=int, default=5, help="beam of the whole-file pass (faster-whisper's default)")
    parser.add_argument("--no-captions", action="store_true", help="as with [speech] live_captions = false")
    parser.add_argument("--chunk-seconds", type=float, help="[speech] chunk_seconds (default: the configured default)")
    parser.add_argument("--no-reference", action="store_true", help="skip the whole-file pass")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
        data = Path(tmp)
        said = sentences_for(args.minutes, args.language)
        voice = DUTCH_VOICE if args.language == "nl" else ENGLISH_VOICE
        wav, words = timed_speech_file(said, data / "brainstorm.wav", voice)
        audio_seconds = soundfile.info(str(wav)).duration
        speech: dict[str, Any] = {"model": args.model, "language": args.language}
        if args.beam:
            speech["beam_size"] = args.beam
        speech["live_captions"] = not args.no_captions
        if args.chunk_seconds:
            speech["chunk_seconds"] = args.chunk_seconds
        settings = load_settings(
            None, {"storage": {"data_dir": str(data / "data")}, "mqtt": {"enabled": False}, "speech": speech}
        )
        model_path = installed_model(args.model, model_dir(settings))
        load_before = os.getloadavg()[0]
        print(f"audio: {audio_seconds:.0f} s of {args.language} speech ({len(said)} sentences, {len(words)} words), "
              f"model {args.model}, beam {settings.speech.beam_size} (whole-file pass: {args.reference_beam}), microphone at {args.speed:g}x, {os.cpu_count()} cores, "
              f"live captions {'off' if args.no_captions else 'on'}, "
              f"chunks of at most {settings.speech.chunk_seconds:g} s")  # fmt: skip
        stream = asyncio.run(streaming(settings, wav, args.speed, words))
        load_streaming = os.getloadavg()[0]
        service_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        text = " ".join(said)
        lat = stream["latencies"]
        if lat:
            print(f"captions: latency median {statistics.median(lat):.2f} s, p90 {quantile(lat, 0.9):.2f} s, "
                  f"max {max(lat):.2f} s over {len(lat)} words ({stream['unseen']} never shown); "
                  f"{stream['passes']} passes, {stream['pass_seconds'] / max(stream['passes'], 1):.2f} s each, "
                  f"{stream['skipped']:.1f} s skipped, behind in {stream['behind_updates']} of "
                  f"{stream['updates']} updates")  # fmt: skip
        print(f"final transcript: {stream['chunks']} chunks, {stream['chunk_seconds']:.1f} s in the worker, "
              f"slowest {stream['slowest_chunk']:.1f} s, {stream['pending_at_stop']} waiting at stop; "
              f"lag stop -> final {stream['lag']:.2f} s")  # fmt: skip
        print(f"peak RSS: service {service_rss:.0f} MB, worker {stream['worker_rss_mb']:.0f} MB")
        if args.no_reference:
            print(f"WER: streaming {wer(text, stream['text']):.3f}; worker CPU {stream['cpu']:.1f} s")
            print(f"load average (1 min): {load_before:.2f} before, {load_streaming:.2f} after streaming")
            return
        ref = reference(model_path, wav, args.language, args.reference_beam)
        print(
            f"WER: streaming {wer(text, stream['text']):.3f}, plain faster-whisper whole file {wer(text, ref['text']):.3f}"
        )
        print(f"CPU: worker {stream['cpu']:.1f} s (captions and chunks), whole-file pass {ref['cpu']:.1f} s "
              f"({ref['seconds']:.1f} s wall, RTF {ref['seconds'] / audio_seconds:.3f}): ratio "
              f"{stream['cpu'] / ref['cpu']:.2f}")  # fmt: skip
        print(f"load average (1 min): {load_before:.2f} before, {load_streaming:.2f} after streaming, "
              f"{os.getloadavg()[0]:.2f} after the reference")  # fmt: skip


if __name__ == "__main__":
    main()
