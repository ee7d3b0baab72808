"""deduce, the Dutch de-identification engine: its lookup data built once, loaded once per process.

deduce builds its lookup structures once (:func:`build_deduce`, run by ``roomctl deidentify build`` from
``make setup`` and ``roomctl install``) into :func:`deduce_dir`, inside the virtualenv, which the hardened
service can read. The street list (150 000 names) and the health-care institution list are left out of that
build: they made loading take half a minute and building two minutes; addresses are still found by deduce's
street pattern (``…straat 12``, ``…laan``), house numbers and postcodes. At run time roomctl never builds:
without a built cache Dutch de-identification refuses (:class:`DeidentifierNotReadyError`) rather than send
anything.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

from roomctl.core import heap
from roomctl.errors import StateError
from roomctl.proposal.name_forms import fold

log = logging.getLogger(__name__)

DEDUCE_DIR_ENV = "ROOMCTL_DEDUCE_DIR"
"""Overrides where the built deduce lookup data lives (default: inside the virtualenv)."""
DEDUCE_STAMP = "roomctl-deduce.json"
"""Written last by :func:`build_deduce`: which deduce version built the directory."""
LEFT_OUT_LISTS = (
    "src/locations/lst_street/items.txt",
    "src/locations/lst_street/streets_bag.txt",
    "src/institutions/lst_healthcare_institution/items.txt",
)
"""deduce lookup lists emptied in roomctl's build (see the module docstring)."""
INTERFIX_SURNAME_LIST = "src/names/lst_interfix_surname/items.txt"
"""deduce's list of surnames that follow a particle, inside its lookup data."""


class DeidentifierNotReadyError(StateError):
    """deduce's lookup data was not built on this machine (``roomctl deidentify build``)."""

    slug = "deidentify-not-ready"
    title = "De-identification is not set up"


def import_deduce() -> Any:
    """``import deduce``, undoing what its import does to logging.

    deduce 3 calls ``logging.basicConfig(stream=sys.stdout, level=logging.DEBUG)`` when imported: every
    library's debug messages would go to standard output. The root logger keeps its handlers and level.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import deduce

    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    return deduce


def deduce_dir() -> Path:
    """Where roomctl's build of deduce's lookup data lives: ``$ROOMCTL_DEDUCE_DIR`` or ``<venv>/share/roomctl/deduce``."""
    override = os.environ.get(DEDUCE_DIR_ENV, "").strip()
    return Path(override) if override else Path(sys.prefix) / "share" / "roomctl" / "deduce"


def deduce_ready(directory: Path | None = None) -> bool:
    """True when :func:`build_deduce` completed in ``directory`` for the installed deduce version."""
    deduce = import_deduce()

    stamp = (directory or deduce_dir()) / DEDUCE_STAMP
    try:
        return bool(json.loads(stamp.read_text(encoding="utf-8")).get("deduce") == deduce.__version__)
    except (OSError, ValueError):
        return False


def build_deduce(directory: Path | None = None, *, force: bool = False) -> Path:
    """Copy deduce's lookup lists (without the left-out ones) to ``directory`` and build its cache there.

    Does nothing when the directory is already built for this deduce version (unless ``force``).

    Returns:
        The directory.
    """
    deduce = import_deduce()

    target = directory or deduce_dir()
    if deduce_ready(target) and not force:
        return target
    source = Path(deduce.__file__).parent / "data" / "lookup"
    staging = target.with_name(target.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns("cache", "__pycache__"))
    for name in LEFT_OUT_LISTS:
        path = staging / name
        if path.exists():
            path.write_text("", encoding="utf-8")
    log.info("building deduce's lookup structures in %s", target)
    deduce.Deduce(lookup_data_path=staging, cache_path=staging, build_lookup_structs=True)
    (staging / DEDUCE_STAMP).write_text(json.dumps({"deduce": deduce.__version__}), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


_ENGINE: Any = None
_ENGINE_LOCK = threading.Lock()
ENGINE_USE = threading.Lock()
"""One text at a time through the shared engine (asks run in worker threads)."""


def load_deduce(directory: Path | None = None) -> Any:
    """The process's ``deduce.Deduce`` loaded from the built directory (loaded once, then shared).

    Raises:
        DeidentifierNotReadyError: The directory was never built; roomctl never builds at run time.
    """
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            target = directory or deduce_dir()
            if not deduce_ready(target):
                raise DeidentifierNotReadyError(
                    f"the Dutch de-identification is not set up on this machine ({target} is not built); run "
                    "`roomctl deidentify build` (make setup and roomctl install do it). Nothing was sent."
                )
            with heap.loading("deduce loaded"):  # its lookup tables are most of the process's objects
                deduce = import_deduce()
                _ENGINE = deduce.Deduce(lookup_data_path=target, cache_path=target)
        return _ENGINE


def deduce_loaded() -> bool:
    """True once :func:`load_deduce` has loaded the engine in this process."""
    return _ENGINE is not None


_INTERFIX_SURNAMES: frozenset[str] | None = None


def interfix_surnames() -> frozenset[str]:
    """The list of deduce's surnames that follow a particle ("Dam", "Groot", "Leeuwen"), folded."""
    global _INTERFIX_SURNAMES
    if _INTERFIX_SURNAMES is None:
        deduce = import_deduce()

        path = Path(deduce.__file__).parent / "data" / "lookup" / INTERFIX_SURNAME_LIST
        _INTERFIX_SURNAMES = frozenset(fold(line.strip()) for line in path.read_text(encoding="utf-8").splitlines()
                                       if line.strip())
    return _INTERFIX_SURNAMES
