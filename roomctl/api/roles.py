"""The roles a caller can have."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who may call what.

    - ``admin``: configures the room (members, groups, bookings, videoframes, tokens).
    - ``facilitator``: steers a session from the tablet and sees the group's proposals.
    - ``facilities``: sees rooms, devices, alarms and aggregate use; never transcripts or attendance.
    - ``reader``: a networked or simulated badge reader; may only report taps.
    - ``kiosk``: the projector page and its player; reads the screen state, reports clip position.
    - ``member``: a professional (token bound to a member); reads their own learning-time report.
    """

    ADMIN = "admin"
    FACILITATOR = "facilitator"
    FACILITIES = "facilities"
    READER = "reader"
    KIOSK = "kiosk"
    MEMBER = "member"
