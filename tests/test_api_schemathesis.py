"""Schemathesis over /openapi.json with an admin token: no 5xx, and no response that breaks its own schema.

Schemathesis runs from its own virtualenv in the shared cache (``~/.cache/roomctl/schemathesis-venv``, made
once from PyPI like the ESPHome one), against the demo room served by real uvicorn on a free port, with a fixed
seed and a bounded number of examples (coverage and fuzzing phases, about a minute on the Pi's 2 cores).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from roomctl.config import Settings
from roomctl.devices.broker import free_port
from roomctl.speech.models import model_dir
from tests.conftest import serving
from tests.firmware_helpers import CACHE
from tests.speech_helpers import installed_model

pytestmark = pytest.mark.slow

SCHEMATHESIS_VERSION = "4.32.5"
MAX_EXAMPLES = 5
SEED = 14
WORKERS = 1
"""One schemathesis worker thread. With two, Hypothesis parsed sources in both threads at once and CPython 3.11
now and then raised "AST constructor recursion depth mismatch" (python/cpython#106905): a Runtime Error in the
report, not a finding about the API."""
RUN_TIMEOUT_SECONDS = 170.0
"""Generous: the run itself takes about a minute; a hung server must still end the test."""


def schemathesis_binary() -> Path:
    """``schemathesis`` in its own venv under the cache dir (never in the project's venv); installed if missing."""
    venv = CACHE / "schemathesis-venv"
    binary = venv / "bin" / "schemathesis"
    if binary.exists():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    result = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", f"schemathesis=={SCHEMATHESIS_VERSION}"],
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    if result.returncode != 0 or not binary.exists():
        raise AssertionError(f"could not install schemathesis {SCHEMATHESIS_VERSION}: {result.stderr[-2000:]}")
    return binary


async def test_schemathesis_finds_no_server_error_and_no_schema_break(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    binary = schemathesis_binary()
    settings = make_settings(server={"port": free_port()}, speech={"model": "tiny.en", "language": "en"})
    installed_model("tiny.en", model_dir(settings))  # a room whose parts are all there: a 503 would be a finding
    async with serving(settings) as live:
        process = await asyncio.create_subprocess_exec(
            str(binary), "run", f"{live.url}/openapi.json", "-H", f"Authorization: Bearer {live.tokens['admin']}",
            "--checks", "not_a_server_error,response_schema_conformance", "--phases", "coverage,fuzzing",
            "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--no-shrink", "--no-color", "--workers", str(WORKERS),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,  # its example database
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_SECONDS)
    text = output.decode("utf-8", errors="replace")
    assert "Tested: " in text, text[-3000:]
    assert process.returncode == 0, failures(text)


def failures(text: str) -> str:
    """A failed run's errors and failures sections (the tail is mostly warnings), then its summary."""
    starts = [text.find(header) for header in ("= ERRORS =", "= FAILURES =") if header in text]
    head = text[min(starts) : min(starts) + 6000] if starts else ""
    return f"{head}\n...\n{text[-2500:]}"
