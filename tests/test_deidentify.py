"""The de-identification step with the real deduce: name forms, numbering, identifiers, bad input, set-up."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.core.room import Room
from roomctl.proposal import capability as proposal_capability
from roomctl.proposal import deduce_engine
from roomctl.proposal.deduce_engine import deduce_dir, deduce_loaded, deduce_ready
from roomctl.proposal.deidentify import Deidentification, deidentifier
from roomctl.proposal.name_forms import fold, name_forms, split_name
from roomctl.proposal.prompt import ProposalInput, build_material, truncate_transcript
from roomctl.proposal.service import ProposalService
from roomctl.proposal.sources import NamesUnknownError, RoomContextSource
from roomctl.runtime import install_capabilities
from roomctl.store import open_database
from tests.clock_helpers import INSTANTS
from tests.conftest import wait_for
from tests.proposal_helpers import MEMBERS, OTHER_MEMBER, build_room, seed_group
from tests.session_helpers import command, running_room

ROSTER = ["Anna de Vries", "Pieter van den Berg", "Fatima El Amrani", "Zoë Janssen", "Jan Bakker",
          "Marie-José Jansen-de Boer", "Jan-Willem Roos", "Mark Visser", "Thijs van der Meer"]


def nl(*texts: str, words: tuple[str, ...] = ()) -> list[str]:
    return deidentifier(ROSTER, list(words), "nl").apply_all(list(texts))


def left(text: str, *names: str) -> list[str]:
    """The names of ``names`` still in ``text`` as whole words (any case, with or without accents)."""
    folded = fold(text)
    return [n for n in names if re.search(rf"(?<!\w){re.escape(fold(n))}(?!\w)", folded)]


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        ("Anna zei: vraag het De Vries.", ["Anna", "De Vries"], ["zei: vraag het"]),
        ("ANNA DE VRIES belde, en anna ook.", ["Anna", "Vries"], ["belde, en", "ook."]),
        ("Annas fiets en Anna's jas en Anna\u2019s tas.", ["Annas", "Anna's", "Anna\u2019s"], ["fiets en", "jas en"]),
        ("Annetje en Jantje kwamen binnen.", ["Annetje", "Jantje"], ["kwamen binnen"]),
        ("Zoe en ZOË en zoë Janssen.", ["Zoe", "Zoë", "Janssen"], []),
        ("Van der Meer en van der meer en Meer en Thijs.", ["Meer", "Thijs"], []),
        ("Jansen-de Boer, Jansen de Boer, Jansen en Marie en José.", ["Jansen", "Boer", "Marie", "José"], []),
        ("Jan-Willem en Willem en Jan Willem Roos zijn er.", ["Jan", "Willem", "Roos"], ["zijn er"]),
        ("Annapolis en de Bakkerij en Annabelle-straat?", [], ["Annapolis", "Bakkerij"]),
        ("de bakker en de roos en mark het aan.", [], ["de bakker", "de roos", "mark het aan"]),
        ("Bakker zei het. Roos ook. Mark ook. De Boer ook.", ["Bakker", "Roos", "Mark", "De Boer"], ["zei het"]),
        ("Pieter v.d. Berg en P. van den Berg.", ["Pieter", "Berg"], []),
        ("Fatima El Amrani en mevrouw El Amrani.", ["Fatima", "Amrani"], ["mevrouw"]),
    ],
)
def test_known_names_go_in_all_their_forms_and_ordinary_words_stay(text, gone, kept) -> None:
    [out] = nl(text)
    assert left(out, *gone) == [], out
    for word in kept:
        assert word in out, out
    assert "[persoon" in out or not gone


def test_the_same_person_has_the_same_number_in_every_text_of_a_request() -> None:
    deid = deidentifier(ROSTER, [], "nl")
    work, transcript = deid.apply_all(
        ["Anna werkt met Pieter.", "Pieter van den Berg zegt dat ANNA DE VRIES gelijk heeft; Annas idee."]
    )
    assert work == "[persoon 1] werkt met [persoon 2]."
    assert transcript == "[persoon 2] zegt dat [persoon 1] gelijk heeft; [persoon 1] idee."
    assert deid.mapping["[persoon 1]"] == ["Anna", "ANNA DE VRIES", "Annas"]
    # a revision continues the numbering from the stored state
    again = deidentifier(ROSTER, [], "nl", deid.state())
    [remarks] = again.apply_all(["Zoë wil dat Anna het doet."])
    assert remarks == "[persoon 3] wil dat [persoon 1] het doet."


def test_names_deduce_finds_are_removed_everywhere_and_titles_stay() -> None:
    [out] = nl("Gisteren belde teamleider Karin Wouters met meneer Hoekstra. Later zei Karin nog iets tegen Hoekstra.")
    assert left(out, "Karin", "Wouters", "Hoekstra") == []
    assert "teamleider [persoon 1]" in out and "meneer [persoon 2]" in out
    assert out.endswith("Later zei [persoon 1] nog iets tegen [persoon 2].")
    [out] = nl("Teamleider Karin Wouters belde. Dokter Peters ook.")
    assert out == "Teamleider [persoon 1] belde. Dokter [persoon 2] ook."


def test_identifiers_are_replaced_and_numbered_by_kind() -> None:
    [out] = nl(
        "Bel 06-12345678 of +31 6 1234 5678, mail jan@example.nl, BSN 123456782, geboren 12-03-1980, "
        "Kerkstraat 12, 3511 AB Utrecht, IBAN NL91 ABNA 0417 1643 00, zie https://intranet.example.nl/x."
    )
    for secret in ("12345678", "1234 5678", "jan@example.nl", "123456782", "12-03-1980", "Kerkstraat 12", "3511 AB",
                   "0417", "intranet.example.nl"):
        assert secret not in out, (secret, out)
    for placeholder in ("[telefoonnummer 1]", "[telefoonnummer 2]", "[e-mailadres 1]", "[datum 1]", "[locatie 1]"):
        assert placeholder in out, out


def test_configured_words_are_removed_case_insensitively() -> None:
    [out] = nl("Het Zonnehuis en het zonnehuis en De Linde Zorg.", words=("Zonnehuis", "De Linde Zorg"))
    assert out == "Het […] en het […] en […]."


def test_english_gets_known_names_and_patterns_but_no_deduce() -> None:
    deid = deidentifier(ROSTER, [], "en")
    assert deid.engine is None
    [out] = deid.apply_all(["Anna's plan: call Mark Visser on 06-12345678. Will will help. Karin Wouters agrees."])
    assert left(out, "Anna", "Mark", "Visser") == []
    assert "[person 1]'s" not in out and out.startswith("[person 1] plan")
    assert "[phone 1]" in out and "Will will help" in out
    assert "Karin Wouters" in out  # unknown names in English are not found: deduce is Dutch only


def test_mixed_dutch_and_english_in_one_transcript() -> None:
    [out] = nl("We moeten, as Anna said, de overdracht fixen. Pieter agrees; Hoekstra's team doet mee.")
    assert left(out, "Anna", "Pieter") == []
    assert "as [persoon 1] said" in out and "de overdracht fixen" in out


def test_a_transcript_of_only_names_becomes_only_placeholders() -> None:
    names = " ".join(ROSTER * 3)
    [out] = nl(names)
    assert left(out, *[w for n in ROSTER for w in re.split(r"[\s-]+", n) if fold(w) not in {"de", "van", "der",
                                                                                          "den", "el"}]) == []
    assert set(re.sub(r"\[persoon \d+\]", "", out).split()) <= {"-", "de", "van", "der", "den", "el"}, out


def test_placeholders_that_come_back_in_a_draft_are_left_alone() -> None:
    [out] = nl('{"title": "[persoon 1] en [telefoonnummer 1] met Anna"}')
    assert out == '{"title": "[persoon 1] en [telefoonnummer 1] met [persoon 1]"}'


def test_a_three_hour_transcript_is_cut_before_it_is_deidentified() -> None:
    sentence = "Anna de Vries vindt dat Pieter de overdracht moet regelen met Karin Wouters. "
    transcript = "Zoë begon. " + sentence * 2700 + "Fatima sloot af."
    assert len(transcript) > 200_000
    deid = deidentifier(ROSTER, [], "nl")
    material = build_material(ProposalInput(transcript=transcript), deid, language="nl", transcript_max_chars=60_000)
    [section] = [s for s in material.sections if s["tag"] == "transcript"]
    text = " ".join(p["text"] for p in section["passages"])
    assert len(text) < 61_000 and material.omitted_chars > 140_000
    assert truncate_transcript(transcript, 60_000)[1] == material.omitted_chars
    assert text.startswith("[persoon 1] begon.") and text.endswith("[persoon 5] sloot af.")
    assert left(text, "Anna", "Vries", "Pieter", "Karin", "Wouters", "Zoë", "Fatima") == []


def test_name_parts() -> None:
    assert split_name("Pieter van den Berg") == (["Pieter"], ["van", "den", "Berg"])
    assert split_name("Marie-José Jansen-de Boer") == (["Marie-José"], ["Jansen-de", "Boer"])
    assert split_name("Fatima El Amrani") == (["Fatima"], ["El", "Amrani"])
    forms = name_forms("Pieter van den Berg")
    assert {"pieter", "berg", "van den berg", "den berg", "pieter van den berg", "p van den berg", "pietertje"} <= forms
    assert "van" not in forms and "den" not in forms


def test_every_member_of_every_group_is_known(make_settings: Callable[..., Settings]) -> None:
    room = build_room(make_settings())
    group = seed_group(room)
    known = RoomContextSource(room).known_names(group)
    assert known[: len(MEMBERS)] == MEMBERS  # the session group's own members first
    assert OTHER_MEMBER in known  # a member of no group, or of another group, is removed too


def test_a_room_that_cannot_know_every_name_sends_nothing(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    room = Room(settings, open_database(settings.storage.database_path))
    install_capabilities(room, [proposal_capability])  # no booking or guests service: whose names to remove?
    seed_group(room)
    svc = room.service(ProposalService)
    with pytest.raises(NamesUnknownError, match="booking and guests"):
        svc.ask(1, transcript="Anna de Vries belde over de overdracht.", preview=False)
    assert room.db.execute("select count(*) from proposal_requests").fetchone()[0] == 0, "nothing was queued"


def test_a_deidentification_without_deduce_still_removes_known_names() -> None:
    deid = Deidentification(known=ROSTER, words=(), language="nl", engine=None)
    assert deid.apply_all(["Anna en Karin Wouters"]) == ["[persoon 1] en Karin Wouters"]


def _roomctl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roomctl", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_set_up_builds_once_into_a_readable_directory_and_the_service_never_builds(tmp_path: Path) -> None:
    assert deduce_ready(), f"make setup should have built {deduce_dir()}"
    env = {**os.environ, "ROOMCTL_DEDUCE_DIR": str(tmp_path / "deduce")}
    refused = _roomctl("deidentify", "try", "Anna en Karin Wouters", env=env)
    assert refused.returncode != 0 and "roomctl deidentify build" in refused.stderr
    assert not (tmp_path / "deduce").exists(), "nothing was built at run time"
    assert _roomctl("deidentify", "check", env=env).returncode == 1
    built = _roomctl("deidentify", "build", env=env)
    assert built.returncode == 0, built.stderr
    assert _roomctl("deidentify", "check", env=env).returncode == 0
    assert "already built" in _roomctl("deidentify", "build", env=env).stdout
    target = tmp_path / "deduce"
    assert (target / "cache" / "lookup_structs.pickle").stat().st_mode & 0o444 == 0o444
    assert (target / "src/locations/lst_street/items.txt").read_text() == ""
    tried = _roomctl("deidentify", "try", "--name", "Anna de Vries", "Annas plan met Karin Wouters", env=env)
    assert tried.returncode == 0 and tried.stdout.strip() == "[persoon 1] plan met [persoon 2]"


def test_loading_deduce_leaves_the_logging_configuration_alone() -> None:
    code = ("import logging; from roomctl.proposal.deduce_engine import load_deduce; load_deduce(); "
            "root = logging.getLogger(); print(root.level, len(root.handlers))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == [str(30), "0"]  # WARNING, no handler: deduce's basicConfig(DEBUG) undone


def test_deduce_once_loaded_is_out_of_the_garbage_collectors_reach() -> None:
    # A full collection walks every tracked object with the GIL held: over deduce's lookup tables it held the
    # room's loop (and a tap at the door) for 165-290 ms. Once loaded they are frozen out of its reach.
    code = ("import gc; from roomctl.proposal.deduce_engine import load_deduce; load_deduce(); "
            "print(gc.get_freeze_count(), len(gc.get_objects()))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    frozen, tracked = map(int, result.stdout.split())
    assert frozen > 100_000, "deduce's objects were frozen"
    assert tracked < frozen / 20, "a full collection now walks only what came after the load"


async def test_deduce_loads_when_a_session_starts_not_when_the_room_does(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A room at rest keeps deduce's 55 MB out of memory (issue 17); a session's group finds it loaded."""
    assert settings.room.language == "nl"
    monkeypatch.setattr(deduce_engine, "_ENGINE", None)  # as in a freshly started service
    async with running_room(settings, ManualClock(INSTANTS["midday"])) as room:
        service = room.service(ProposalService)
        assert service._preload is None and not deduce_loaded()
        await command(room, "start")
        assert service._preload is not None
        await wait_for(service._preload.done, timeout=60)
        assert service._preload.exception() is None and deduce_loaded()
