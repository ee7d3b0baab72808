"""Which badges are secure (NTAG 424 DNA, provisioned here) and the last counter each one showed the door.

The ``secure_badges`` table (migration ``access_0003_secure_badges``) holds one row per provisioned card, keyed
by UID like booking's ``badges`` table: a badge with a row is an ``ntag424`` credential, any other is ``uid``.
Revoking a badge stays booking's business (the row stays, so the card's counter history is kept should it be
enrolled again). A counter is accepted only if it is above the stored one, in one guarded UPDATE.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlite_utils

NTAG424 = "ntag424"
"""The credential type of a provisioned card."""
UID = "uid"
"""The credential type of every other badge, and what a tap presents without authentication: its UID alone."""
SECURE = "secure"
"""What a tap presents when the card authenticated (audit trail)."""


class SecureBadges:
    """The ``secure_badges`` table."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def credential(self, uid: str) -> str:
        """``ntag424`` for a provisioned card, else ``uid``."""
        row = self.db.execute("select 1 from secure_badges where uid = ?", [uid]).fetchone()
        return NTAG424 if row else UID

    def record(self, uid: str, *, counter: int, key_version: int, now: datetime) -> None:
        """Store (or replace, after a forced re-provisioning) a provisioned card and its counter."""
        with self.db.atomic():
            self.db.execute(
                "insert into secure_badges (uid, key_version, last_counter, provisioned_at) values (?, ?, ?, ?) "
                "on conflict(uid) do update set key_version = excluded.key_version, "
                "last_counter = max(secure_badges.last_counter, excluded.last_counter), "
                "provisioned_at = excluded.provisioned_at",
                [uid, key_version, counter, now.astimezone(UTC).isoformat()],
            )

    def accept_counter(self, uid: str, counter: int, now: datetime) -> bool:
        """Store ``counter`` if it is above the last one seen; False (nothing changes) for a replay."""
        with self.db.atomic():
            cursor = self.db.execute(
                "update secure_badges set last_counter = ?, last_seen_at = ? where uid = ? and last_counter < ?",
                [counter, now.astimezone(UTC).isoformat(), uid, counter],
            )
        return cursor.rowcount == 1

    def count(self) -> int:
        """How many cards were provisioned here."""
        return int(self.db.execute("select count(*) from secure_badges").fetchone()[0])

    def last_counter(self, uid: str) -> int | None:
        """The last counter the door accepted (or provisioning saw)."""
        row = self.db.execute("select last_counter from secure_badges where uid = ?", [uid]).fetchone()
        return int(row[0]) if row else None

    def refused_for(self, member_id: int, *, force: bool, master_badges: set[str]) -> dict[str, str]:
        """Badges that provisioning for ``member_id`` must not take, and why.

        Reads booking's ``badges`` table (who owns which badge); with :meth:`members_with_plain_badges` the only
        place access reads it directly.
        """
        refused = {uid: "a master badge; provision it with `roomctl badge provision --master`" for uid in master_badges}
        rows = self.db.query(
            "select b.uid, b.member_id, s.uid is not null as secure from badges b "
            "left join secure_badges s on s.uid = b.uid where b.revoked_at is null"
        )
        for row in rows:
            if row["member_id"] != member_id:
                refused[row["uid"]] = f"badge {row['uid']} is enrolled to member {row['member_id']}; revoke it there first"
            elif row["secure"] and not force:
                refused[row["uid"]] = f"badge {row['uid']} is already a secure badge; provision it again with force"
        return refused

    def active_secure_uids(self) -> list[str]:
        """UIDs of enrolled (not revoked) secure badges."""
        rows = self.db.query(
            "select s.uid from secure_badges s join badges b on b.uid = s.uid and b.revoked_at is null order by s.uid"
        )
        return [r["uid"] for r in rows]

    def members_with_plain_badges(self) -> list[dict[str, Any]]:
        """Active members who carry at least one active badge that is not secure, with how many of each kind."""
        rows = self.db.query(
            """select m.id, m.name,
                   sum(case when s.uid is null then 1 else 0 end) as plain,
                   sum(case when s.uid is null then 0 else 1 end) as secure
               from members m join badges b on b.member_id = m.id and b.revoked_at is null
               left join secure_badges s on s.uid = b.uid
               where m.active = 1
               group by m.id having plain > 0 order by m.name"""
        )
        return [{"member_id": r["id"], "name": r["name"], "plain_badges": r["plain"], "secure_badges": r["secure"]} for r in rows]
