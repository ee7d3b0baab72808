"""What the tablet and kiosk say about the recording, Dutch first with English available."""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    "idle": {"nl": "Er wordt niet opgenomen.", "en": "Not recording."},
    "consent": {
        "nl": "Mag het brainstormgesprek worden opgenomen? Het geluid blijft in deze ruimte en wordt na het "
        "uitschrijven gewist; de tekst is niet tot personen te herleiden.",
        "en": "May the brainstorm be recorded? The audio stays in this room and is deleted once transcribed; "
        "the text is not attributed to anyone.",
    },
    "members": {
        "nl": "Iedereen die aanwezig is, tikt met de pas om in te stemmen.",
        "en": "Everyone present taps their badge to agree.",
    },
    "recording": {"nl": "Het gesprek wordt opgenomen.", "en": "The conversation is being recorded."},
    "finishing": {
        "nl": "Opname gestopt; de laatste tekst wordt uitgeschreven.",
        "en": "Recording stopped; transcribing the last part.",
    },
    "ready": {"nl": "Opname gestopt; de tekst is klaar.", "en": "Recording stopped; the transcript is ready."},
    "no_model": {
        "nl": "Opnemen kan niet: het spraakmodel ontbreekt of is beschadigd. Installeer het met "
        "`roomctl models install`.",
        "en": "Cannot record: the speech model is missing or damaged. Install it with `roomctl models install`.",
    },
    "no_microphone": {
        "nl": "Opnemen kan niet: er is geen microfoon gevonden. Sluit de microfoon aan en probeer opnieuw.",
        "en": "Cannot record: no microphone was found. Connect the microphone and try again.",
    },
    "microphone_lost": {
        "nl": "De microfoon is weggevallen; de opname is gestopt. Wat al is opgenomen, wordt uitgeschreven.",
        "en": "The microphone was lost; recording stopped. What was recorded is being transcribed.",
    },
    "disk": {
        "nl": "De opslag is vol of defect; de opname is gestopt. Wat al is opgeslagen, wordt uitgeschreven.",
        "en": "Storage is full or failing; recording stopped. What was stored is being transcribed.",
    },
    "worker": {
        "nl": "Het uitschrijven is tijdelijk onderbroken en wordt hervat; er gaat niets verloren.",
        "en": "Transcription was interrupted and is resuming; nothing is lost.",
    },
}


def message(key: str, detail: str = "") -> dict[str, Any]:
    """The message ``key`` in both languages, with a technical ``detail`` for the facilitator."""
    text: dict[str, Any] = dict(MESSAGES[key])
    text["key"] = key
    if detail:
        text["detail"] = detail
    return text
