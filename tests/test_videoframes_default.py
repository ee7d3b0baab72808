"""The shipped videoframe "Werksituatie verbeteren" with generated clips, and the `roomctl videoframes` CLI."""

from __future__ import annotations

import json
import logging
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from roomctl.session import media
from roomctl.session.cli import videoframes_group
from roomctl.session.media import TEST_CLIP_SPEC
from roomctl.session.videoframes import DEFAULT_ID, VideoframeLibrary
from tests.media_helpers import require_ffmpeg, write_package

ARRIVAL_AND_WRAP_UP_MINUTES = 10


def duration_seconds(path: Path) -> float:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return float(json.loads(result.stdout)["format"]["duration"])


def test_default_videoframe_follows_the_concept_with_generated_clips(tmp_path: Path) -> None:
    require_ffmpeg()
    library = VideoframeLibrary(tmp_path / "data", clip_spec=TEST_CLIP_SPEC)
    frame = library.default()
    assert frame.id == DEFAULT_ID == "werksituatie-verbeteren"
    assert frame.title == {"nl": "Werksituatie verbeteren", "en": "Improving a work situation"}
    assert [s.kind for s in frame.steps] == ["analysis", "problem", "brainstorm", "break", "proposal", "validation"]
    assert 55 <= frame.total_minutes + ARRIVAL_AND_WRAP_UP_MINUTES <= 65
    movement = frame.steps[3]
    assert movement.scene == "movement" and movement.clip_path is None, "the movement break is a timer with its own scene"
    for step in (s for s in frame.steps if s is not movement):
        assert step.title["nl"] and step.title["en"] and step.questions
        assert step.clip_path is not None and step.clip_path.is_file(), step.id
        assert step.clip_path.is_relative_to(library.root / DEFAULT_ID / "1.1.0")
        assert abs(duration_seconds(step.clip_path) - TEST_CLIP_SPEC.seconds) < 0.2
    asked = {q for s in frame.steps for q in s.questions}
    assert asked <= {f"q{n}" for n in range(1, 11)}

    manifest = frame.path / "manifest.json"
    before = manifest.stat().st_mtime_ns
    again = library.default()
    assert again == frame
    assert manifest.stat().st_mtime_ns == before, "default() must not reinstall an installed default"


def test_default_without_ffmpeg_runs_without_clips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(media, "ffmpeg_path", lambda: None)
    with caplog.at_level(logging.WARNING, logger="roomctl.session.videoframes"):
        frame = VideoframeLibrary(tmp_path / "data").default()
    assert len(frame.steps) == 6
    assert all(step.clip_path is None for step in frame.steps)
    assert "ffmpeg is not installed" in caplog.text


def test_cli_install_list_remove(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    package = write_package(tmp_path / "pkg")

    result = runner.invoke(videoframes_group, ["install", str(package), *data])
    assert result.exit_code == 0, result.output
    assert "installed testframe 1.0.0" in result.output

    result = runner.invoke(videoframes_group, ["list", *data])
    assert result.exit_code == 0, result.output
    assert "testframe 1.0.0  Testframe" in result.output and "clips/a.mp4" in result.output

    result = runner.invoke(videoframes_group, ["install", str(package), *data])
    assert result.exit_code == 1 and "already installed" in result.output

    result = runner.invoke(videoframes_group, ["remove", "testframe", *data])
    assert result.exit_code == 0, result.output
    result = runner.invoke(videoframes_group, ["remove", "testframe", *data])
    assert result.exit_code == 1 and "not installed" in result.output
    assert "no videoframes installed" in runner.invoke(videoframes_group, ["list", *data]).output


def test_cli_bad_package_names_field(tmp_path: Path) -> None:
    manifest = json.loads((write_package(tmp_path / "pkg") / "manifest.json").read_text())
    manifest["steps"][0]["kind"] = "dance"
    (tmp_path / "pkg" / "manifest.json").write_text(json.dumps(manifest))
    arguments = ["install", str(tmp_path / "pkg"), "--data-dir", str(tmp_path / "d")]
    result = CliRunner().invoke(videoframes_group, arguments)
    assert result.exit_code == 1
    assert "manifest.json: steps[0].kind: 'dance' is not one of" in result.output


def test_cli_generate_media(tmp_path: Path) -> None:
    require_ffmpeg()
    runner = CliRunner()
    out = tmp_path / "out"
    arguments = ["generate-media", "--out", str(out), "--seconds", "1", "--size", "160x120"]
    result = runner.invoke(videoframes_group, arguments)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "clips").iterdir()) == [
        "01-analyse.mp4", "02-probleem.mp4", "03-brainstorm.mp4", "04-voorstel.mp4", "05-validatie.mp4",
    ]  # fmt: skip
    result = runner.invoke(videoframes_group, ["install", str(out), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output

    bad = runner.invoke(videoframes_group, ["generate-media", "--out", str(tmp_path / "x"), "--size", "huge"])
    assert bad.exit_code == 2 and "WIDTHxHEIGHT" in bad.output


def test_cli_help_for_every_command() -> None:
    runner = CliRunner()
    for command in ("install", "list", "remove", "generate-media"):
        result = runner.invoke(videoframes_group, [command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output
        assert len(result.output.splitlines()) > 4


def test_concurrent_first_use_installs_once(tmp_path: Path) -> None:
    require_ffmpeg()
    library = VideoframeLibrary(tmp_path / "data", clip_spec=TEST_CLIP_SPEC)
    with ThreadPoolExecutor(max_workers=2) as pool:
        frames = list(pool.map(lambda _: library.default(), range(2)))
    assert frames[0] == frames[1]
    assert library.versions(DEFAULT_ID) == ["1.1.0"]
    assert sorted(p.name for p in library.root.iterdir()) == [DEFAULT_ID]
