"""Content roomctl ships: the default videoframe manifest and the default didactisch kader (data files only).

The default videoframe's clips are not shipped: :mod:`roomctl.session.media` generates them at install time.
"""

from __future__ import annotations

from pathlib import Path

CONTENT_DIR = Path(__file__).resolve().parent
"""This folder."""

DEFAULT_VIDEOFRAME_MANIFEST = CONTENT_DIR / "werksituatie-verbeteren.json"
"""The manifest of the default videoframe "Werksituatie verbeteren" (its clips are generated)."""

DEFAULT_KADER = CONTENT_DIR / "kader.json"
"""The default didactisch kader: ten questions in Dutch and English."""
