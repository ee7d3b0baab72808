"""Videoframes: the guided steps of a session, installed as packages into the room's data folder.

The store is ``<storage.data_dir>/videoframes/<id>/<version>/`` holding the package as installed (a validated
``manifest.json`` and its clips). An install is staged in a temporary folder beside the store and renamed into
place, so a reader never sees half a package. :class:`VideoframeLibrary` is what the session machine, the CLI
and /admin use.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roomctl.errors import ConflictError, NotFoundError, ValidationError
from roomctl.session import media
from roomctl.session.content import DEFAULT_VIDEOFRAME_MANIFEST
from roomctl.session.kader import default_question_ids
from roomctl.session.videoframe_package import (
    MANIFEST_NAME,
    read_manifest,
    stage_package,
    validate_package,
)

log = logging.getLogger(__name__)

STORE_FOLDER = "videoframes"
"""The store's folder inside ``storage.data_dir``."""

DEFAULT_ID = "werksituatie-verbeteren"
"""The shipped videoframe."""

STEP_KINDS = ("analysis", "problem", "brainstorm", "proposal", "validation", "break", "meditation", "custom")
"""What a step can be; the session machine treats ``proposal`` and ``validation`` specially."""

_TEMP_PREFIX = ".tmp-"
_TRASH_PREFIX = ".trash-"


@dataclass(frozen=True)
class Step:
    """One step of a videoframe.

    Attributes:
        id: Unique within the videoframe.
        title: ``{"nl": ..., "en": ...}``.
        kind: One of :data:`STEP_KINDS`.
        suggested_minutes: Planned length.
        clip: The clip's path inside the package, or ``None``.
        clip_path: The installed clip file, or ``None`` when the step has no clip.
        questions: Ids of the kader questions this step works on.
        scene: The room scene to set when the step starts, or ``None``.
        prompt: What the group does, ``{"nl": ..., "en": ...}``, or ``None``.
    """

    id: str
    title: dict[str, str]
    kind: str
    suggested_minutes: float
    clip: str | None = None
    clip_path: Path | None = None
    questions: tuple[str, ...] = ()
    scene: str | None = None
    prompt: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``clip_path`` as a string)."""
        return {
            "id": self.id,
            "title": dict(self.title),
            "kind": self.kind,
            "suggested_minutes": self.suggested_minutes,
            "clip": self.clip,
            "clip_path": str(self.clip_path) if self.clip_path else None,
            "questions": list(self.questions),
            "scene": self.scene,
            "prompt": dict(self.prompt) if self.prompt else None,
        }


@dataclass(frozen=True)
class Videoframe:
    """An installed videoframe.

    Attributes:
        id: Stable id.
        version: Its version string, e.g. ``1.0.0``.
        title: ``{"nl": ..., "en": ...}``.
        steps: The steps in order.
        path: The installed package folder.
        description: ``{"nl": ..., "en": ...}`` or ``None``.
    """

    id: str
    version: str
    title: dict[str, str]
    steps: tuple[Step, ...]
    path: Path
    description: dict[str, str] | None = field(default=None)

    @property
    def total_minutes(self) -> float:
        """The steps' suggested minutes added up."""
        return sum(step.suggested_minutes for step in self.steps)

    def step(self, step_id: str) -> Step:
        """The step with ``step_id``.

        Raises:
            NotFoundError: The videoframe has no such step.
        """
        for step in self.steps:
            if step.id == step_id:
                return step
        known = ", ".join(s.id for s in self.steps)
        raise NotFoundError(f"videoframe {self.id} has no step {step_id!r}; its steps are {known}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "id": self.id,
            "version": self.version,
            "title": dict(self.title),
            "description": dict(self.description) if self.description else None,
            "total_minutes": self.total_minutes,
            "steps": [s.to_dict() for s in self.steps],
        }


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a version string (``1.10`` after ``1.9``)."""
    return tuple(int(part) for part in version.split("."))


def _from_manifest(manifest: dict[str, Any], folder: Path) -> Videoframe:
    steps = tuple(
        Step(
            id=raw["id"],
            title=dict(raw["title"]),
            kind=raw["kind"],
            suggested_minutes=float(raw["suggested_minutes"]),
            clip=raw.get("clip"),
            clip_path=folder / raw["clip"] if raw.get("clip") else None,
            questions=tuple(raw.get("questions", ())),
            scene=raw.get("scene"),
            prompt=dict(raw["prompt"]) if raw.get("prompt") else None,
        )
        for raw in manifest["steps"]
    )
    return Videoframe(
        id=manifest["id"],
        version=manifest["version"],
        title=dict(manifest["title"]),
        steps=steps,
        path=folder,
        description=dict(manifest["description"]) if manifest.get("description") else None,
    )


class VideoframeLibrary:
    """The installed videoframes in ``<data_dir>/videoframes``.

    Args:
        data_dir: ``storage.data_dir``.
        question_ids: Kader question ids a step may name (default: the shipped ``q1`` .. ``q10``).
        clip_spec: Length and size of the default videoframe's generated clips.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        question_ids: Iterable[str] | None = None,
        clip_spec: media.ClipSpec = media.DEFAULT_CLIP_SPEC,
    ) -> None:
        self.root = Path(data_dir) / STORE_FOLDER
        self.question_ids = frozenset(question_ids) if question_ids is not None else default_question_ids()
        self.clip_spec = clip_spec
        self._lock = threading.Lock()
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep()

    def _sweep(self) -> None:
        """Remove what an interrupted install or remove left behind."""
        for leftover in self.root.iterdir():
            if leftover.name.startswith((_TEMP_PREFIX, _TRASH_PREFIX)):
                shutil.rmtree(leftover, ignore_errors=True)
                log.info("removed leftover %s from an interrupted install", leftover.name)

    def _versions(self, videoframe_id: str) -> list[str]:
        folder = self.root / videoframe_id
        if videoframe_id.startswith(".") or "/" in videoframe_id or not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir() if (p / MANIFEST_NAME).is_file()]
        return sorted(found, key=version_key)

    def versions(self, videoframe_id: str) -> list[str]:
        """Installed versions of ``videoframe_id``, lowest first (empty if none)."""
        return self._versions(videoframe_id)

    def get(self, videoframe_id: str, version: str | None = None) -> Videoframe:
        """An installed videoframe: ``version``, or the highest installed.

        Raises:
            NotFoundError: It is not installed.
        """
        versions = self._versions(videoframe_id)
        if version is None and versions:
            version = versions[-1]
        if version is None or version not in versions:
            which = f"{videoframe_id} {version}" if version else videoframe_id
            raise NotFoundError(f"videoframe {which} is not installed; see `roomctl videoframes list`")
        folder = self.root / videoframe_id / version
        return _from_manifest(read_manifest(folder), folder)

    def list(self) -> list[Videoframe]:
        """The highest installed version of every videoframe, by id."""
        ids = sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        return [self.get(i) for i in ids if self._versions(i)]

    def install(self, source: Path, *, replace: bool = False) -> Videoframe:
        """Validate the package at ``source`` (folder or zip) and install it.

        Args:
            source: The package.
            replace: Replace an installed package with the same id and version (otherwise that is a conflict).

        Raises:
            ValidationError: The package is unsafe or invalid (naming the file and field); nothing is installed.
            ConflictError: That id and version is installed and ``replace`` is false.
        """
        with self._lock:
            staging = self.root / f"{_TEMP_PREFIX}{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                package = stage_package(Path(source), staging / "package")
                manifest = validate_package(package, self.question_ids)
                return self._place(package, manifest, replace=replace)
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    def _place(self, package: Path, manifest: dict[str, Any], *, replace: bool) -> Videoframe:
        target = self.root / manifest["id"] / manifest["version"]
        label = f"{manifest['id']} {manifest['version']}"
        (package / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        target.parent.mkdir(exist_ok=True)
        if target.exists():
            if not replace:
                raise ConflictError(f"videoframe {label} is already installed; remove it first or raise its version")
            trash = self.root / f"{_TRASH_PREFIX}{uuid.uuid4().hex}"
            target.rename(trash)
            package.rename(target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            package.rename(target)
        log.info("installed videoframe %s (%d steps)", label, len(manifest["steps"]))
        return _from_manifest(manifest, target)

    def remove(self, videoframe_id: str, version: str | None = None) -> None:
        """Remove every installed version of ``videoframe_id`` (or only ``version``).

        Raises:
            NotFoundError: It is not installed.
        """
        with self._lock:
            versions = self._versions(videoframe_id)
            if not versions or (version is not None and version not in versions):
                which = f"{videoframe_id} {version}" if version else videoframe_id
                raise NotFoundError(f"videoframe {which} is not installed; see `roomctl videoframes list`")
            folder = self.root / videoframe_id
            if version is not None and len(versions) > 1:
                folder = folder / version
            trash = self.root / f"{_TRASH_PREFIX}{uuid.uuid4().hex}"
            folder.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
        log.info("removed videoframe %s %s", videoframe_id, version or "(all versions)")

    def default(self) -> Videoframe:
        """The shipped videoframe "Werksituatie verbeteren", installed (with generated clips) on first use."""
        shipped = json.loads(DEFAULT_VIDEOFRAME_MANIFEST.read_text(encoding="utf-8"))
        if shipped["version"] in self._versions(shipped["id"]):
            return self.get(shipped["id"], shipped["version"])
        try:
            return self.install_default(replace=False)
        except ConflictError:
            # Another caller installed it while this one was generating clips.
            return self.get(shipped["id"], shipped["version"])

    def install_default(self, *, replace: bool = True) -> Videoframe:
        """(Re)install the shipped videoframe, generating its clips when ffmpeg is available."""
        with tempfile.TemporaryDirectory(prefix="roomctl-default-") as tmp:
            package = build_default_package(Path(tmp) / DEFAULT_ID, self.clip_spec)
            return self.install(package, replace=replace)


def build_default_package(out: Path, spec: media.ClipSpec = media.DEFAULT_CLIP_SPEC) -> Path:
    """Write the shipped videoframe as a package folder at ``out``: manifest plus generated clips.

    Without ffmpeg the steps lose their clips (logged) and the package is still complete.

    Raises:
        ValidationError: ``out`` exists and is not empty.
        AdapterError: ffmpeg is installed but fails.
    """
    if out.exists() and any(out.iterdir()):
        raise ValidationError(f"{out}: exists and is not empty; give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads(DEFAULT_VIDEOFRAME_MANIFEST.read_text(encoding="utf-8"))
    if media.ffmpeg_available():
        for step in manifest["steps"]:
            if step.get("clip"):
                key = f"{manifest['id']}-{manifest['version']}-{step['id']}"
                media.cached_clip(out / step["clip"], key, step["title"]["nl"], step["title"]["en"], spec)
    else:
        log.warning("ffmpeg is not installed: the default videoframe's steps run without clips")
        for step in manifest["steps"]:
            step.pop("clip", None)
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return out
