"""The trajectory capability's service: a member composes their trajectory and sees their own progress.

It reads the group's accepted proposals through :class:`~roomctl.proposal.service.ProposalService` (its store's
``portfolio``), and the learning time as the learning-time report counts it.
"""

from __future__ import annotations

import logging
from typing import Any

from roomctl.api.roles import Role
from roomctl.api.tokens import create_token
from roomctl.booking.repository import BookingRepository
from roomctl.core.room import Room
from roomctl.errors import NotFoundError
from roomctl.proposal.service import ProposalService
from roomctl.session.kader import KaderStore
from roomctl.trajectory.progress import progress, suggested_needs, talent_report
from roomctl.trajectory.store import Trajectory, TrajectoryStore

log = logging.getLogger(__name__)

LINK_LABEL = "trajectory link"
"""Label of member tokens made for a personal trajectory link."""
PAGE = "/trajectory"
"""The member's trajectory page."""


class TrajectoryService:
    """Members' trajectories."""

    name = "trajectory"

    def __init__(self, room: Room) -> None:
        self.room = room
        self.tz = room.settings.room.tz
        self.kader = KaderStore(room.db, now=room.clock.now)
        self.store = TrajectoryStore(room.db, self.kader, room.clock.now)
        self.people = BookingRepository(room.db)

    async def start(self) -> None:
        """Nothing runs in the background."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def _accepted(self, group_ids: list[int]) -> list[dict[str, Any]]:
        proposals = self.room.find_service(ProposalService)
        if proposals is None:
            return []
        return [p for g in group_ids for p in proposals.store.portfolio(g)]

    def view(self, member_id: int) -> dict[str, Any]:
        """What the member's page shows: their trajectory (or ``None``), progress, suggestions, the choices.

        Raises:
            NotFoundError: No such member.
        """
        member = self.people.member(member_id)
        trajectory = self.store.get(member_id)
        groups = self.people.groups_of(member_id)
        accepted = self._accepted(groups)
        now = self.room.clock.now()
        return {
            "member": {"id": member.id, "name": member.name},
            "groups": [{"id": g, "name": self.people.group(g).name} for g in groups],
            "trajectory": trajectory.as_dict() if trajectory else None,
            "progress": progress(self.room.db, trajectory, self.tz, now, accepted) if trajectory else None,
            "suggested_needs": suggested_needs(accepted, trajectory.learning_needs if trajectory else ()),
            "kader": [{"id": q.id, "nl": q.nl, "en": q.en} for q in self.kader.list()],
        }

    def save(self, member_id: int, data: dict[str, Any]) -> dict[str, Any]:
        """Compose or change the member's trajectory; answers the page's view.

        Raises:
            ValidationError, StateError, NotFoundError: See :meth:`TrajectoryStore.save`.
        """
        self.store.save(member_id, data, self.room.clock.now().astimezone(self.tz).date())
        return self.view(member_id)

    def _require(self, member_id: int) -> Trajectory:
        trajectory = self.store.get(member_id)
        if trajectory is None:
            raise NotFoundError("you have not composed a trajectory yet; open your trajectory page to start one")
        return trajectory

    def report(self, member_id: int) -> dict[str, Any]:
        """The Talentontwikkelgesprek report (minutes used against agreed, proposal titles).

        Raises:
            NotFoundError: No such member, or no trajectory.
        """
        member = self.people.member(member_id)
        trajectory = self._require(member_id)
        accepted = self._accepted(self.people.groups_of(member_id))
        return talent_report(self.room.db, trajectory, member.name, self.tz, self.room.clock.now(), accepted)

    def personal_link(self, member_id: int) -> dict[str, Any]:
        """A new member token for ``member_id`` and the page link holding it (shown once).

        Raises:
            NotFoundError: No such member.
        """
        member = self.people.member(member_id)
        token_id, token = create_token(
            self.room.db, Role.MEMBER.value, label=LINK_LABEL, now=self.room.clock.now(), member_id=member.id
        )
        log.info("personal trajectory link (token %d) made for member %d", token_id, member.id)
        return {"token_id": token_id, "url": f"{self.room.settings.public_url}{PAGE}#token={token}",
                "notice": "the link is shown only now; give it to the member"}  # fmt: skip
