"""Backups and restores: online during writes, complete, verified, and harmless when the archive is bad."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from roomctl.config import Settings, load_settings
from roomctl.errors import StateError, StorageError, ValidationError
from roomctl.ops import backup as backup_module
from roomctl.ops.backup import DB_MEMBER, MANIFEST, backup, prune, restore, verify_archive
from roomctl.store import open_database
from roomctl.store.migrations import all_migrations, migrate

CONFIG = '[room]\nsite = "hq"\nid = "room7"\nname = "Leerruimte 7"\n'


def _settings(data_dir: Path) -> Settings:
    return load_settings(None, overrides={"storage": {"data_dir": str(data_dir)}, "room": {"id": "room7"}})


def _rows(database: Path) -> list[tuple[int, str]]:
    db = open_database(database, migrate_schema=False)
    rows = [(r["id"], r["text"]) for r in db.query("select id, text from notes order by id")]
    db.close()
    return rows


def _fingerprint(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture()
def room_dir(tmp_path: Path) -> Path:
    """A data dir with a migrated database holding 50 notes, videoframes and a config file."""
    data = tmp_path / "data"
    db = open_database(data / "roomctl.db")
    db["notes"].insert_all({"id": i, "text": f"note {i}"} for i in range(1, 51))  # type: ignore[union-attr]
    db.close()
    frames = data / "videoframes" / "default" / "1.0"
    frames.mkdir(parents=True)
    (frames / "manifest.json").write_text('{"id": "default"}')
    (frames / "clip.mp4").write_bytes(b"\x00\x01" * 5000)
    (tmp_path / "roomctl.toml").write_text(CONFIG)
    return data


@pytest.fixture()
def writer(room_dir: Path) -> Iterator[threading.Event]:
    """Keeps inserting notes from another connection until told to stop."""
    stop = threading.Event()

    def write() -> None:
        db = open_database(room_dir / "roomctl.db", migrate_schema=False)
        n = 1000
        while not stop.is_set():
            with db.atomic():
                db["notes"].insert({"id": n, "text": f"note {n}"})  # type: ignore[union-attr]
            n += 1
        db.close()

    thread = threading.Thread(target=write)
    thread.start()
    yield stop
    stop.set()
    thread.join()


def test_backup_during_writes_is_consistent(room_dir: Path, writer: threading.Event, tmp_path: Path) -> None:
    time.sleep(0.2)
    archive = backup(_settings(room_dir), tmp_path / "backups", config_path=tmp_path / "roomctl.toml")
    time.sleep(0.1)
    writer.set()
    assert archive.name.startswith("roomctl-backup-hq-room7-") and archive.name.endswith(".tar.gz")
    out = tmp_path / "out"
    manifest = verify_archive(archive, into=out)
    assert manifest["room"] == {"site": "hq", "id": "room7"}
    assert manifest["migrations"] == [m.name for m in all_migrations()]
    rows = _rows(out / DB_MEMBER)
    ids = [i for i, _ in rows]
    assert ids[:50] == list(range(1, 51))
    assert len(ids) > 50, "the writer wrote nothing before the backup"
    assert ids[50:] == list(range(1000, 1000 + len(ids) - 50)), "the snapshot is not a consistent prefix"
    assert len(_rows(room_dir / "roomctl.db")) > len(rows), "writes stopped during the backup"
    assert (out / "config" / "roomctl.toml").read_text() == CONFIG
    assert (out / "videoframes" / "default" / "1.0" / "clip.mp4").read_bytes() == b"\x00\x01" * 5000
    assert not list((tmp_path / "backups").glob(".*")), "staging or partial files were left behind"


def test_restore_gives_back_the_same_rows(room_dir: Path, tmp_path: Path) -> None:
    settings = _settings(room_dir)
    config = tmp_path / "roomctl.toml"
    archive = backup(settings, tmp_path / "backups", config_path=config)
    before = _rows(room_dir / "roomctl.db")
    db = open_database(room_dir / "roomctl.db")
    db.execute("delete from notes where id > 10")
    db["notes"].insert({"id": 99, "text": "written after the backup"})  # type: ignore[union-attr]
    db.close()
    shutil.rmtree(room_dir / "videoframes")
    config.write_text('[room]\nname = "changed"\n')

    result = restore(archive, settings, config_path=config, service_running=lambda: False)

    assert _rows(room_dir / "roomctl.db") == before
    assert (room_dir / "videoframes" / "default" / "1.0" / "clip.mp4").exists()
    assert config.read_text() == CONFIG
    assert result.migrations == []
    kept = _rows(result.aside / "roomctl.db")
    assert (99, "written after the backup") in kept, "the replaced database was not kept aside"
    assert (result.aside / "roomctl.toml").read_text() == '[room]\nname = "changed"\n'


def test_restore_refuses_while_the_service_runs(room_dir: Path, tmp_path: Path) -> None:
    settings = _settings(room_dir)
    archive = backup(settings, tmp_path / "backups")
    before = _fingerprint(room_dir)
    with pytest.raises(StateError, match="systemctl stop roomctl"):
        restore(archive, settings, service_running=lambda: True)
    assert _fingerprint(room_dir) == before
    restore(archive, settings, service_running=lambda: True, force=True)


def _corruptions(archive: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data = archive.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    yield "truncated", truncated
    flipped = tmp_path / "flipped.tar.gz"
    middle = bytearray(data)
    middle[len(middle) // 2] ^= 0xFF
    flipped.write_bytes(bytes(middle))
    yield "a flipped byte", flipped
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"this is not a backup at all")
    yield "not gzip", garbage
    # A well-formed archive whose database does not match the manifest.
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w:gz") as dst:
        for member in src.getmembers():
            content = src.extractfile(member)
            payload = content.read() if content else b""
            if member.name == DB_MEMBER:
                payload = payload.replace(b"note 7", b"note 8")
            member.size = len(payload)
            dst.addfile(member, io.BytesIO(payload))
    yield "a changed database", tampered
    # A manifest that names a path outside the data directory.
    escape = tmp_path / "escape.tar.gz"
    with tarfile.open(escape, "w:gz") as dst:
        evil = b"boom"
        manifest = {"format": 1, "files": {"../../evil": {"sha256": hashlib.sha256(evil).hexdigest(), "size": 4}}}
        body = json.dumps(manifest).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(body)
        dst.addfile(info, io.BytesIO(body))
        info = tarfile.TarInfo("../../evil")
        info.size = len(evil)
        dst.addfile(info, io.BytesIO(evil))
    yield "a path escaping the data directory", escape
    # A backup from a newer roomctl.
    newer = tmp_path / "newer.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(newer, "w:gz") as dst:
        for member in src.getmembers():
            content = src.extractfile(member)
            payload = content.read() if content else b""
            if member.name == MANIFEST:
                doc = json.loads(payload)
                doc["migrations"].append("zz_9999_from_the_future")
                payload = json.dumps(doc).encode()
            member.size = len(payload)
            dst.addfile(member, io.BytesIO(payload))
    yield "a newer roomctl's", newer


def test_a_bad_archive_is_refused_and_changes_nothing(room_dir: Path, tmp_path: Path) -> None:
    settings = _settings(room_dir)
    config = tmp_path / "roomctl.toml"
    archive = backup(settings, tmp_path / "backups", config_path=config)
    db = open_database(room_dir / "roomctl.db")
    db["notes"].insert({"id": 77, "text": "after"})  # type: ignore[union-attr]
    db.close()
    before = _fingerprint(room_dir)
    config_before = config.read_text()
    for label, bad in _corruptions(archive, tmp_path):
        with pytest.raises(ValidationError) as raised:
            restore(bad, settings, config_path=config, service_running=lambda: False)
        assert str(bad) in str(raised.value), label
        assert _fingerprint(room_dir) == before, f"{label}: the data directory changed"
        assert config.read_text() == config_before
        assert not (tmp_path / "evil").exists()
    assert not list(room_dir.glob("before-restore-*"))
    with pytest.raises(ValidationError, match="does not exist"):
        restore(tmp_path / "nope.tar.gz", settings, service_running=lambda: False)


def test_an_older_backup_is_migrated_on_restore(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = open_database(data / "roomctl.db", migrate_schema=False)
    first = all_migrations()[:1]
    migrate(db, first)
    db["notes"].insert({"id": 1, "text": "old"})  # type: ignore[union-attr]
    db.close()
    settings = _settings(data)
    archive = backup(settings, tmp_path / "backups")
    result = restore(archive, settings, force=True)
    assert result.migrations == [m.name for m in all_migrations()[1:]]
    assert _rows(data / "roomctl.db") == [(1, "old")]


def test_a_full_disk_is_refused_before_anything_is_written(
    room_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = shutil._ntuple_diskusage(total=8 * 2**30, used=8 * 2**30 - 2**20, free=2**20)  # type: ignore[attr-defined]
    monkeypatch.setattr(backup_module.shutil, "disk_usage", lambda _: full)
    with pytest.raises(StorageError, match="not enough free space"):
        backup(_settings(room_dir), tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == []


def test_no_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no database"):
        backup(_settings(tmp_path / "empty"), tmp_path / "backups")


def test_old_archives_are_pruned(room_dir: Path, tmp_path: Path) -> None:
    settings = _settings(room_dir)
    dest = tmp_path / "backups"
    made = [backup(settings, dest, keep=100, now=datetime(2026, 11, d, 3, 30, tzinfo=UTC)) for d in range(1, 5)]
    for i, path in enumerate(made):
        stamp = time.time() - 1000 + i
        os.utime(path, (stamp, stamp))
    deleted = prune(dest, 2)
    assert deleted == made[:2]
    assert sorted(dest.glob("*.tar.gz")) == made[2:]


def test_the_archive_is_gzip_with_the_manifest_first(room_dir: Path, tmp_path: Path) -> None:
    archive = backup(_settings(room_dir), tmp_path / "backups")
    with gzip.open(archive) as raw:
        assert raw.read(100).startswith(MANIFEST.encode())
