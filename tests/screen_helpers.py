"""Helpers for the page tests: viewports, screenshots as artefacts, and the checks every page must pass."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import ARTIFACTS

KIOSK = {"width": 1920, "height": 1080}
"""The projector."""
TABLET_LANDSCAPE = {"width": 1280, "height": 800}
TABLET_PORTRAIT = {"width": 800, "height": 1280}
UI_TIMEOUT_MS = 20_000
MIN_TARGET_PX = 48
"""Smallest touch target on the tablet, in both directions."""

RAW_IDENTIFIERS = frozenset({
    "idle", "arrival", "analysis", "problem", "brainstorm", "proposal", "validation", "wrapup", "ended", "custom",
    "booked", "checked_in", "released", "cancelled", "walkin", "single", "series",
    "consent", "recording", "finishing", "error", "waiting", "writing", "ready", "revising", "accepted", "rejected",
    "failed", "playing", "paused", "done", "online", "offline", "assumed", "unknown", "held_open", "forced",
    "lockout", "reader_offline", "occupied", "free", "stale", "none", "null", "undefined",
})  # fmt: skip
"""State and status ids the pages must never show as they are."""
RAW_IN_ENGLISH = frozenset({"idle", "wrapup", "walkin", "null", "undefined"})
"""Of those, the ones that are no English word either (an English page may say "booked" or "ready")."""
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")

LEAF_TEXTS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest("script,style,option,[hidden],[data-verbatim]")) continue;  // verbatim: what is sent, as it is
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") continue;
    const text = n.textContent.trim();
    if (text) out.push(text);
  }
  return out;
}"""


async def raw_identifiers(page: Any, language: str = "nl") -> list[str]:
    """Texts on ``page`` that are a raw state id, or contain a snake_case id (``checked_in``)."""
    texts: list[str] = await page.evaluate(LEAF_TEXTS)
    raw = RAW_IDENTIFIERS if language == "nl" else RAW_IN_ENGLISH
    found = []
    for text in texts:
        bare = text.strip(" ·:()—-").lower() if text.strip(" ·:()—-").islower() else None
        if bare in raw or SNAKE.search(text):
            found.append(text)
    return found


async def assert_words_only(page: Any, where: str, language: str = "nl") -> None:
    """Fail when the page shows a raw identifier."""
    raw = await raw_identifiers(page, language)
    assert not raw, f"{where} shows raw identifiers: {raw}"


async def small_targets(page: Any) -> list[str]:
    """Visible controls on ``page`` smaller than :data:`MIN_TARGET_PX` in either direction."""
    found: list[str] = await page.evaluate(
        """(min) => [...document.querySelectorAll("button, select, textarea, input:not([type=checkbox]):not([type=hidden]), label.tap, label.question-line")]
          .filter((el) => el.offsetParent !== null && !el.closest("label.tap") || el.matches("label.tap"))
          .map((el) => [el, el.getBoundingClientRect()])
          .filter(([el, r]) => r.width > 0 && r.height > 0 && (r.width < min || r.height < min))
          .map(([el, r]) => `${el.tagName.toLowerCase()}[${el.dataset.testid || el.textContent.trim().slice(0, 20)}] ${Math.round(r.width)}x${Math.round(r.height)}`)""",
        MIN_TARGET_PX,
    )
    return found


async def in_view(page: Any, selector: str) -> bool:
    """Whether ``selector`` is wholly inside the viewport (not scrolled away); waits for it to be laid out."""
    answer: Any = await page.wait_for_function(
        """(selector) => {
          const el = document.querySelector(selector);
          if (!el) return null;
          const r = el.getBoundingClientRect();
          if (!r.width || !r.height) return null;
          const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
          return { inside: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth && !!hit && el.contains(hit) };
        }""",
        arg=selector,
        timeout=UI_TIMEOUT_MS,
    )
    value = await answer.json_value()
    return bool(value["inside"])


async def shot(page: Any, name: str) -> None:
    """Save a screenshot of ``page`` as ``test-artifacts/<name>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
