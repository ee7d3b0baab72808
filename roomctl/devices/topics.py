"""Which subscriptions an incoming MQTT topic matches, found in a topic-filter trie instead of one by one.

paho's ``topic_matches_sub`` builds a new trie for every call, so matching each message against every
subscription in turn cost more than the rest of a scene together (20 devices, ~100 filters). A
:class:`TopicRouter` keeps one :class:`paho.mqtt.matcher.MQTTMatcher` for all filters and remembers the
answer per topic (a bounded cache: device topics repeat, junk topics must not grow it without end).
"""

from __future__ import annotations

import itertools
from typing import Generic, TypeVar

from paho.mqtt.matcher import MQTTMatcher

from roomctl.errors import ValidationError

T = TypeVar("T")

MATCH_CACHE_SIZE = 1024
"""Topics whose matches are remembered; the cache starts again when it is full."""
MAX_TOPIC_BYTES = 65535
"""The longest topic MQTT can carry (a 16-bit length)."""


def check_filter(topic_filter: str) -> None:
    """Refuse what the broker would refuse: ``#`` anywhere but alone at the end, ``+`` inside a level.

    Raises:
        ValidationError: Not a valid MQTT topic filter.
    """
    levels = topic_filter.split("/")
    size = len(topic_filter.encode("utf-8"))
    wrong = (
        not topic_filter
        or size > MAX_TOPIC_BYTES
        or "\0" in topic_filter
        or any("#" in level and (level != "#" or i != len(levels) - 1) for i, level in enumerate(levels))
        or any("+" in level and level != "+" for level in levels)
    )
    if wrong:
        raise ValidationError(
            f"{topic_filter[:80]!r} is not an MQTT topic filter: '#' may only be a whole last level and '+' "
            "a whole level"
        )


class TopicRouter(Generic[T]):
    """Values (handlers, devices) by MQTT topic filter, matched in the order they were added.

    Filters are not checked here: :func:`check_filter` first where they come from outside.
    """

    def __init__(self) -> None:
        self._matcher = MQTTMatcher()
        self._order = itertools.count()
        self._filters: dict[str, list[tuple[int, T]]] = {}
        self._cache: dict[str, tuple[T, ...]] = {}

    def add(self, topic_filter: str, value: T) -> None:
        """Route topics matching ``topic_filter`` to ``value`` (too)."""
        entries = self._filters.get(topic_filter)
        if entries is None:
            entries = self._filters[topic_filter] = []
            self._matcher[topic_filter] = entries
        entries.append((next(self._order), value))
        self._cache.clear()

    def filters(self) -> list[str]:
        """Every distinct filter, in the order first added."""
        return list(self._filters)

    def match(self, topic: str) -> tuple[T, ...]:
        """The values whose filter matches ``topic``, in the order they were added."""
        found = self._cache.get(topic)
        if found is None:
            matched = (entry for entries in self._matcher.iter_match(topic) for entry in entries)
            entries = sorted(matched, key=lambda entry: entry[0])
            found = tuple(value for _, value in entries)
            if len(self._cache) >= MATCH_CACHE_SIZE:
                self._cache.clear()
            self._cache[topic] = found
        return found
