"""Videoframe packages: manifest validation, safe staging of folders and zips, install/list/remove."""

from __future__ import annotations

import copy
import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest

from roomctl.errors import ConflictError, NotFoundError, ValidationError
from roomctl.session import videoframe_package
from roomctl.session.media import TEST_CLIP_SPEC
from roomctl.session.videoframes import VideoframeLibrary
from tests.media_helpers import audio_only_mp4, base_manifest, sample_clip, write_package, zip_folder


@pytest.fixture
def library(tmp_path: Path) -> VideoframeLibrary:
    return VideoframeLibrary(tmp_path / "data", clip_spec=TEST_CLIP_SPEC)


def store_entries(library: VideoframeLibrary) -> list[str]:
    return sorted(p.name for p in library.root.iterdir())


def refused(library: VideoframeLibrary, source: Path, *expected: str) -> str:
    """Install must fail with every ``expected`` text in the message, leaving the store empty."""
    with pytest.raises(ValidationError) as caught:
        library.install(source)
    for text in expected:
        assert text in caught.value.detail, caught.value.detail
    assert store_entries(library) == [], "a refused package left something in the store"
    return caught.value.detail


def test_install_get_list_remove(library: VideoframeLibrary, tmp_path: Path) -> None:
    package = write_package(tmp_path / "pkg")
    frame = library.install(package)
    assert (frame.id, frame.version) == ("testframe", "1.0.0")
    assert frame.path == library.root / "testframe" / "1.0.0"
    first, second = frame.steps
    assert first.clip_path == frame.path / "clips" / "a.mp4"
    assert first.clip_path.read_bytes() == sample_clip().read_bytes()
    assert first.questions == ("q1", "q2") and first.scene == "focus" and first.kind == "analysis"
    assert second.clip_path is None
    assert frame.total_minutes == 15

    assert library.get("testframe") == frame
    assert [f.id for f in library.list()] == ["testframe"]

    newer = copy.deepcopy(base_manifest(version="1.1.0"))
    newer["title"]["nl"] = "Testframe nieuw"
    library.install(write_package(tmp_path / "pkg2", newer))
    assert library.versions("testframe") == ["1.0.0", "1.1.0"]
    assert library.get("testframe").title["nl"] == "Testframe nieuw"
    assert library.get("testframe", "1.0.0").title["nl"] == "Testframe"

    with pytest.raises(ConflictError, match="already installed"):
        library.install(package)
    assert library.install(package, replace=True).version == "1.0.0"

    library.remove("testframe", "1.0.0")
    assert library.versions("testframe") == ["1.1.0"]
    library.remove("testframe")
    assert library.list() == []
    with pytest.raises(NotFoundError, match="not installed"):
        library.get("testframe")
    with pytest.raises(NotFoundError):
        library.remove("testframe")
    assert store_entries(library) == []


def test_install_zip_with_and_without_top_folder(library: VideoframeLibrary, tmp_path: Path) -> None:
    package = write_package(tmp_path / "pkg")
    frame = library.install(zip_folder(package, tmp_path / "flat.zip"))
    assert frame.steps[0].clip_path is not None and frame.steps[0].clip_path.is_file()
    library.remove("testframe")
    wrapped = library.install(zip_folder(package, tmp_path / "wrapped.zip", prefix="testframe/"))
    assert wrapped.steps[0].clip_path == library.root / "testframe" / "1.0.0" / "clips" / "a.mp4"


def _without(manifest: dict[str, Any], *path: Any) -> dict[str, Any]:
    target = manifest
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return manifest


def _with(manifest: dict[str, Any], value: Any, *path: Any) -> dict[str, Any]:
    target = manifest
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return manifest


def _duplicate_step(manifest: dict[str, Any]) -> dict[str, Any]:
    manifest["steps"][1]["id"] = "analyse"
    return manifest


BAD_MANIFESTS = [
    ("unknown kind", lambda m: _with(m, "dance", "steps", 0, "kind"),
     "manifest.json: steps[0].kind: 'dance' is not one of"),
    ("missing steps", lambda m: _without(m, "steps"), "manifest.json: steps: is required"),
    ("no steps", lambda m: _with(m, [], "steps"), "manifest.json: steps: must list at least one step"),
    ("duplicate step ids", _duplicate_step, "manifest.json: steps[1].id: 'analyse' is used by steps[0] too"),
    ("unknown question", lambda m: _with(m, ["q1", "q11"], "steps", 0, "questions"),
     "manifest.json: steps[0].questions[1]: 'q11' is not a kader question"),
    ("missing translation", lambda m: _without(m, "steps", 1, "title", "en"),
     "manifest.json: steps[1].title.en: is required"),
    ("missing kind", lambda m: _without(m, "steps", 1, "kind"), "manifest.json: steps[1].kind: is required"),
    ("future schema", lambda m: _with(m, 2, "schema_version"), "manifest.json: schema_version:"),
    ("unknown field", lambda m: _with(m, "red", "steps", 0, "colour"), "manifest.json: steps[0].colour: unknown field"),
    ("negative minutes", lambda m: _with(m, -5, "steps", 1, "suggested_minutes"),
     "manifest.json: steps[1].suggested_minutes:"),
    ("bad id", lambda m: _with(m, "../evil", "id"), "manifest.json: id: '../evil' does not match"),
    ("bad version", lambda m: _with(m, "1.0/../../x", "version"), "manifest.json: version:"),
    ("clip missing", lambda m: _with(m, "clips/nope.mp4", "steps", 0, "clip"),
     "manifest.json: steps[0].clip: 'clips/nope.mp4' does not exist in the package"),
    ("clip escapes", lambda m: _with(m, "../a.mp4", "steps", 0, "clip"),
     "manifest.json: steps[0].clip: '../a.mp4' points outside the package"),
    ("clip absolute", lambda m: _with(m, "/etc/clip.mp4", "steps", 0, "clip"),
     "manifest.json: steps[0].clip: '/etc/clip.mp4' is an absolute path"),
    ("clip not a video type", lambda m: _with(m, "clips/a.gif", "steps", 0, "clip"),
     "manifest.json: steps[0].clip: 'clips/a.gif' is not a video file"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "expected"), [b[1:] for b in BAD_MANIFESTS], ids=[b[0] for b in BAD_MANIFESTS])
def test_bad_manifest_names_file_and_field(
    library: VideoframeLibrary, tmp_path: Path, mutate: Any, expected: str
) -> None:
    package = write_package(tmp_path / "pkg", mutate(base_manifest()))
    refused(library, package, expected)


def test_all_problems_are_listed(library: VideoframeLibrary, tmp_path: Path) -> None:
    manifest = base_manifest()
    manifest["steps"][0]["kind"] = "dance"
    manifest["steps"][1]["suggested_minutes"] = "ten"
    with pytest.raises(ValidationError) as caught:
        library.install(write_package(tmp_path / "pkg", manifest))
    assert len(caught.value.extra["errors"]) == 2


def test_manifest_missing_or_not_json(library: VideoframeLibrary, tmp_path: Path) -> None:
    package = write_package(tmp_path / "pkg")
    (package / "manifest.json").write_text('{"schema_version": 1,', encoding="utf-8")
    refused(library, package, "manifest.json: line 1", "not valid JSON")
    (package / "manifest.json").unlink()
    refused(library, package, "manifest.json: missing")


def test_clip_that_is_not_video(library: VideoframeLibrary, tmp_path: Path) -> None:
    text = write_package(tmp_path / "text", files={"clips/a.mp4": b"this is not a video at all\n" * 10})
    refused(library, text, "clips/a.mp4: is not a video")
    audio = write_package(tmp_path / "audio", files={"clips/a.mp4": audio_only_mp4()})
    refused(library, audio, "clips/a.mp4: is not a video (it has no video stream)")
    manifest = base_manifest()
    manifest["steps"][0]["clip"] = "clips/a.webm"
    wrong_container = write_package(tmp_path / "webm", manifest, files={"clips/a.webm": sample_clip()})
    refused(library, wrong_container, "clips/a.webm: is not a video (its bytes are not a .webm container)")


def test_unknown_file_types_refused(library: VideoframeLibrary, tmp_path: Path) -> None:
    package = write_package(tmp_path / "pkg", files={"clips/a.mp4": sample_clip(), "tools/run.sh": b"#!/bin/sh\n"})
    refused(library, package, "tools/run.sh: unknown file type '.sh'")
    ok = write_package(tmp_path / "ok", files={"clips/a.mp4": sample_clip(), "README.md": b"# Testframe\n"})
    assert library.install(ok).id == "testframe"


def test_symlinks_in_folder_refused(library: VideoframeLibrary, tmp_path: Path) -> None:
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(sample_clip().read_bytes())
    package = write_package(tmp_path / "pkg", files={})
    (package / "clips").mkdir()
    os.symlink(secret, package / "clips" / "a.mp4")
    refused(library, package, "clips/a.mp4: symbolic links are not allowed")
    (package / "clips" / "a.mp4").unlink()
    (package / "clips").rmdir()
    os.symlink(tmp_path, package / "clips")
    refused(library, package, "clips: symbolic links are not allowed")


def _zip(path: Path, members: dict[str, bytes], manifest: dict[str, Any] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest or base_manifest()))
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        ("../evil.mp4", "../evil.mp4: points outside the package"),
        ("clips/../../evil.mp4", "points outside the package"),
        ("/tmp/evil.mp4", "/tmp/evil.mp4: is an absolute path"),
        ("clips\\..\\..\\evil.mp4", "is not a plain relative path"),
    ],
)
def test_zip_slip_refused(library: VideoframeLibrary, tmp_path: Path, member: str, expected: str) -> None:
    archive = _zip(tmp_path / "slip.zip", {"clips/a.mp4": sample_clip().read_bytes(), member: b"x"})
    refused(library, archive, "slip.zip: ", expected)
    assert not (tmp_path / "evil.mp4").exists()
    assert not (library.root.parent / "evil.mp4").exists()


def test_zip_symlink_member_refused(library: VideoframeLibrary, tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", json.dumps(base_manifest()))
        link = zipfile.ZipInfo("clips/a.mp4")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    refused(library, path, "link.zip: clips/a.mp4: symbolic links are not allowed")


def test_zip_bomb_ratio_refused(library: VideoframeLibrary, tmp_path: Path) -> None:
    bomb = _zip(tmp_path / "bomb.zip", {"clips/a.mp4": sample_clip().read_bytes(), "clips/b.mp4": bytes(20 * 1024**2)})
    assert bomb.stat().st_size < 100 * 1024
    refused(library, bomb, "bomb.zip: clips/b.mp4: compressed more than 50:1")


def test_zip_total_size_and_file_count_limits(
    library: VideoframeLibrary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = sample_clip().read_bytes()
    monkeypatch.setattr(videoframe_package, "MAX_PACKAGE_BYTES", 3 * len(clip))
    big = _zip(tmp_path / "big.zip", {f"clips/{n}.mp4": clip for n in "abcd"})
    refused(library, big, "big.zip: unpacks to", "refused")
    notes = {f"notes/{n}.txt": b"x" for n in range(videoframe_package.MAX_PACKAGE_FILES + 1)}
    many = _zip(tmp_path / "many.zip", notes)
    refused(library, many, "many.zip: holds", "more than 200")


def test_folder_size_limit(library: VideoframeLibrary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = sample_clip()
    monkeypatch.setattr(videoframe_package, "MAX_PACKAGE_BYTES", 2 * clip.stat().st_size)
    package = write_package(tmp_path / "pkg", files={f"clips/{n}.mp4": clip for n in "abc"})
    refused(library, package, "pkg: ", "unpacks to more than")


def test_not_a_package(library: VideoframeLibrary, tmp_path: Path) -> None:
    stray = tmp_path / "notes.txt"
    stray.write_text("hello", encoding="utf-8")
    refused(library, stray, "notes.txt: not a videoframe package")
    refused(library, tmp_path / "nowhere", "does not exist")


def test_leftovers_of_an_interrupted_install_are_swept(tmp_path: Path) -> None:
    store = tmp_path / "data" / "videoframes"
    (store / ".tmp-123" / "package").mkdir(parents=True)
    VideoframeLibrary(tmp_path / "data")
    assert list(store.iterdir()) == []
