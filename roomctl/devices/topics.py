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

T = TypeVar("T")

MATCH_CACHE_SIZE = 1024
"""Topics whose matches are remembered; the cache starts again when it is full."""


class TopicRouter(Generic[T]):
    """Values (handlers, devices) by MQTT topic filter, matched in the order they were added."""

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
