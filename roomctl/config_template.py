"""The commented default configuration that ``roomctl init`` writes, generated from the settings models.

Generating it from :class:`~roomctl.config.Settings` keeps the file and the code in step: every key, its
default and its description come from the model that validates it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from roomctl import __version__
from roomctl.config import Settings

BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

HEADER = f"""\
# roomctl configuration (written by roomctl {__version__}).
# Every key shows its default. Any key can be overridden by an environment variable:
#   [mqtt] port  ->  ROOMCTL_MQTT__PORT=1884
# Secrets never go in this file: set ROOMCTL_ANTHROPIC_API_KEY / ROOMCTL_MQTT_PASSWORD in the environment, or
# give them as systemd credentials (LoadCredential=anthropic_api_key:/etc/roomctl/credentials/...).
"""


def _key(key: str) -> str:
    return key if BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, list | tuple):
        rendered = [_value(v) for v in value]
        return "[" + ", ".join(item for item in rendered if item is not None) + "]"
    if isinstance(value, dict):
        items = [f"{_key(k)} = {_value(v)}" for k, v in value.items() if _value(v) is not None]
        return "{ " + ", ".join(items) + " }"
    if isinstance(value, BaseModel):
        return _value(value.model_dump(mode="json"))
    return json.dumps(str(value))


def _section(name: str, model: BaseModel, overrides: dict[str, Any]) -> list[str]:
    lines = [f"[{name}]"]
    doc = (type(model).__doc__ or "").strip().splitlines()
    if doc:
        lines.insert(0, f"# {doc[0]}")
    for field_name, info in type(model).model_fields.items():
        value = overrides.get(field_name, getattr(model, field_name))
        if info.description:
            lines.append(f"# {info.description}")
        rendered = _value(value)
        if rendered is None:
            lines.append(f"# {field_name} =")
        else:
            lines.append(f"{field_name} = {rendered}")
    return lines


def render(overrides: dict[str, dict[str, Any]] | None = None) -> str:
    """The default configuration as commented TOML; ``overrides`` replace defaults per section."""
    overrides = overrides or {}
    defaults = Settings()
    blocks = [HEADER]
    for name, info in Settings.model_fields.items():
        value = getattr(defaults, name)
        if isinstance(value, BaseModel):
            blocks.append("\n".join(_section(name, value, overrides.get(name, {}))) + "\n")
        elif isinstance(value, list):
            described = info.description or f"a list of [[{name}]] tables"
            entries = overrides.get(name, {}).get("entries", [])
            lines = [f"# {described}"]
            for entry in entries:
                lines.append(f"[[{name}]]")
                lines.extend(f"{k} = {_value(v)}" for k, v in entry.items() if _value(v) is not None)
            blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)
