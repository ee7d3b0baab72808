"""The audit trail: every tap, decision and door event, appended and never edited.

Badges are stored as a keyed hash (HMAC-SHA256) of the UID, so the trail identifies a badge without holding
a UID that could be cloned onto a card. The key lives in ``<data_dir>/audit.key`` (created once, mode 0600)
or comes from the ``audit_key`` secret.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import os
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from roomctl.errors import StorageError
from roomctl.secrets import read_secret

log = logging.getLogger(__name__)

BADGE_SHOWN_CHARS = 10
"""How much of the badge hash pages and exports show."""
CSV_COLUMNS = ("id", "at", "kind", "reader", "badge", "credential", "member_id", "decision", "reason", "detail")


def load_key(data_dir: Path) -> bytes:
    """The HMAC key for badge hashes (created on first use)."""
    secret = read_secret("audit_key")
    if secret:
        return secret.encode()
    path = data_dir / "audit.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


class AuditLog:
    """Appends to the ``audit`` table; the only deletion is retention expiry."""

    def __init__(self, db: sqlite_utils.Database, key: bytes) -> None:
        self.db = db
        self._key = key

    def badge_hash(self, uid: str) -> str:
        """The keyed hash that stands for a UID in the trail."""
        return hmac.new(self._key, uid.encode(), hashlib.sha256).hexdigest()

    def append(
        self,
        at: datetime,
        kind: str,
        *,
        reader: str | None = None,
        uid: str | None = None,
        member_id: int | None = None,
        decision: str | None = None,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
        credential: str | None = None,
    ) -> int:
        """Write one entry durably (synchronous=FULL) and return its id.

        ``credential`` is, for a tap, ``uid`` (the UID alone) or ``secure`` (the card authenticated).
        """
        with self.db.atomic():
            table = self.db.table("audit")
            table.insert(
                {
                    "at": at.astimezone(UTC).isoformat(),
                    "kind": kind,
                    "reader": reader,
                    "badge": self.badge_hash(uid) if uid else None,
                    "credential": credential,
                    "member_id": member_id,
                    "decision": decision,
                    "reason": reason,
                    "detail": json.dumps(detail, sort_keys=True) if detail else None,
                }
            )
            return int(table.last_pk)  # type: ignore[arg-type]

    def entries(self, *, since: datetime | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Newest entries first, badges shortened."""
        sql = "select * from audit"
        params: list[Any] = []
        if since is not None:
            sql += " where at >= ?"
            params.append(since.astimezone(UTC).isoformat())
        sql += " order by id desc limit ?"
        params.append(limit)
        rows = [dict(r) for r in self.db.query(sql, params)]
        for row in rows:
            if row["badge"]:
                row["badge"] = row["badge"][:BADGE_SHOWN_CHARS]
        return rows

    def to_csv(self, *, since: datetime | None = None) -> str:
        """The trail as CSV, oldest first."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in reversed(self.entries(since=since, limit=1_000_000)):
            writer.writerow({k: row.get(k) for k in CSV_COLUMNS})
        return buffer.getvalue()

    @property
    def retention_days(self) -> int:
        """Days entries are kept, as recorded for the database's delete guard."""
        row = self.db.execute("select audit_retention_days from access_settings where id = 1").fetchone()
        return int(row[0])

    def set_retention(self, days: int) -> None:
        """Record the retention (``[door] audit_retention_days``) the delete guard enforces."""
        if days != self.retention_days:
            with self.db.atomic():
                self.db.execute("update access_settings set audit_retention_days = ? where id = 1", [days])
            log.info("audit retention set to %d days", days)

    def expire_retention(self, now: datetime) -> int:
        """Delete entries older than the retention; return how many went."""
        return self.expire(now - timedelta(days=self.retention_days))

    def expire(self, before: datetime) -> int:
        """Retention: delete entries older than ``before``; the one deletion the app performs.

        Raises:
            StorageError: ``before`` reaches into the retention period (the database refuses).
        """
        try:
            with self.db.atomic():
                cursor = self.db.execute("delete from audit where at < ?", [before.astimezone(UTC).isoformat()])
        except sqlite3.IntegrityError as exc:
            raise StorageError(
                f"audit entries from before {before.isoformat()} are still within the "
                f"{self.retention_days}-day retention and cannot be deleted ({exc})"
            ) from exc
        if cursor.rowcount:
            log.info("audit retention removed %d entries before %s", cursor.rowcount, before.isoformat())
        return int(cursor.rowcount)
