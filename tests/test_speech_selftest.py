"""``roomctl doctor``'s speech self-test: a 10-second clip through the configured model, with a verdict."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from roomctl.config import Settings
from roomctl.doctor import findings
from roomctl.speech.models import model_dir
from roomctl.speech.selftest import run_selftest
from tests.speech_helpers import installed_model

pytestmark = pytest.mark.slow


def test_the_self_test_measures_caption_passes_and_the_final_transcript(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(speech={"model": "tiny.en", "language": "en"})
    installed_model("tiny.en", model_dir(settings))
    result = run_selftest(settings)
    assert result.speech, "espeak-ng made a spoken clip"
    assert 0 < result.pass_seconds < 30 and 0 < result.chunk_rtf < 5
    assert result.median_seconds < result.p90_seconds
    assert ("keep up" in result.summary) == result.keeps_up
    assert "captions are on" in result.summary if result.enabled else "captions are off" in result.summary


def test_the_doctor_reports_live_captions_off_when_the_admin_turned_them_off(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(speech={"model": "tiny.en", "language": "en", "live_captions": False})
    installed_model("tiny.en", model_dir(settings))
    found = {f.name: f for f in findings(settings)}["live captions"]
    assert found.ok and not found.critical
    assert "live_captions = false" in found.message and "a caption pass takes" in found.message


def test_the_doctor_warns_about_live_captions_without_a_model(make_settings: Callable[..., Settings]) -> None:
    found = {f.name: f for f in findings(make_settings(speech={"model": "tiny.en"}))}["live captions"]
    assert not found.ok and "roomctl models install tiny.en" in found.message
