"""Secrets come from the environment or systemd credentials, never from the config file or the repo.

``read_secret("anthropic_api_key")`` looks at ``ROOMCTL_ANTHROPIC_API_KEY``, then at the file
``$CREDENTIALS_DIRECTORY/anthropic_api_key`` (systemd ``LoadCredential=``).
"""

from __future__ import annotations

import os
from pathlib import Path

from roomctl.config import ENV_PREFIX


def read_secret(name: str) -> str | None:
    """The secret ``name``, or ``None`` when it is not set."""
    value = os.environ.get(ENV_PREFIX + name.upper())
    if value:
        return value.strip()
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        path = Path(directory) / name
        if path.is_file():
            return path.read_text(encoding="utf-8").strip() or None
    return None
