"""ClipPlayer against real libvlc with dummy outputs, on a generated 2 s clip."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.clip_player import ClipPlayer
from tests.media_helpers import CLIP_SECONDS, sample_clip, wait_until

CLIP_MS = int(CLIP_SECONDS * 1000)
LENGTH_TOLERANCE_MS = 100
PAUSE_WATCH_SECONDS = 0.6


@pytest.fixture
def clip() -> Path:
    return sample_clip()


@pytest.fixture
def changes() -> threading.Event:
    return threading.Event()


@pytest.fixture
def player(changes: threading.Event) -> Iterator[ClipPlayer]:
    instance = ClipPlayer(dummy=True, on_change=changes.set)
    yield instance
    instance.close()


def test_plays_and_reports_length(player: ClipPlayer, clip: Path, changes: threading.Event) -> None:
    assert player.status().state == "idle"
    player.load(str(clip))
    assert wait_until(lambda: player.status().state == "playing" and player.status().length_ms is not None)
    assert abs((player.status().length_ms or 0) - CLIP_MS) <= LENGTH_TOLERANCE_MS
    assert player.status().clip == str(clip)
    assert changes.is_set(), "libvlc's Playing event must reach on_change"
    assert wait_until(lambda: player.status().position_ms > 0, timeout=2)


def test_pause_and_resume(player: ClipPlayer, clip: Path) -> None:
    player.load(str(clip))
    assert wait_until(lambda: player.status().position_ms > 0)
    player.pause()
    assert wait_until(lambda: player.status().state == "paused")
    held = player.status().position_ms
    time.sleep(PAUSE_WATCH_SECONDS)
    assert player.status().state == "paused"
    assert player.status().position_ms == held
    player.play()
    assert wait_until(lambda: player.status().state == "playing")
    assert wait_until(lambda: player.status().position_ms > held)


def test_end_reached_then_restart(player: ClipPlayer, clip: Path, changes: threading.Event) -> None:
    player.load(str(clip))
    assert wait_until(lambda: player.status().state == "playing")
    changes.clear()
    assert wait_until(lambda: player.status().state == "ended", timeout=CLIP_SECONDS + 3)
    assert changes.is_set(), "EndReached must reach on_change"
    ended = player.status()
    assert abs(ended.position_ms - CLIP_MS) <= LENGTH_TOLERANCE_MS

    player.restart()
    assert wait_until(lambda: player.status().state == "playing")
    assert player.status().position_ms < CLIP_MS // 2
    player.pause()
    player.restart(play=False)
    assert wait_until(lambda: player.status().state == "paused")
    assert player.status().position_ms == 0


def test_resume_after_end_plays_again(player: ClipPlayer, clip: Path) -> None:
    player.load(str(clip))
    assert wait_until(lambda: player.status().state == "ended", timeout=CLIP_SECONDS + 3)
    player.play()
    assert wait_until(lambda: player.status().state == "playing")


def test_load_paused_waits_at_start(player: ClipPlayer, clip: Path) -> None:
    player.load(str(clip), play=False)
    time.sleep(PAUSE_WATCH_SECONDS)
    assert player.status().state == "paused"
    assert player.status().position_ms == 0
    player.play()
    assert wait_until(lambda: player.status().position_ms > 0)


def test_missing_file_reports_error(player: ClipPlayer, tmp_path: Path, changes: threading.Event) -> None:
    missing = tmp_path / "gone.mp4"
    player.load(str(missing))
    assert wait_until(lambda: player.status().state == "error")
    status = player.status()
    assert status.error is not None and "does not exist" in status.error and str(missing) in status.error
    assert changes.is_set()


def test_a_new_clip_clears_the_error_and_stop_unloads(player: ClipPlayer, clip: Path, tmp_path: Path) -> None:
    player.load(str(tmp_path / "gone.mp4"))
    assert wait_until(lambda: player.status().state == "error")
    player.load(str(clip))
    assert wait_until(lambda: player.status().state == "playing")
    assert player.status().error is None
    player.stop()
    assert player.status().state == "idle" and player.clip is None
