"""Fixed instants the time-sensitive tests run at, in the room's zone (Europe/Amsterdam).

No test reads the wall clock: rooms run on a :class:`~roomctl.core.clock.RunningClock` started at one of these
instants. The default is a weekday midday; tests whose outcome depends on the hour take the ``clock`` fixture
with ``@at_every_instant`` and run at each of them.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

INSTANTS: dict[str, datetime] = {
    "night": datetime(2027, 1, 13, 3, 0, tzinfo=AMSTERDAM),
    "before_opening": datetime(2027, 1, 13, 6, 58, tzinfo=AMSTERDAM),
    "midday": datetime(2027, 1, 13, 12, 0, tzinfo=AMSTERDAM),
    "before_midnight": datetime(2027, 1, 13, 23, 59, tzinfo=AMSTERDAM),
    "dst_spring": datetime(2027, 3, 28, 12, 0, tzinfo=AMSTERDAM),  # clocks went 02:00 → 03:00 this morning
    "dst_autumn": datetime(2027, 10, 31, 12, 0, tzinfo=AMSTERDAM),  # clocks went 03:00 → 02:00 this morning
}
"""Night, early morning before opening (07:00), midday, 23:59, and both daylight-saving change days."""

DEFAULT_INSTANT = "midday"

OPEN_AT: dict[str, bool] = {
    "night": False,
    "before_opening": False,
    "midday": True,
    "before_midnight": False,
    "dst_spring": True,
    "dst_autumn": True,
}
"""Whether the room (open 07:00-22:00 every day by default) is open at and just after each instant."""

at_every_instant = pytest.mark.parametrize("clock", list(INSTANTS), indirect=True)
"""Run a test that takes the ``clock`` fixture once at every instant of :data:`INSTANTS`."""
