"""Backups of a room: the database (an online SQLite backup), the configuration and the videoframes.

An archive is a ``.tar.gz`` whose first member is ``manifest.json``: the format, the roomctl version, the
room, the database's applied migrations and the SHA-256 and size of every file. ``restore`` checks all of
that before touching anything, keeps what it replaces in ``<data_dir>/before-restore-<time>/`` and migrates
a database from an older roomctl. The service keeps running during a backup (SQLite's backup API copies a
consistent snapshot while writers go on); a restore refuses while it runs.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from roomctl import __version__
from roomctl.config import Settings
from roomctl.errors import StateError, StorageError, ValidationError

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
ARCHIVE_PREFIX = "roomctl-backup-"
ARCHIVE_SUFFIX = ".tar.gz"
DB_MEMBER = "db/roomctl.db"
CONFIG_MEMBER = "config/roomctl.toml"
VIDEOFRAMES = "videoframes"
SPACE_MARGIN = 1.2
"""Free space needed: this many times the size of what is backed up (compression only helps)."""
MIN_FREE_BYTES = 64 * 1024 * 1024
"""Never fill the card: this much must stay free after a backup or a restore."""
HASH_CHUNK = 1024 * 1024
SERVICE_UNIT = "roomctl.service"
SYSTEMCTL_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did.

    Attributes:
        aside: Where the replaced database, videoframes and configuration were kept.
        migrations: Migrations applied to the restored database (it came from an older roomctl).
        manifest: The archive's manifest.
    """

    aside: Path
    migrations: list[str]
    manifest: dict[str, Any]


def default_dest(settings: Settings) -> Path:
    """Where archives go: ``[backup] dir`` or ``<data_dir>/backups``."""
    return settings.backup.dir or settings.storage.data_dir / "backups"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _tree(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def _check_database(path: Path) -> list[str]:
    """Integrity-check an SQLite file and return its applied migrations."""
    try:
        conn = sqlite3.connect(path)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                raise sqlite3.DatabaseError(result)
            has_table = conn.execute("select 1 from sqlite_master where name = '_migrations'").fetchone()
            rows = conn.execute("select name from _migrations order by rowid").fetchall() if has_table else []
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ValidationError(f"the database in the backup is damaged ({exc})") from None
    return [row[0] for row in rows]


def _snapshot_database(source: Path, target: Path) -> list[str]:
    """Copy a live database with SQLite's backup API into a single self-contained file."""
    try:
        src = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=30)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
            src.close()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read the database {source} for a backup: {exc}") from None
    return _check_database(target)


def _ensure_space(directory: Path, needed: int, what: str) -> None:
    free = shutil.disk_usage(directory).free
    want = int(needed * SPACE_MARGIN) + MIN_FREE_BYTES
    if free < want:
        raise StorageError(
            f"not enough free space in {directory} for {what}: {want // 2**20} MB needed, {free // 2**20} MB "
            "free; delete old backups or point [backup] dir at a larger disk",
            needed_bytes=want,
            free_bytes=free,
        )


def _archive_path(dest: Path, settings: Settings, now: datetime) -> Path:
    stem = f"{ARCHIVE_PREFIX}{settings.room.site}-{settings.room.id}-{now:%Y%m%dT%H%M%SZ}"
    path = dest / f"{stem}{ARCHIVE_SUFFIX}"
    counter = 2
    while path.exists():
        path = dest / f"{stem}-{counter}{ARCHIVE_SUFFIX}"
        counter += 1
    return path


def backup(
    settings: Settings,
    dest: Path | None = None,
    *,
    config_path: Path | None = None,
    keep: int | None = None,
    now: datetime | None = None,
) -> Path:
    """Write a backup archive of the room and return its path.

    Args:
        settings: The room's configuration (where the database and videoframes are).
        dest: The directory for the archive (default ``[backup] dir`` or ``<data_dir>/backups``).
        config_path: The configuration file to include, if any.
        keep: Delete all but this many newest archives in ``dest`` afterwards (default ``[backup] keep``).
        now: The archive's time stamp (default: now).

    Raises:
        StorageError: No database, the database cannot be read, or not enough space (nothing is left behind).
    """
    dest = dest or default_dest(settings)
    database = settings.storage.database_path
    if not database.is_file():
        raise StorageError(f"there is no database at {database} to back up; check [storage] data_dir")
    dest.mkdir(parents=True, exist_ok=True)
    videoframes = settings.storage.data_dir / VIDEOFRAMES
    frames = list(_tree(videoframes)) if videoframes.is_dir() else []
    wal = database.with_name(database.name + "-wal")
    size = database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    size += sum(p.stat().st_size for p in frames)
    _ensure_space(dest, 2 * size, "a backup")  # the database snapshot plus the archive
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    final = _archive_path(dest, settings, stamp)
    partial = final.with_name(f".{final.name}.partial")
    with tempfile.TemporaryDirectory(dir=dest, prefix=".backup-") as staging:
        snapshot = Path(staging) / "roomctl.db"
        migrations = _snapshot_database(database, snapshot)
        members: list[tuple[str, Path]] = [(DB_MEMBER, snapshot)]
        if config_path is not None and config_path.is_file():
            members.append((CONFIG_MEMBER, config_path))
        members += [(f"{VIDEOFRAMES}/{p.relative_to(videoframes).as_posix()}", p) for p in frames]
        manifest = {
            "format": FORMAT,
            "roomctl_version": __version__,
            "created_at": stamp.isoformat(),
            "room": {"site": settings.room.site, "id": settings.room.id},
            "migrations": migrations,
            "files": {name: {"sha256": _sha256(path), "size": path.stat().st_size} for name, path in members},
        }
        try:
            with tarfile.open(partial, "w:gz") as tar:
                data = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(stamp.timestamp()), 0o640
                tar.addfile(info, io.BytesIO(data))
                for name, path in members:
                    tar.add(path, arcname=name, recursive=False)
            with partial.open("rb") as handle:
                os.fsync(handle.fileno())
            partial.rename(final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    log.info("backup written", extra={"archive": str(final), "files": len(members)})
    prune(dest, keep if keep is not None else settings.backup.keep)
    return final


def prune(dest: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest archives in ``dest``; return the deleted ones."""
    archives = sorted(dest.glob(f"{ARCHIVE_PREFIX}*{ARCHIVE_SUFFIX}"), key=lambda p: p.stat().st_mtime)
    doomed = archives[:-keep] if keep > 0 else archives
    for path in doomed:
        path.unlink()
        log.info("old backup deleted", extra={"archive": str(path)})
    return doomed


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and name not in ("", ".")


def verify_archive(archive: Path, into: Path | None = None) -> dict[str, Any]:
    """Check an archive completely and, if ``into`` is given, extract it there.

    Raises:
        ValidationError: The archive is missing, damaged, not a roomctl backup, or a file does not match
            the manifest.
    """
    if not archive.is_file():
        raise ValidationError(f"{archive} does not exist")
    damaged = f"{archive} is damaged or not a roomctl backup"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            if not members or members[0].name != MANIFEST:
                raise ValidationError(f"{damaged}: it has no {MANIFEST}")
            handle = tar.extractfile(members[0])
            assert handle is not None
            manifest = json.loads(handle.read())
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ValidationError(f"{damaged}: unknown backup format {manifest.get('format')!r}")
            files: dict[str, dict[str, Any]] = manifest.get("files", {})
            seen: set[str] = set()
            for member in members[1:]:
                if not member.isfile() or not _safe_name(member.name) or member.name not in files:
                    raise ValidationError(f"{damaged}: unexpected entry {member.name!r}")
                digest = hashlib.sha256()
                content = tar.extractfile(member)
                assert content is not None
                while chunk := content.read(HASH_CHUNK):
                    digest.update(chunk)
                if digest.hexdigest() != files[member.name]["sha256"]:
                    raise ValidationError(f"{damaged}: {member.name} does not match its checksum")
                seen.add(member.name)
            missing = set(files) - seen
            if missing or DB_MEMBER not in seen:
                raise ValidationError(f"{damaged}: missing {', '.join(sorted(missing or {DB_MEMBER}))}")
            if into is not None:
                # Names were checked above; the "data" filter (Python >= 3.11.4) also refuses odd modes.
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(into, members=members[1:], filter="data")
                else:
                    tar.extractall(into, members=members[1:])  # noqa: S202
    except (tarfile.TarError, EOFError, zlib.error, OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValidationError(f"{damaged}: {exc}") from None
    if into is not None:
        _check_database(into / DB_MEMBER)
    return manifest


def systemd_service_running(unit: str = SERVICE_UNIT) -> bool:
    """True when systemd reports ``unit`` active (False where there is no systemd)."""
    systemctl = shutil.which("systemctl")
    if systemctl is None or not Path("/run/systemd/system").is_dir():
        return False
    result = subprocess.run(
        [systemctl, "is-active", "--quiet", unit], check=False, timeout=SYSTEMCTL_TIMEOUT_SECONDS
    )
    return result.returncode == 0


def _db_files(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm")]


def _give_to_owner_of(directory: Path, paths: list[Path]) -> None:
    """Run as root, hand restored files to the data directory's owner (the service user)."""
    if os.geteuid() != 0:
        return
    info = directory.stat()
    for path in paths:
        if not path.exists():
            continue
        for item in [path, *(path.rglob("*") if path.is_dir() else [])]:
            os.chown(item, info.st_uid, info.st_gid, follow_symlinks=False)


def restore(
    archive: Path,
    settings: Settings,
    *,
    config_path: Path | None = None,
    force: bool = False,
    service_running: Callable[[], bool] = systemd_service_running,
    now: datetime | None = None,
) -> RestoreResult:
    """Replace the room's database, videoframes and (if given) configuration with an archive's.

    Args:
        archive: A file written by :func:`backup`.
        settings: The room's configuration (where the database and videoframes go).
        config_path: Where the configuration goes; ``None`` leaves the configuration alone.
        force: Restore even though the service seems to run.
        service_running: Tells whether roomctl.service runs.
        now: Names the directory the replaced files are kept in.

    Raises:
        StateError: The service runs (stop it first, or ``force``).
        ValidationError: The archive is damaged, not a backup, or from a newer roomctl; nothing was changed.
        StorageError: Not enough space; nothing was changed.
    """
    from roomctl.store import open_database
    from roomctl.store.migrations import all_migrations

    if not force and service_running():
        raise StateError(
            f"{SERVICE_UNIT} is running; stop it with `systemctl stop roomctl` before restoring "
            "(or pass --force if it is not using this database)"
        )
    data_dir = settings.storage.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    _ensure_space(data_dir, archive.stat().st_size * 4 if archive.is_file() else 0, "a restore")
    if config_path is not None and not os.access(config_path.parent, os.W_OK):
        raise StorageError(f"cannot write {config_path}: run the restore as root (sudo)")
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".restore-") as staging_name:
        staging = Path(staging_name)
        manifest = verify_archive(archive, into=staging)
        unknown = set(manifest.get("migrations", [])) - {m.name for m in all_migrations()}
        if unknown:
            raise ValidationError(
                f"{archive} was made by a newer roomctl ({manifest.get('roomctl_version')}, migrations "
                f"{', '.join(sorted(unknown))}); upgrade roomctl first"
            )
        aside = data_dir / f"before-restore-{stamp:%Y%m%dT%H%M%SZ}"
        aside.mkdir()
        moved: list[tuple[Path, Path]] = []

        def move(src: Path, dst: Path) -> None:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            moved.append((src, dst))

        database = settings.storage.database_path
        videoframes = data_dir / VIDEOFRAMES
        try:
            for path in _db_files(database):
                if path.exists():
                    move(path, aside / path.name)
            if videoframes.exists():
                move(videoframes, aside / VIDEOFRAMES)
            move(staging / DB_MEMBER, database)
            if (staging / VIDEOFRAMES).is_dir():
                move(staging / VIDEOFRAMES, videoframes)
            if config_path is not None and (staging / CONFIG_MEMBER).is_file():
                if config_path.exists():
                    shutil.copy2(config_path, aside / config_path.name)
                incoming = config_path.with_name(f".{config_path.name}.restore")
                shutil.copy2(staging / CONFIG_MEMBER, incoming)
                os.replace(incoming, config_path)
            _give_to_owner_of(data_dir, [database, videoframes])
            db = open_database(database)
            before = set(manifest.get("migrations", []))
            ran = [row[0] for row in db.execute("select name from _migrations order by rowid") if row[0] not in before]
            db.close()
        except BaseException:
            log.error("restore failed; putting the previous files back")
            for src, dst in reversed(moved):
                os.replace(dst, src)
                if dst == database:  # the restored database's journal files must not meet the old one
                    for journal in _db_files(database)[1:]:
                        journal.unlink(missing_ok=True)
            if config_path is not None and (aside / config_path.name).exists():
                shutil.copy2(aside / config_path.name, config_path)
            shutil.rmtree(aside, ignore_errors=True)
            raise
    log.info("backup restored", extra={"archive": str(archive), "aside": str(aside)})
    return RestoreResult(aside=aside, migrations=ran, manifest=manifest)
