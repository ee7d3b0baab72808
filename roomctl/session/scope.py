"""Which groups a caller may see: the one small group check of the session's week routes.

Swap this for the API's group-scope dependency once it lands; the rules are the same:

- ``admin``: every group;
- a token bound to a member (``member`` or ``facilitator``): the groups they belong to or facilitate;
- a paired tablet (a ``facilitator`` token bound to no member): the group whose session runs in the room now.
"""

from __future__ import annotations

from roomctl.api.roles import Role
from roomctl.api.tokens import Principal
from roomctl.booking.repository import BookingRepository
from roomctl.errors import ForbiddenError


def check_group(repo: BookingRepository, principal: Principal, group_id: int, running_group: int | None) -> None:
    """Let ``principal`` through for ``group_id`` or refuse.

    Raises:
        NotFoundError: No such group.
        ForbiddenError: The caller may not see that group.
    """
    repo.group(group_id)
    if principal.role == Role.ADMIN:
        return
    if principal.member_id is not None:
        if group_id in repo.groups_of(principal.member_id) or group_id in repo.groups_facilitated_by(principal.member_id):
            return
        raise ForbiddenError("you may see the groups you belong to or facilitate, not this one")
    if principal.role == Role.FACILITATOR and running_group == group_id:
        return
    raise ForbiddenError("a tablet sees only the group whose session runs now; use a token bound to a member")
