"""How live captions run on this machine: chosen from the model's size and the number of cores.

A caption pass re-reads the few seconds since the last agreed word, greedy and with a short encoder window, so
its cost grows with the model: ``tiny`` and ``base`` keep up on two cores, ``small`` needs four, larger models
are left to the final transcript. The admin may turn captions off (``[speech] live_captions = false``) or set
the interval between passes (``caption_interval_seconds``); ``roomctl doctor`` measures whether they keep up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from roomctl.config import SpeechSettings

INTERVAL_SECONDS = {"tiny": 1.0, "base": 2.0, "small": 3.0}
"""Seconds of new audio between caption passes, by model size (a word waits about half of it, plus the pass)."""
MIN_CORES = {"tiny": 1, "base": 2, "small": 4}
"""Fewer cores than this and the captions would fall behind all the time: they stay off unless configured."""
DEFAULT_INTERVAL_SECONDS = 3.0
"""For a model of unknown size (a path or a large model): captions only on request, and slowly."""


@dataclass(frozen=True)
class CaptionPlan:
    """How the worker and the live captions run.

    Attributes:
        enabled: Live captions are on.
        interval_seconds: New audio between caption passes.
        parallel: Requests the worker runs at once (2: captions never wait for a chunk of the final transcript).
        reason: Why, in a sentence (for ``roomctl doctor`` and the log).
    """

    enabled: bool
    interval_seconds: float
    parallel: int
    reason: str


def model_size(model: str) -> str:
    """``tiny``, ``base``, ``small`` or ``other`` for a model name like ``base``, ``tiny.en`` or ``small-nl``."""
    name = model.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    for size in INTERVAL_SECONDS:
        if name == size or name.startswith((f"{size}.", f"{size}-", f"{size}_")):
            return size
    return "other"


def caption_plan(settings: SpeechSettings, cores: int | None = None) -> CaptionPlan:
    """The caption settings for ``settings.model`` on a machine with ``cores`` cores (default: this one)."""
    cores = cores or os.cpu_count() or 1
    size = model_size(settings.model)
    interval = settings.caption_interval_seconds or INTERVAL_SECONDS.get(size, DEFAULT_INTERVAL_SECONDS)
    parallel = 2 if cores >= 2 else 1
    if settings.live_captions is False:
        return CaptionPlan(False, interval, 1, "live captions are turned off ([speech] live_captions = false)")
    enough = cores >= MIN_CORES.get(size, 8)
    if settings.live_captions is None and not enough:
        return CaptionPlan(
            False, interval, 1, f"model {settings.model} on {cores} cores would fall behind: captions are off "
            "(set [speech] live_captions = true to force them, or use a smaller model)"
        )  # fmt: skip
    reason = f"model {settings.model} ({size}) on {cores} cores: a caption pass every {interval:g} s of speech"
    if not enough:
        reason += "; forced on although this machine is likely too slow"
    return CaptionPlan(True, interval, parallel, reason)
