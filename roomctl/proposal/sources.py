"""Where the proposal capability learns what other capabilities own: groups, members, guests, sessions, transcripts.

This module is the proposal capability's one place of calls into other capabilities, and it calls only their
services: :class:`~roomctl.booking.service.BookingService` (the members' names),
:class:`~roomctl.session.guests.GuestService` (the guests' names),
:class:`~roomctl.session.service.SessionService` (a session's group and what was chosen on the tablet) and
:class:`~roomctl.speech.service.SpeechService` (the brainstorm's transcript). It reads through
:class:`ContextSource`, so a test or another room can hand the proposal service another source.

Names fail closed: without the services that know the room's people, :meth:`RoomContextSource.known_names`
refuses (:class:`NamesUnknownError`) rather than answer an empty list, because an empty list would let every
name through to the model. A missing session or speech service only means there is nothing to add (no stored
choices, no recorded transcript).
"""

from __future__ import annotations

from typing import Any, Protocol

from roomctl.booking.service import BookingService
from roomctl.core.room import Room
from roomctl.errors import StateError
from roomctl.session.guests import GuestService
from roomctl.session.service import SessionService, empty_material
from roomctl.speech.service import SpeechService


class NamesUnknownError(StateError):
    """The room cannot say whose names to remove (the booking or guest service is not installed)."""

    slug = "names-unknown"
    title = "The room does not know whose names to remove"


class ContextSource(Protocol):
    """What a proposal request needs to know about the room's people and sessions."""

    def group_of_session(self, session_id: int) -> int | None:
        """The group holding session ``session_id``, if known."""
        ...

    def known_names(self, group_id: int | None) -> list[str]:
        """Every person roomctl knows by name (members and facilitators of every group, guests), to remove.

        The members of ``group_id`` come first: where two people share a first name, the bare first name counts
        as the session group's member.

        Raises:
            NamesUnknownError: The source cannot know them all; nothing may be sent then.
        """
        ...

    def transcript(self, session_id: int) -> str | None:
        """The brainstorm transcript of the session, if the speech capability stored one."""
        ...

    def material(self, session_id: int) -> dict[str, Any]:
        """What the group chose on the tablet: ``work_situation``, ``problem``, ``kader_notes`` (question, note)."""
        ...


class RoomContextSource:
    """Asks the room's other capabilities through their services (see the module docstring)."""

    def __init__(self, room: Room) -> None:
        self.room = room

    def group_of_session(self, session_id: int) -> int | None:
        """The group that held the session, from the session service (``None`` without one)."""
        sessions = self.room.find_service(SessionService)
        return sessions.group_of_session(session_id) if sessions is not None else None

    def known_names(self, group_id: int | None) -> list[str]:
        """The group's members first, then every other member (active or not, facilitators too), then guests.

        Raises:
            NamesUnknownError: The booking or the guest service is not installed.
        """
        booking, guests = self.room.find_service(BookingService), self.room.find_service(GuestService)
        if booking is None or guests is None:
            missing = " and ".join(name for name, found in (("booking", booking), ("guests", guests)) if found is None)
            raise NamesUnknownError(
                f"this room has no {missing} service, so it cannot know every name to remove; nothing is sent"
            )
        names = booking.member_names(first_group=group_id) + guests.known_names()
        return list(dict.fromkeys(n.strip() for n in names if n and n.strip()))

    def transcript(self, session_id: int) -> str | None:
        """The session's transcript from the speech service, or ``None`` when there is none."""
        speech = self.room.find_service(SpeechService)
        return speech.transcript_text(session_id) if speech is not None else None

    def material(self, session_id: int) -> dict[str, Any]:
        """The session's stored choices from the session service (empty without one, or for an unknown session)."""
        sessions = self.room.find_service(SessionService)
        return sessions.material(session_id) if sessions is not None else empty_material()
