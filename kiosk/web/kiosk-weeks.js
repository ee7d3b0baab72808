// The projector's parts over weeks (issue 19), kept apart from kiosk.js's own layout: what the group decided
// last time (arrival), guests present ("gast"), the resources of the questions on screen as a title and a QR
// code drawn on the Pi (no internet needed), and the calm screen of a meditation.
import { h, t } from "/static/common.js";

const TEXT = {
  lastTime: { nl: "Vorige keer besloten", en: "Decided last time" },
  howItWent: { nl: "Hoe ging het? Vertel het op de tablet.", en: "How did it go? Tell it on the tablet." },
  how: { well: { nl: "Goed gegaan", en: "Went well" }, partly: { nl: "Deels gelukt", en: "Partly done" }, not_yet: { nl: "Nog niet gelukt", en: "Not yet" } },
  guest: { nl: "gast", en: "guest" },
  week: { nl: "Deze week", en: "This week" },
  resources: { nl: "Om verder te kijken of te luisteren", en: "To watch, listen or read further" },
  kinds: {
    clip: { nl: "Video", en: "Video" }, podcast: { nl: "Podcast", en: "Podcast" }, film: { nl: "Film", en: "Film" },
    article: { nl: "Artikel", en: "Article" }, elearning: { nl: "E-learning", en: "E-learning" },
  },
  breathe: { nl: "Adem rustig in… en uit.", en: "Breathe in calmly… and out." },
};

const RESOURCES_SHOWN = 3;

/** "Vorige keer besloten": the group's last validated proposal and how it went, for the arrival screen. */
export function continuityCard(state) {
  const c = state.continuity;
  if (!c || !c.last_proposal || !state.session || c.session_id !== state.session.id) return null;
  const followup = c.followup;
  return h("div", { class: "card continuity", "data-testid": "continuity" },
    h("span", { class: "small-label" }, t(TEXT.lastTime)),
    h("span", { class: "continuity-title", "data-testid": "continuity-title" }, c.last_proposal.title),
    followup
      ? h("span", { class: "continuity-followup", "data-testid": "continuity-followup" }, t(TEXT.how[followup.how_it_went]), followup.note ? ` — ${followup.note}` : "")
      : h("span", { class: "muted" }, t(TEXT.howItWent)));
}

/** The week's situations, if the group chose them (arrival). */
export function weekLine(state) {
  const cycle = state.continuity && state.continuity.cycle;
  if (!cycle || !cycle.situations || !cycle.situations.length) return null;
  return h("p", { class: "muted week-line", "data-testid": "week-situations" }, `${t(TEXT.week)}: ${cycle.situations.join(" · ")}`);
}

/** Guests present, as chips marked "gast". */
export function guestChips(state) {
  const part = state.guests;
  if (!part || !part.present || !part.present.length) return [];
  return part.present.map((g) => h("span", { class: "guest", "data-testid": "guest-chip" }, `${g.name} · ${t(TEXT.guest)}`));
}

/** The resources of the questions on screen: title and a QR code each. */
export function resourceCards(state, questions) {
  const byQuestion = (state.resources && state.resources.questions) || {};
  const found = (questions || []).flatMap((q) => byQuestion[q.id] || []).slice(0, RESOURCES_SHOWN);
  if (!found.length) return null;
  return h("div", { class: "resources", "data-testid": "resources" },
    h("span", { class: "small-label" }, t(TEXT.resources)),
    found.map((r) => h("figure", { class: "resource", "data-testid": "resource" },
      h("img", { src: r.qr, alt: "", class: "qr", width: 148, height: 148 }),
      h("figcaption", {}, h("span", { class: "resource-kind" }, t(TEXT.kinds[r.kind] || r.kind)), h("span", { class: "resource-title" }, r.title)))));
}

/** The calm screen of a meditation: its title, one line, nothing else moving but the timer. */
export function meditationMain(session) {
  return [
    h("h1", { class: "calm-title", "data-testid": "step-title" }, t(session.step.title)),
    h("p", { class: "calm-prompt", "data-testid": "calm" }, t(session.step.prompt) || t(TEXT.breathe)),
  ];
}
