"""The example room's devices and scenes (``example_devices.toml``), for ``roomctl demo`` and the tests."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

EXAMPLE_PATH = Path(__file__).with_name("example_devices.toml")


def example_config() -> dict[str, Any]:
    """``{"devices": [...], "scenes": {...}}`` to merge into a configuration (e.g. ``Settings(**data)``)."""
    with EXAMPLE_PATH.open("rb") as handle:
        return tomllib.load(handle)
