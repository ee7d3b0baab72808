"""Tap-to-relay latency: from a reader thread's ``room.post(Tap)`` to the strike relay pin going high.

The whole room runs (every capability, MQTT and LLM off, GPIO on gpiozero's MockFactory); the database is on
the real disk (``synchronous=FULL``: the audit row is fsynced before the relay moves), unless ``--db-dir`` says
otherwise. Measured idle, and while the speech worker (faster-whisper in its own process) transcribes Dutch
speech over and over, with live-caption passes beside it (as while recording; ``--no-captions``: chunks only).
Prints p50/p95/p99 in milliseconds; asserts nothing.

    .venv/bin/python bench/bench_tap.py [--taps 1000] [--model base] [--db-dir /tmp] [--no-captions]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")

from roomctl.access.events import Tap
from roomctl.access.service import AccessService
from roomctl.config import load_settings
from roomctl.core.room import Room
from roomctl.demo import DEMO_MEMBERS, seed
from roomctl.runtime import build_room
from roomctl.speech import models
from roomctl.speech.sources import SAMPLE_RATE, load_wav
from roomctl.speech.worker import WorkerConfig, WorkerProcess
from tests.access_helpers import ALWAYS_OPEN
from tests.speech_helpers import DUTCH_TEXT, DUTCH_VOICE, speech_file

CAPTION_WINDOW_SECONDS = 3.0
"""Audio per caption pass (the live captions read from the last agreed word to now)."""
GAP_SECONDS = 0.01
"""Pause between taps (the room handles the session's follow-up events in between)."""


class RelayWatch:
    """Records when the relay pin goes high (wraps the mock pin's state change)."""

    def __init__(self, room: Room) -> None:
        pin = room.service(AccessService).door.relay.pin
        self.high = threading.Event()
        self.at = 0.0
        original = pin._change_state

        def change(value: bool) -> Any:
            if value:
                self.at = time.perf_counter()
                self.high.set()
            return original(value)

        pin._change_state = change


def tap_loop(room: Room, watch: RelayWatch, taps: int, label: str) -> list[float]:
    """Post taps from this (reader) thread; return latencies in ms."""
    door = room.service(AccessService).door
    latencies: list[float] = []
    for i in range(taps):
        uid = DEMO_MEMBERS[i % len(DEMO_MEMBERS)][1]
        watch.high.clear()
        start = time.perf_counter()
        room.post(Tap(source="bench", uid=uid, reader=f"{label}-{i}"))
        if not watch.high.wait(10):
            raise RuntimeError(f"tap {i} did not move the relay within 10 s")
        latencies.append((watch.at - start) * 1000)
        door.lock()
        time.sleep(GAP_SECONDS)
    return latencies


def report(label: str, latencies: list[float]) -> None:
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{label:<28} n={len(latencies):5d}  p50={q[49]:7.2f} ms  p95={q[94]:7.2f} ms  "
        f"p99={q[98]:7.2f} ms  max={max(latencies):7.2f} ms"
    )


def find_model(name: str) -> Path:
    path = models.cache_dir() / name
    if not (path / "model.bin").exists():
        raise SystemExit(
            f"speech model {name} is not in {models.cache_dir()}; install it: roomctl models install {name}"
        )
    return path


async def transcribe_forever(worker: WorkerProcess, wav: Path, stop: asyncio.Event, done: list[float]) -> None:
    key = 0
    while not stop.is_set():
        key += 1
        _, seconds = await worker.transcribe(key, wav, "")
        done.append(seconds)


async def caption_forever(worker: WorkerProcess, wav: Path, stop: asyncio.Event, done: list[float]) -> None:
    """Caption passes over a few seconds of speech, one after another, as the live captions make them."""
    audio = load_wav(wav)
    window = int(CAPTION_WINDOW_SECONDS * SAMPLE_RATE)
    at = 0
    while not stop.is_set():
        at = (at + SAMPLE_RATE) % max(len(audio) - window, 1)
        _, seconds = await worker.caption(audio[at : at + window], "")
        done.append(seconds)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(dir=args.db_dir) as data, tempfile.TemporaryDirectory() as media:
        settings = load_settings(
            None,
            {
                "storage": {"data_dir": data},
                "mqtt": {"enabled": False},
                "llm": {"enabled": False},
                "room": {"opening_hours": ALWAYS_OPEN},
                "booking": {"walk_in": False},
            },
        )
        room = build_room(settings)
        seed(room)
        await room.start()
        try:
            watch = RelayWatch(room)
            print(f"database in {data}; {args.taps} taps per run; {os.cpu_count()} CPUs")
            await asyncio.to_thread(tap_loop, room, watch, 50, "warmup")
            idle = await asyncio.to_thread(tap_loop, room, watch, args.taps, "idle")
            report("idle", idle)

            wav = speech_file(DUTCH_TEXT, Path(media) / "speech.wav", DUTCH_VOICE)
            parallel = 2 if args.captions else 1
            worker = WorkerProcess(
                WorkerConfig(model_path=str(find_model(args.model)), language="nl", parallel=parallel)
            )
            await worker.start()
            stop, chunks, passes = asyncio.Event(), list[float](), list[float]()
            busy_task = asyncio.create_task(transcribe_forever(worker, wav, stop, chunks))
            captions_task = asyncio.create_task(caption_forever(worker, wav, stop, passes)) if args.captions else None
            try:
                while not chunks and not busy_task.done():  # the first chunk is under way when we start
                    await asyncio.sleep(0.5)
                    if worker.busy is not None:
                        break
                busy = await asyncio.to_thread(tap_loop, room, watch, args.taps, "busy")
            finally:
                stop.set()
                await busy_task
                if captions_task is not None:
                    await captions_task
                await worker.stop()
            report(f"speech worker ({args.model}{', captions' if args.captions else ''})", busy)
            print(
                f"  chunks transcribed meanwhile: {len(chunks)}, {statistics.mean(chunks):.2f} s each" if chunks else ""
            )
            if passes:
                print(f"  caption passes meanwhile: {len(passes)}, {statistics.mean(passes):.2f} s each")
        finally:
            await room.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=1000)
    parser.add_argument("--model", default="base", help="speech model in the roomctl model cache")
    parser.add_argument("--db-dir", default=None, help="where the room's database goes (default: the temp dir)")
    parser.add_argument("--no-captions", dest="captions", action="store_false", help="chunks only, no caption passes")
    asyncio.run(main(parser.parse_args()))
