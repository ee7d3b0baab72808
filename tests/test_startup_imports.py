"""Start-up stays light: the heavy libraries load when first used, not when the service starts (issue 17).

The demo writer once imported the Anthropic SDK's types at module level; through the outbox that put the SDK
(1.8 s, about 100 MB) back into every start, and bench_startup went from 1.2 to 3.4 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("anthropic", "openai", "faster_whisper", "ctranslate2", "deduce", "jsonschema", "icalendar", "vlc")
"""Libraries the service needs only once a proposal is sent, speech is transcribed or a calendar is read."""

PROBE = """
import json, sys
from pathlib import Path
from roomctl.api.app import create_app
from roomctl.config import load_settings
from roomctl.runtime import build_room
import roomctl.cli, roomctl.server
for provider in ("anthropic", "demo"):
    settings = load_settings(None, {"storage": {"data_dir": Path(sys.argv[1]) / provider}, "mqtt": {"enabled": False},
                                    "llm": {"provider": provider}})
    create_app(build_room(settings), manage_room=False)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[2])))))
"""


def test_building_the_room_and_its_app_imports_no_heavy_library(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), json.dumps(HEAVY)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [], f"imported at start-up: {loaded}"
