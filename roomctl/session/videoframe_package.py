"""Reading a videoframe package (a folder or a zip) safely and validating it.

A package holds ``manifest.json`` (see ``manifest_schema.json``), the video clips its steps name and, if it
likes, text files (``.md``, ``.txt``). Nothing else: paths that escape the package (``..``, absolute paths,
symbolic links), zip bombs and files of unknown type are refused before anything is installed. Every error
names the file and, for the manifest, the field, e.g. ``manifest.json: steps[2].kind: 'dance' is not one of
[...]``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from roomctl.errors import ValidationError

if TYPE_CHECKING:
    import jsonschema

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
"""The manifest's file name at the package root."""

SCHEMA_PATH = Path(__file__).with_name("manifest_schema.json")
"""The JSON Schema of the manifest."""

MAX_PACKAGE_FILES = 200
"""Most files (and folders) a package may hold."""

MAX_PACKAGE_BYTES = 2 * 1024**3
"""Largest total (uncompressed) size of a package: 2 GiB of video is hours of it."""

MAX_MANIFEST_BYTES = 256 * 1024
"""Largest manifest.json."""

MAX_COMPRESSION_RATIO = 50
"""Largest uncompressed/compressed ratio of a large zip member; video barely compresses, bombs compress 1000x."""

RATIO_CHECK_MIN_BYTES = 1024 * 1024
"""Members smaller than this skip the ratio check (text compresses well and is capped by the file limits)."""

COPY_CHUNK_BYTES = 1024 * 1024
"""Read size when extracting or copying."""

PROBE_TIMEOUT_SECONDS = 20.0
"""Longest ffprobe may take on one clip."""

MEDIA_EXTENSIONS = {".mp4": "isobmff", ".m4v": "isobmff", ".mov": "isobmff", ".webm": "matroska", ".mkv": "matroska"}
"""Video file extensions a package may hold, with the container family their bytes must show."""

TEXT_EXTENSIONS = frozenset({".md", ".txt"})
"""Documentation a package may carry (README, licence)."""

IGNORED_NAMES = frozenset({"__MACOSX", ".DS_Store", "Thumbs.db"})
"""Junk that archivers add; skipped, not refused."""

EBML_MAGIC = b"\x1a\x45\xdf\xa3"
"""First bytes of a Matroska/WebM file."""

ISOBMFF_BOX_TYPES = frozenset({b"ftyp"})
"""Box type at offset 4 of an MP4/MOV file."""


@cache
def manifest_schema() -> dict[str, Any]:
    """The manifest's JSON Schema."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def _field(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: jsonschema.ValidationError) -> str:
    where = _field(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        name = f"{where}.{missing[0]}" if where else missing[0]
        return f"{MANIFEST_NAME}: {name}: is required"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        name = f"{where}.{extra[0]}" if where else extra[0]
        return f"{MANIFEST_NAME}: {name}: unknown field; allowed are {', '.join(sorted(allowed))}"
    if error.validator == "minItems" and error.validator_value == 1:
        return f"{MANIFEST_NAME}: {where}: must list at least one step"
    return f"{MANIFEST_NAME}: {where or '(top level)'}: {error.message}"


def _fail(problems: list[str]) -> ValidationError:
    shown = problems[:10]
    more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
    return ValidationError("; ".join(shown) + more, errors=problems)


def check_schema(manifest: object) -> None:
    """Validate a parsed manifest against the JSON Schema.

    Raises:
        ValidationError: Naming ``manifest.json``, the field and what is wrong (every problem, in field order).
    """
    import jsonschema  # imported when a package is checked: not needed to start the room

    validator = jsonschema.Draft202012Validator(manifest_schema())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise _fail([_describe(e) for e in errors])


def read_manifest(root: Path) -> dict[str, Any]:
    """Read, parse and schema-validate ``root/manifest.json``.

    Raises:
        ValidationError: The manifest is missing, too large, not JSON or not valid.
    """
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise ValidationError(f"{MANIFEST_NAME}: missing; a package needs a manifest.json at its root")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ValidationError(f"{MANIFEST_NAME}: larger than {MAX_MANIFEST_BYTES // 1024} KiB")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValidationError(f"{MANIFEST_NAME}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise ValidationError(f"{MANIFEST_NAME}: {where}: not valid JSON ({exc.msg})") from None
    check_schema(manifest)
    return manifest


def _bad_relative(name: str) -> str | None:
    """Why ``name`` (a path inside the package) is unsafe, or ``None``."""
    if not name or "\\" in name or "\x00" in name:
        return "is not a plain relative path with forward slashes"
    pure = PurePosixPath(name)
    if pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path; paths must stay inside the package"
    if ".." in pure.parts:
        return "points outside the package (..)"
    return None


def check_references(manifest: dict[str, Any], root: Path, question_ids: frozenset[str]) -> None:
    """Check what the schema cannot: unique step ids, clips inside the package, known kader questions.

    Raises:
        ValidationError: Naming the field of every problem.
    """
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, step in enumerate(manifest["steps"]):
        where = f"{MANIFEST_NAME}: steps[{index}]"
        if step["id"] in seen:
            first = seen[step["id"]]
            problems.append(f"{where}.id: {step['id']!r} is used by steps[{first}] too; step ids must be unique")
        seen.setdefault(step["id"], index)
        clip = step.get("clip")
        if clip is not None:
            why = _bad_relative(clip)
            target = root / clip
            if why:
                problems.append(f"{where}.clip: {clip!r} {why}")
            elif Path(clip).suffix.lower() not in MEDIA_EXTENSIONS:
                kinds = ", ".join(MEDIA_EXTENSIONS)
                problems.append(f"{where}.clip: {clip!r} is not a video file; use one of {kinds}")
            elif target.is_symlink() or not target.is_file():
                problems.append(f"{where}.clip: {clip!r} does not exist in the package")
        for qindex, qid in enumerate(step.get("questions", [])):
            if qid not in question_ids:
                known = ", ".join(sorted(question_ids, key=lambda q: (len(q), q)))
                problems.append(f"{where}.questions[{qindex}]: {qid!r} is not a kader question; known are {known}")
    if problems:
        raise _fail(problems)


def container_family(path: Path) -> str | None:
    """``"isobmff"`` (MP4/MOV), ``"matroska"`` (MKV/WebM) or ``None``, judged by the file's first bytes."""
    with path.open("rb") as handle:
        head = handle.read(16)
    if head[:4] == EBML_MAGIC:
        return "matroska"
    if len(head) >= 8 and head[4:8] in ISOBMFF_BOX_TYPES:
        return "isobmff"
    return None


def probe_video(path: Path, name: str) -> None:
    """Refuse ``path`` unless it is a video container of the kind its extension says, with a video stream.

    The container is checked by its magic bytes; the streams by ffprobe when it is installed.

    Raises:
        ValidationError: ``name`` (the path in the package) is not a video.
    """
    expected = MEDIA_EXTENSIONS[path.suffix.lower()]
    found = container_family(path)
    if found != expected:
        raise ValidationError(f"{name}: is not a video (its bytes are not a {path.suffix.lower()} container)")
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        log.warning("ffprobe is not installed; %s checked by its magic bytes only", name)
        return
    command = [ffprobe, "-v", "error", "-show_entries", "stream=codec_type:stream_disposition=attached_pic",
               "-of", "json", str(path)]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise ValidationError(f"{name}: could not be read within {PROBE_TIMEOUT_SECONDS:.0f} s") from None
    if result.returncode != 0:
        raise ValidationError(f"{name}: is not a readable video ({result.stderr.strip()[:200]})")
    streams = json.loads(result.stdout or "{}").get("streams", [])
    video = [
        s for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]  # fmt: skip
    if not video:
        raise ValidationError(f"{name}: is not a video (it has no video stream)")


def check_files(root: Path) -> None:
    """Refuse files of unknown type; probe every video in the package.

    Raises:
        ValidationError: Naming the file.
    """
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        suffix = path.suffix.lower()
        if name == MANIFEST_NAME or suffix in TEXT_EXTENSIONS:
            continue
        if suffix in MEDIA_EXTENSIONS:
            probe_video(path, name)
            continue
        kinds = ", ".join([*MEDIA_EXTENSIONS, *sorted(TEXT_EXTENSIONS)])
        shown = suffix or "(none)"
        raise ValidationError(f"{name}: unknown file type {shown!r}; a package holds {MANIFEST_NAME}, {kinds}")


def validate_package(root: Path, question_ids: frozenset[str], *, probe: bool = True) -> dict[str, Any]:
    """Validate the staged package at ``root``; return its manifest.

    Raises:
        ValidationError: Naming the file and field of the first problems found.
    """
    manifest = read_manifest(root)
    check_references(manifest, root, question_ids)
    if probe:
        check_files(root)
    return manifest


class _Budget:
    """Counts files and bytes while a package is staged, refusing more than the limits."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.files = 0
        self.bytes = 0

    def add_file(self, name: str) -> None:
        self.files += 1
        if self.files > MAX_PACKAGE_FILES:
            raise ValidationError(f"{self.source}: holds more than {MAX_PACKAGE_FILES} files; refused")

    def add_bytes(self, name: str, count: int) -> None:
        self.bytes += count
        if self.bytes > MAX_PACKAGE_BYTES:
            raise ValidationError(
                f"{self.source}: {name}: the package unpacks to more than {MAX_PACKAGE_BYTES // 1024**2} MiB; refused"
            )


def _copy_stream(read: Any, out: Path, name: str, budget: _Budget, declared: int | None = None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with out.open("xb") as target:
        while chunk := read(COPY_CHUNK_BYTES):
            written += len(chunk)
            budget.add_bytes(name, len(chunk))
            if declared is not None and written > declared:
                raise ValidationError(f"{budget.source}: {name}: unpacks to more than its declared size; refused")
            target.write(chunk)


def _ignored(parts: tuple[str, ...]) -> bool:
    return any(part in IGNORED_NAMES for part in parts)


def _stage_zip(source: Path, dest: Path) -> None:
    label = source.name
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationError(f"{label}: not a readable zip file ({exc})") from None
    budget = _Budget(label)
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_PACKAGE_FILES:
            raise ValidationError(f"{label}: holds {len(infos)} entries, more than {MAX_PACKAGE_FILES}; refused")
        declared_total = sum(i.file_size for i in infos)
        if declared_total > MAX_PACKAGE_BYTES:
            raise ValidationError(
                f"{label}: unpacks to {declared_total // 1024**2} MiB, "
                f"more than {MAX_PACKAGE_BYTES // 1024**2} MiB; refused"
            )
        for info in infos:
            name = info.filename
            why = _bad_relative(name.rstrip("/") or name)
            if why:
                raise ValidationError(f"{label}: {name}: {why}; refused")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ValidationError(f"{label}: {name}: symbolic links are not allowed in a package; refused")
            kind = stat.S_IFMT(mode)
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                raise ValidationError(f"{label}: {name}: not a regular file; refused")
            if (
                info.file_size >= RATIO_CHECK_MIN_BYTES
                and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
            ):
                raise ValidationError(
                    f"{label}: {name}: compressed more than {MAX_COMPRESSION_RATIO}:1 (a zip bomb?); refused"
                )
        for info in infos:
            parts = PurePosixPath(info.filename).parts
            if info.is_dir() or _ignored(parts):
                continue
            budget.add_file(info.filename)
            with archive.open(info) as member:
                _copy_stream(member.read, dest.joinpath(*parts), info.filename, budget, declared=info.file_size)


def _stage_folder(source: Path, dest: Path) -> None:
    label = source.name
    budget = _Budget(label)
    for current, dirnames, filenames in os.walk(source, followlinks=False):
        here = Path(current)
        for entry in [*dirnames, *filenames]:
            path = here / entry
            name = path.relative_to(source).as_posix()
            if _ignored(tuple(PurePosixPath(name).parts)):
                continue
            if path.is_symlink():
                raise ValidationError(f"{label}: {name}: symbolic links are not allowed in a package; refused")
            if entry in filenames:
                if not stat.S_ISREG(path.lstat().st_mode):
                    raise ValidationError(f"{label}: {name}: not a regular file; refused")
                budget.add_file(name)
                with path.open("rb") as handle:
                    _copy_stream(handle.read, dest / name, name, budget)
        dirnames[:] = [d for d in dirnames if d not in IGNORED_NAMES]


def _unwrap(dest: Path) -> Path:
    """The package root inside ``dest``: itself, or its only folder when an archiver wrapped the package."""
    if (dest / MANIFEST_NAME).exists():
        return dest
    entries = list(dest.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / MANIFEST_NAME).exists():
        return entries[0]
    return dest


def stage_package(source: Path, dest: Path) -> Path:
    """Copy the package at ``source`` (folder or ``.zip``) into the empty folder ``dest``; return its root there.

    Raises:
        ValidationError: ``source`` does not exist or is neither a folder nor a zip; or the package holds unsafe
            paths, links, too many or too large files.
    """
    if source.is_symlink():
        source = source.resolve()
    if source.is_dir():
        _stage_folder(source, dest)
    elif source.is_file() and zipfile.is_zipfile(source):
        _stage_zip(source, dest)
    elif source.is_file():
        raise ValidationError(f"{source.name}: not a videoframe package; give a folder or a .zip file")
    else:
        raise ValidationError(f"{source}: does not exist")
    return _unwrap(dest)
