"""Ways to answer a kader question: a videoframe clip, a podcast or film link, an article, an e-learning.

Admins manage them per question (``kader_resources``). The kiosk shows the resources of the questions on the
current step as a title and a QR code, drawn here (segno, SVG as a ``data:`` URI) so no internet is needed to
show them. Only ``http``/``https`` links with a host are accepted.

The screen part ``resources`` (owned by the session capability) holds, while a session runs,
``{"questions": {question_id: [{"id", "kind", "title", "url", "qr"}]}}`` for the questions on screen now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import segno
import sqlite_utils

from roomctl.errors import NotFoundError, ValidationError
from roomctl.session.choices import clean_text
from roomctl.session.kader import KaderStore

log = logging.getLogger(__name__)

RESOURCE_KINDS = ("clip", "podcast", "film", "article", "elearning")
"""What a resource is."""
MAX_TITLE_CHARS = 120
"""Longest resource title (one line on the projector)."""
MAX_URL_CHARS = 2000
"""Longest link."""
MAX_PER_QUESTION = 8
"""Most resources one question carries."""
QR_SCALE = 4
"""Pixels per QR module in the SVG (the kiosk scales it)."""
PART = "resources"
"""The screen part name."""


@lru_cache(maxsize=256)
def qr_svg(url: str) -> str:
    """The QR code of ``url`` as an SVG ``data:`` URI (drawn locally)."""
    return str(segno.make(url, error="m").svg_data_uri(scale=QR_SCALE, border=2))


def clean_url(value: object) -> str:
    """A checked http(s) link.

    Raises:
        ValidationError: Not text, too long, or not an http(s) link with a host.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("url: give the resource's link (https://...)", field="url")
    url = value.strip()
    if len(url) > MAX_URL_CHARS:
        raise ValidationError(f"url: the link is {len(url)} characters; at most {MAX_URL_CHARS}", field="url")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise ValidationError("url: only http:// and https:// links are accepted (e.g. https://example.org/podcast)",
                              field="url")  # fmt: skip
    return url


class ResourceStore:
    """The ``kader_resources`` table (event loop thread only)."""

    def __init__(self, db: sqlite_utils.Database, kader: KaderStore, now: Callable[[], datetime]) -> None:
        self.db = db
        self.kader = kader
        self.now = now

    @staticmethod
    def _public(row: dict[str, Any]) -> dict[str, Any]:
        return {"id": row["id"], "question_id": row["question_id"], "kind": row["kind"], "title": row["title"],
                "url": row["url"], "position": row["position"]}  # fmt: skip

    def of_question(self, question_id: str) -> list[dict[str, Any]]:
        """A question's resources in order.

        Raises:
            NotFoundError: No such question.
        """
        self.kader.get(question_id)
        rows = self.db.query("select * from kader_resources where question_id = ? order by position, id", [question_id])
        return [self._public(r) for r in rows]

    def add(self, question_id: str, kind: object, title: object, url: object) -> dict[str, Any]:
        """Add a resource to a question (at the end).

        Raises:
            NotFoundError: No such question.
            ValidationError: Bad kind, title or link, or too many (nothing is stored).
        """
        existing = self.of_question(question_id)
        if kind not in RESOURCE_KINDS:
            raise ValidationError(f"kind must be one of {', '.join(RESOURCE_KINDS)}", field="kind")
        text = clean_text("title", title, MAX_TITLE_CHARS)
        if not text:
            raise ValidationError("title: give the resource a title", field="title")
        link = clean_url(url)
        if len(existing) >= MAX_PER_QUESTION:
            raise ValidationError(f"question {question_id} has {MAX_PER_QUESTION} resources already; remove one first")
        with self.db.atomic():
            table = self.db.table("kader_resources")
            table.insert({"question_id": question_id, "kind": kind, "title": text, "url": link,
                          "position": len(existing), "created_at": self.now().isoformat()})  # fmt: skip
            resource_id = int(table.last_pk)  # type: ignore[arg-type]
        log.info("resource %d (%s) added to question %s", resource_id, kind, question_id)
        return self.get(resource_id)

    def get(self, resource_id: int) -> dict[str, Any]:
        """One resource.

        Raises:
            NotFoundError: No such resource.
        """
        rows = list(self.db.query("select * from kader_resources where id = ?", [resource_id]))
        if not rows:
            raise NotFoundError(f"there is no resource {resource_id}")
        return self._public(rows[0])

    def remove(self, resource_id: int) -> None:
        """Remove a resource.

        Raises:
            NotFoundError: No such resource.
        """
        self.get(resource_id)
        with self.db.atomic():
            self.db.execute("delete from kader_resources where id = ?", [resource_id])

    def for_screen(self, question_ids: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
        """The resources of ``question_ids`` with their QR codes, for the kiosk."""
        if not question_ids:
            return {}
        marks = ",".join("?" for _ in question_ids)
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self.db.query(
            f"select * from kader_resources where question_id in ({marks}) order by position, id",  # noqa: S608
            list(question_ids),
        ):
            found.setdefault(row["question_id"], []).append({**self._public(row), "qr": qr_svg(row["url"])})
        return found
