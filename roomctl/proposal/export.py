"""The group's portfolio of accepted proposals as Markdown and as a printable HTML page (no outside resources)."""

from __future__ import annotations

import html
from typing import Any

LABELS = {
    "nl": {
        "portfolio": "Portfolio", "situation": "Werksituatie", "problem": "Probleem", "steps": "Stappen",
        "role": "Rol", "action": "Actie", "effort": "Inspanning", "effect": "Verwacht effect", "risks": "Risico's",
        "learning": "Leerbehoeften", "questions": "Open vragen", "accepted": "Aangenomen", "version": "versie",
        "empty": "Nog geen aangenomen voorstellen.",
    },
    "en": {
        "portfolio": "Portfolio", "situation": "Work situation", "problem": "Problem", "steps": "Steps",
        "role": "Role", "action": "Action", "effort": "Effort", "effect": "Expected effect", "risks": "Risks",
        "learning": "Learning needs", "questions": "Open questions", "accepted": "Accepted", "version": "version",
        "empty": "No accepted proposals yet.",
    },
}


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def portfolio_markdown(group_name: str, proposals: list[dict[str, Any]], language: str = "nl") -> str:
    """The portfolio as Markdown."""
    t = LABELS.get(language, LABELS["en"])
    lines = [f"# {t['portfolio']}: {group_name}", ""]
    if not proposals:
        lines.append(t["empty"])
    for p in proposals:
        c = p["content"]
        lines += [
            f"## {c['title']}",
            "",
            f"*{t['accepted']}: {(p['decided_at'] or '')[:10]} · {t['version']} {p['version']}*",
            "",
            f"### {t['situation']}",
            "",
            c["situation_summary"],
            "",
            f"### {t['problem']}",
            "",
            c["problem"],
            "",
            f"### {t['steps']}",
            "",
            f"| {t['role']} | {t['action']} | {t['effort']} | {t['effect']} |",
            "| --- | --- | --- | --- |",
        ]
        for s in c["steps"]:
            cells = (s["role"], s["action"], s["effort"], s["expected_effect"])
            lines.append("| " + " | ".join(_md_cell(x) for x in cells) + " |")
        for key, label in (("risks", "risks"), ("learning_needs", "learning"), ("open_questions", "questions")):
            if c[key]:
                lines += ["", f"### {t[label]}", ""] + [f"- {item}" for item in c[key]]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


PRINT_CSS = """
body { font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; color: #111; line-height: 1.45; }
h1 { border-bottom: 2px solid #111; } h2 { margin-top: 2.5rem; page-break-before: auto; }
section { page-break-inside: avoid; } table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #999; padding: .3rem .5rem; text-align: left; vertical-align: top; }
.meta { color: #555; font-style: italic; }
@media print { body { margin: 0; } a { color: inherit; } }
"""


def portfolio_html(group_name: str, proposals: list[dict[str, Any]], language: str = "nl") -> str:
    """The portfolio as a self-contained printable HTML page."""
    t = LABELS.get(language, LABELS["en"])
    e = html.escape
    parts = [
        f'<!doctype html><html lang="{e(language)}"><head><meta charset="utf-8">',
        f"<title>{e(t['portfolio'])}: {e(group_name)}</title><style>{PRINT_CSS}</style></head><body>",
        f"<h1>{e(t['portfolio'])}: {e(group_name)}</h1>",
    ]
    if not proposals:
        parts.append(f"<p>{e(t['empty'])}</p>")
    for p in proposals:
        c = p["content"]
        rows = "".join(
            f"<tr><td>{e(s['role'])}</td><td>{e(s['action'])}</td><td>{e(s['effort'])}</td>"
            f"<td>{e(s['expected_effect'])}</td></tr>"
            for s in c["steps"]
        )
        parts += [
            f"<section><h2>{e(c['title'])}</h2>",
            f"<p class=\"meta\">{e(t['accepted'])}: {e((p['decided_at'] or '')[:10])} · {e(t['version'])} "
            f"{p['version']}</p>",
            f"<h3>{e(t['situation'])}</h3><p>{e(c['situation_summary'])}</p>",
            f"<h3>{e(t['problem'])}</h3><p>{e(c['problem'])}</p>",
            f"<h3>{e(t['steps'])}</h3><table><thead><tr><th>{e(t['role'])}</th><th>{e(t['action'])}</th>"
            f"<th>{e(t['effort'])}</th><th>{e(t['effect'])}</th></tr></thead><tbody>{rows}</tbody></table>",
        ]
        for key, label in (("risks", "risks"), ("learning_needs", "learning"), ("open_questions", "questions")):
            if c[key]:
                items = "".join(f"<li>{e(item)}</li>" for item in c[key])
                parts.append(f"<h3>{e(t[label])}</h3><ul>{items}</ul>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
