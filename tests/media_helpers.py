"""Helpers for the videoframe and player tests: generated clips and packages built on the fly."""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from roomctl.session import media

CLIP_SECONDS = 2.0


def require_ffmpeg() -> str:
    path = media.ffmpeg_path()
    if path is None:
        raise RuntimeError("ffmpeg is missing: apt-get install -y --no-install-recommends ffmpeg")
    return path


@cache
def _workdir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="roomctl-test-media-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@cache
def sample_clip() -> Path:
    """A 2 s, 320x240 title-card clip (H.264 + AAC in MP4), generated once per test run."""
    require_ffmpeg()
    return media.generate_clip(_workdir() / "clip.mp4", "Testclip", "Test clip", media.TEST_CLIP_SPEC)


@cache
def audio_only_mp4() -> Path:
    """A valid MP4 container holding only audio: passes the magic-byte check, is not a video."""
    out = _workdir() / "audio-only.mp4"
    subprocess.run(
        [require_ffmpeg(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
         "-c:a", "aac", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    return out


def base_manifest(**overrides: Any) -> dict[str, Any]:
    """A valid two-step manifest; the first step has clip ``clips/a.mp4``."""
    manifest: dict[str, Any] = {
        "schema_version": 1,
        "id": "testframe",
        "version": "1.0.0",
        "title": {"nl": "Testframe", "en": "Test frame"},
        "steps": [
            {
                "id": "analyse",
                "title": {"nl": "Analyse", "en": "Analysis"},
                "kind": "analysis",
                "clip": "clips/a.mp4",
                "questions": ["q1", "q2"],
                "suggested_minutes": 10,
                "scene": "focus",
            },
            {
                "id": "probleem",
                "title": {"nl": "Probleem", "en": "Problem"},
                "kind": "problem",
                "questions": ["q3"],
                "suggested_minutes": 5,
            },
        ],
    }
    manifest.update(overrides)
    return manifest


def write_package(
    root: Path, manifest: dict[str, Any] | None = None, files: dict[str, Path | bytes] | None = None
) -> Path:
    """A package folder at ``root``: ``manifest.json`` plus ``files`` (default: the test clip as clips/a.mp4)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps(manifest or base_manifest()), encoding="utf-8")
    for name, content in (files if files is not None else {"clips/a.mp4": sample_clip()}).items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_bytes(content)
    return root


def zip_folder(folder: Path, out: Path, prefix: str = "") -> Path:
    """Zip ``folder``'s files into ``out`` (optionally under a top folder ``prefix``)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(folder).as_posix())
    return out


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
