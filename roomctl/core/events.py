"""The base of every event the room core handles.

Capabilities define their own events next to the code that owns them (``roomctl/access/events.py`` has
``Tap``), as frozen dataclasses deriving from :class:`Event`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """Something that happened in or to the room. Subclasses add their fields."""

    source: str = "core"
