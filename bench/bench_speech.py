"""Streaming transcription of a brainstorm: real-time factor, lag from stop to final transcript, memory.

A Dutch brainstorm (espeak-ng, ``nl+m1``) of ``--minutes`` is played through the simulated microphone at
``--speed`` times real time into the speech service (spool, quiet-point chunks, worker process). Then the same
audio goes through plain faster-whisper in one pass as the reference. Prints:

- RTF: worker seconds spent per second of audio (streaming) and wall time per audio second (reference);
- lag: seconds from stop to the final transcript (streaming) and for the whole-file pass (reference);
- WER of both against the spoken text;
- peak RSS of this process (the service) and of the worker process.

    .venv/bin/python bench/bench_speech.py [--minutes 5] [--speed 1] [--model base] [--beam 5]

Real time (``--speed 1``) is what a room sees; at higher speeds the backlog grows and the lag measures it.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
from tests.speech_helpers import DUTCH_TEXT, DUTCH_VOICE, ENGLISH_TEXT, ENGLISH_VOICE, installed_model, speech_file, wer

MORE_DUTCH = [
    "Het team wil de planning van de week eerder bespreken, liefst op maandag.",
    "Een collega stelt voor om de nieuwe werkwijze eerst twee weken uit te proberen.",
    "Wij vragen de leidinggevende om tijd vrij te maken voor het leren op de werkvloer.",
    "De vraag is wat wij vandaag anders gaan doen dan vorige week.",
    "Niet iedereen is het eens, maar we willen het samen proberen.",
    "Aan het einde van de maand kijken we terug en passen we het plan aan.",
]


def sentences_for(minutes: float, language: str) -> list[str]:
    """Enough sentences for about ``minutes`` of speech (about 6 s a sentence)."""
    pool = DUTCH_TEXT + MORE_DUTCH if language == "nl" else ENGLISH_TEXT
    count = int(minutes * 60 / 6.3)
    return [pool[i % len(pool)] for i in range(count)]


def peak_rss_mb() -> float:
    """This process's peak resident memory."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def streaming(settings: Any, wav: Path, speed: float) -> dict[str, Any]:
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
    try:
        await room.dispatch(RecordingConsent(source="bench", session_id="bench"))
        await room.dispatch(StartRecording(source="bench"))
        while not (sources and sources[-1].finished):
            await asyncio.sleep(0.05)
        pending_at_stop = transcripts.pending_chunks(room.db, service.recording_id or 0)
        stopped = time.perf_counter()
        await service.stop_recording()
        while not ready:
            await asyncio.sleep(0.01)
        lag = time.perf_counter() - stopped
        worker: WorkerProcess | None = service.transcriber.worker
        worker_rss = (worker.peak_rss_kb() / 1024) if worker else 0.0
        rows = list(room.db.query("select seconds from speech_chunks where recording_id = ?", [ready[0].recording_id]))
        text = transcripts.transcript(room.db, "bench")["text"]
    finally:
        await room.stop()
    return {
        "lag": lag,
        "worker_seconds": sum(r["seconds"] or 0 for r in rows),
        "chunks": len(rows),
        "slowest_chunk": max((r["seconds"] or 0 for r in rows), default=0),
        "pending_at_stop": pending_at_stop,
        "text": text,
        "worker_rss_mb": worker_rss,
    }


def reference(model_path: Path, wav: Path, language: str, beam: int) -> dict[str, Any]:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_path), device="cpu", compute_type="int8", local_files_only=True)
    audio, _ = soundfile.read(str(wav), dtype="float32")
    started = time.perf_counter()
    segments, _ = model.transcribe(audio, language=language, beam_size=beam, temperature=0.0, vad_filter=True)
    text = " ".join(s.text.strip() for s in segments)
    return {"seconds": time.perf_counter() - started, "text": text}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--speed", type=float, default=1.0, help="times real time the microphone plays")
    parser.add_argument("--model", default="base")
    parser.add_argument("--language", default="nl")
    parser.add_argument("--beam", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
        data = Path(tmp)
        said = sentences_for(args.minutes, args.language)
        voice = DUTCH_VOICE if args.language == "nl" else ENGLISH_VOICE
        wav = speech_file(said, data / "brainstorm.wav", voice)
        audio_seconds = soundfile.info(str(wav)).duration
        settings = load_settings(
            None,
            {
                "storage": {"data_dir": str(data / "data")},
                "mqtt": {"enabled": False},
                "speech": {"model": args.model, "language": args.language, "beam_size": args.beam},
            },
        )
        model_path = installed_model(args.model, model_dir(settings))
        print(f"audio: {audio_seconds:.0f} s of {args.language} speech ({len(said)} sentences), model {args.model}, "
              f"beam {args.beam}, microphone at {args.speed:g}x")  # fmt: skip
        stream = asyncio.run(streaming(settings, wav, args.speed))
        service_rss = peak_rss_mb()
        ref = reference(model_path, wav, args.language, args.beam)
        text = " ".join(said)
        print(f"streaming: RTF {stream['worker_seconds'] / audio_seconds:.3f} (worker time / audio), "
              f"{stream['chunks']} chunks, slowest {stream['slowest_chunk']:.1f} s, "
              f"{stream['pending_at_stop']} chunk(s) waiting at stop")  # fmt: skip
        print(f"streaming: lag stop -> final transcript {stream['lag']:.2f} s, WER {wer(text, stream['text']):.3f}")
        print(f"reference (plain faster-whisper, whole file): {ref['seconds']:.1f} s = RTF "
              f"{ref['seconds'] / audio_seconds:.3f}, lag after stop {ref['seconds']:.1f} s, "
              f"WER {wer(text, ref['text']):.3f}")  # fmt: skip
        print(f"peak RSS: service {service_rss:.0f} MB (before the reference ran), "
              f"worker {stream['worker_rss_mb']:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
