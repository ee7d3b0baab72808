// The projector page (1920x1080, read from the back of the room): idle, arrival, the steps, live captions,
// the proposal as it is written, validation and wrap-up. Follows the screen state over /ws and reconnects by
// itself; needs no internet. The kiosk player draws clips over this page with libvlc.
import { clock, countdown, day, followScreen, h, lang, remainingSeconds, roomNow, setTimeZone, t, timerMood } from "/static/common.js";
import { continuityCard, guestChips, meditationMain, resourceCards, weekLine } from "/static/kiosk/kiosk-weeks.js";

const TICK_MS = 1000;
const CAPTION_LINES = 2; // final lines shown before the live words
const PROPOSAL_STEPS_SHOWN = 4;

const TEXT = {
  tap: { nl: "Tik je pas bij de deur", en: "Tap your badge at the door" },
  next: { nl: "Volgende sessie", en: "Next session" },
  none: { nl: "Vandaag geen sessies meer", en: "No more sessions today" },
  free: { nl: "Vrij", en: "Free" },
  present: { nl: "Aanwezig", en: "Present" },
  nobody: { nl: "Tik je pas bij de deur om je aan te melden", en: "Tap your badge at the door to check in" },
  situation: { nl: "Werksituatie van vandaag", en: "Today's work situation" },
  noSituation: { nl: "Kies op de tablet welke werksituatie jullie vandaag nemen", en: "Choose today's work situation on the tablet" },
  chosen: { nl: "Onze vragen vandaag", en: "Our questions today" },
  problem: { nl: "Probleemstelling", en: "Problem statement" },
  step: { nl: "Stap", en: "Step" },
  of: { nl: "van", en: "of" },
  left: { nl: "nog", en: "left" },
  over: { nl: "over tijd", en: "over time" },
  lastMinute: { nl: "laatste minuut", en: "last minute" },
  paused: { nl: "gepauzeerd", en: "paused" },
  minutes: { nl: "min", en: "min" },
  recording: { nl: "Opname loopt", en: "Recording" },
  captionsBehind: { nl: "Ondertiteling loopt achter", en: "Captions are running behind" },
  proposal: { nl: "Verbetervoorstel", en: "Improvement proposal" },
  askOnTablet: { nl: "Vraag het voorstel aan op de tablet", en: "Ask for the proposal on the tablet" },
  steps: { nl: "Stappen", en: "Steps" },
  more: { nl: "en nog", en: "and" },
  pair: { nl: "Tablet koppelen", en: "Pair a tablet" },
  pairLocked: { nl: "Koppelen even geblokkeerd", en: "Pairing locked for a while" },
  clip: { nl: "Video speelt", en: "Video playing" },
  verdict: {
    ready: { nl: "Te beoordelen", en: "To be judged" },
    accepted: { nl: "Aangenomen", en: "Accepted" },
    rejected: { nl: "Afgewezen", en: "Rejected" },
    revising: { nl: "Wordt herschreven", en: "Being revised" },
  },
};

const KIND = {
  arrival: { nl: "Aankomst", en: "Arrival" },
  analysis: { nl: "Analyse", en: "Analysis" },
  problem: { nl: "Probleemstelling", en: "Problem" },
  brainstorm: { nl: "Brainstorm", en: "Brainstorm" },
  proposal: { nl: "Voorstel", en: "Proposal" },
  validation: { nl: "Validatie", en: "Validation" },
  break: { nl: "Pauze", en: "Break" },
  meditation: { nl: "Meditatie", en: "Meditation" },
  custom: { nl: "Stap", en: "Step" },
  wrapup: { nl: "Afronding", en: "Wrap-up" },
};

let state = { version: 0 };
const screen = document.getElementById("screen");

function top(session) {
  const room = state.room || {};
  return h("header", { class: "top" },
    h("span", { class: "room-name" }, room.name || "roomctl"),
    session ? h("span", { class: "group" }, session.group || "") : h("span", { class: "date" }, day(new Date(roomNow()).toISOString())),
    h("span", { class: "clock", "data-testid": "clock" }, clock(new Date(roomNow()).toISOString())));
}

function pairingCard(always) {
  const p = state.pairing;
  if (!p || !p.pin) return null;
  const asked = p.show_until && new Date(p.show_until) > roomNow();
  if (!always && !asked) return null;
  const locked = p.locked_until && new Date(p.locked_until) > roomNow();
  return h("aside", { class: "pairing", "data-testid": "pairing" },
    h("span", { class: "label" }, t(locked ? TEXT.pairLocked : TEXT.pair)),
    locked ? null : h("span", { class: "pin", "data-testid": "pairing-pin" }, `${p.pin.slice(0, 3)} ${p.pin.slice(3)}`));
}

function idleView() {
  const booking = state.booking || {};
  const next = booking.next;
  return [
    top(null),
    h("section", { class: "idle" },
      h("h1", { class: "idle-title" }, booking.current ? booking.current.group : t(TEXT.free)),
      h("p", { class: "tap", "data-testid": "tap-hint" }, t(TEXT.tap)),
      h("p", { class: "next", "data-testid": "next-booking" },
        next ? [t(TEXT.next), ": ", h("strong", {}, next.group), ` · ${day(next.start)} ${clock(next.start)}–${clock(next.end)}`]
             : t(TEXT.none))),
    pairingCard(true),
  ];
}

function planBar(session, remaining) {
  const elapsedStep = Math.max(0, session.step.minutes * 60 - remaining);
  const fraction = Math.min(1, elapsedStep / Math.max(1, session.step.minutes * 60));
  const segments = session.plan.map((step, i) => {
    const cls = i < session.index ? "done" : i === session.index ? "current" : "";
    return h("div", { class: `segment ${cls}`, style: `flex:${step.minutes}` },
      h("div", { class: "bar" }, i === session.index ? h("div", { class: "fill", style: `width:${(fraction * 100).toFixed(1)}%` }) : null),
      h("span", { class: "label" }, t(step.title)));
  });
  const spent = Math.round(session.elapsed_before_step_minutes + elapsedStep / 60);
  return h("footer", { class: "plan-wrap" },
    h("div", { class: "plan", "data-testid": "plan" }, segments),
    h("div", { class: "hour", "data-testid": "hour" }, `${spent} / ${Math.round(session.planned_minutes)} ${t(TEXT.minutes)}`));
}

function timer(session, remaining) {
  const mood = timerMood(session, remaining);
  const label = session.paused ? t(TEXT.paused) : mood === "overtime" ? t(TEXT.over) : mood === "warning" ? t(TEXT.lastMinute) : t(TEXT.left);
  return h("div", { class: `timer ${mood} ${session.paused ? "paused" : ""}`, "data-testid": "timer", "data-mood": mood || "calm" },
    h("span", { class: "time" }, countdown(remaining)),
    h("span", { class: "timer-label", "data-testid": "timer-label" }, label));
}

function stepHeader(session) {
  const step = session.step;
  return [
    h("div", { class: "step-kind", "data-testid": "step-kind" },
      `${t(TEXT.step)} ${session.index + 1} ${t(TEXT.of)} ${session.count} · ${t(KIND[step.kind] || KIND.custom)}`),
    h("h1", { "data-testid": "step-title" }, t(step.title)),
  ];
}

function questionList(questions, cls = "questions") {
  if (!questions || !questions.length) return null;
  return h("ul", { class: cls, "data-testid": "questions" },
    questions.map((q) => h("li", { "data-question": q.id }, h("span", { class: "q" }, t(q)), q.note ? h("span", { class: "note" }, q.note) : null)));
}

function situationCard(session) {
  if (!session.work_situation) return null;
  return h("div", { class: "card situation", "data-testid": "situation" }, h("span", { class: "small-label" }, t(TEXT.situation)), session.work_situation);
}

// Captions: the final transcript's latest lines (they never change), then the words heard since, which the
// final text replaces: agreed by two passes (dimmed) and tentative (dimmer, italic). Text only, never who spoke.
function captions() {
  const part = state.captions;
  const rec = state.recording && state.recording.state;
  // Once the transcript is complete the part holds its last lines alone for a few seconds (live: false).
  if (!part || (part.live && !["recording", "finishing"].includes(rec))) return null;
  const lines = (part.lines || []).slice(-CAPTION_LINES).map((s) => h("span", { class: "final" }, s.text));
  const heard = [];
  if (part.agreed) heard.push(h("span", { class: "agreed", "data-testid": "captions-agreed" }, part.agreed));
  if (part.tentative) heard.push(h("span", { class: "tentative", "data-testid": "captions-tentative" }, part.tentative));
  if (!lines.length && !heard.length && !part.behind) return null;
  return h("div", { class: "captions", "data-testid": "captions", "data-behind": part.behind ? "yes" : "no" },
    part.behind ? h("p", { class: "behind", "data-testid": "captions-behind" }, t(TEXT.captionsBehind)) : null,
    h("div", { class: "caption-window" },
      h("p", { class: "caption-text", "data-testid": "caption-text" }, joinWords([...lines, ...heard]))));
}

function joinWords(spans) {
  const out = [];
  spans.forEach((span, i) => {
    if (i) out.push(" ");
    out.push(span);
  });
  return out;
}

function proposalBlock(large) {
  const p = state.proposal;
  const session = state.session;
  if (!p || (session && p.session_id !== undefined && p.session_id !== session.id)) {
    return h("section", { class: "proposal empty", "data-testid": "proposal" }, h("p", { class: "muted" }, t(TEXT.askOnTablet)));
  }
  const draft = p.draft || {};
  const steps = Array.isArray(draft.steps) ? draft.steps : [];
  const shown = large ? steps : steps.slice(0, PROPOSAL_STEPS_SHOWN);
  const badge = TEXT.verdict[p.state];
  return h("section", { class: `proposal ${large ? "large" : ""} state-${p.state}`, "data-testid": "proposal", "data-state": p.state },
    h("div", { class: "proposal-head" },
      h("h2", {}, draft.title || t(TEXT.proposal)),
      badge ? h("span", { class: `badge ${p.state}`, "data-testid": "proposal-state" }, t(badge)) : null,
      writerLabel()),
    p.message && !["ready", "accepted"].includes(p.state) ? h("p", { class: "notice" }, t(p.message)) : null,
    large && draft.situation_summary ? h("p", { class: "summary" }, draft.situation_summary) : null,
    large && draft.problem ? h("p", { class: "problem" }, h("span", { class: "small-label" }, t(TEXT.problem)), draft.problem) : null,
    shown.length ? h("ol", { class: "proposal-steps" }, shown.map((s) => h("li", {},
      s.role ? h("span", { class: "role" }, s.role) : null, s.action || "",
      s.effort ? h("span", { class: "effort" }, ` · ${s.effort}`) : null))) : null,
    steps.length > shown.length ? h("p", { class: "muted" }, `${t(TEXT.more)} ${steps.length - shown.length}…`) : null);
}

/** "demo — geen AI" when the proposals come from the demo writer, not from an AI. */
function writerLabel() {
  const label = state.proposal_writer && state.proposal_writer.label;
  return label ? h("span", { class: "badge writer", "data-testid": "proposal-writer" }, t(label)) : null;
}

function outcome(session) {
  const p = state.proposal;
  if (!p || p.session_id !== session.id || !p.draft || !p.draft.title) return null;
  const badge = TEXT.verdict[p.state];
  return h("div", { class: "card outcome", "data-testid": "outcome" },
    h("span", { class: "small-label" }, t(TEXT.proposal)),
    h("span", { class: "outcome-title" }, p.draft.title), badge ? h("span", { class: `badge ${p.state}` }, t(badge)) : null);
}

function presentChips(session) {
  const present = session.present || [];
  const guests = guestChips(state);  // issue 19: guests count as present ("gast")
  if (!present.length && !guests.length) return h("p", { class: "muted", "data-testid": "present" }, t(TEXT.nobody));
  return h("div", { class: "present", "data-testid": "present" }, present.map((m) => h("span", {}, m.name)), guests);
}

function arrivalMain(session) {
  return [
    ...stepHeader(session),
    h("p", { class: "prompt" }, t(session.step.prompt)),
    h("h2", { class: "section-label" }, t(TEXT.present)),
    presentChips(session),
    h("h2", { class: "section-label" }, t(TEXT.situation)),
    session.work_situation
      ? h("p", { class: "situation big", "data-testid": "situation" }, session.work_situation)
      : h("p", { class: "muted" }, t(TEXT.noSituation)),
    session.chosen && session.chosen.length ? [h("h2", { class: "section-label" }, t(TEXT.chosen)), questionList(session.chosen, "questions compact")] : null,
    weekLine(state),  // issue 19: the week's work situations
  ];
}

function stepMain(session) {
  const step = session.step;
  if (step.kind === "meditation") return meditationMain(session);  // issue 19: the calm screen
  const body = stepHeader(session);
  if (step.kind === "proposal") {
    body.push(proposalBlock(true));
    return body;
  }
  if (step.prompt && t(step.prompt)) body.push(h("p", { class: "prompt" }, t(step.prompt)));
  if (step.kind === "problem" && session.problem) body.push(h("p", { class: "problem-statement", "data-testid": "problem" }, session.problem));
  if (step.kind === "validation") body.push(proposalBlock(false));
  body.push(questionList(step.question_texts, step.kind === "validation" ? "questions compact" : "questions"));
  body.push(resourceCards(state, step.question_texts));  // issue 19: ways to answer, with QR codes
  if (step.kind === "wrapup") body.push(outcome(session));
  return body;
}

function sessionView(session) {
  const remaining = remainingSeconds(session);
  const main = session.phase === "arrival" ? arrivalMain(session) : stepMain(session);
  const side = [timer(session, remaining)];
  if (session.phase !== "arrival") side.push(situationCard(session));
  else side.push(continuityCard(state));  // issue 19: "Vorige keer besloten" opens every session
  if (session.clip && session.clip.state === "playing") side.push(h("p", { class: "clip-note" }, "▶ ", t(TEXT.clip)));
  if (state.recording && state.recording.state === "recording") side.push(h("p", { class: "recording", "data-testid": "recording" }, t(TEXT.recording)));
  side.push(pairingCard(session.phase === "arrival"));
  return [
    top(session),
    h("div", { class: `stage phase-${session.phase}` },
      h("section", { class: "main" }, main),
      h("aside", { class: "side" }, side)),
    captions(),
    planBar(session, remaining),
  ];
}

function render() {
  setTimeZone(state.room && state.room.timezone);
  const session = state.session;
  const view = session && session.phase !== "ended" ? "session" : "idle";
  screen.dataset.view = view;
  screen.dataset.phase = session ? session.phase : "idle";
  screen.dataset.version = state.version;
  document.documentElement.lang = lang();
  const content = view === "session" ? sessionView(session) : idleView();
  screen.replaceChildren(...content.flat().filter(Boolean));
}

followScreen(
  (snapshot) => {
    state = snapshot;
    render();
  },
  (up) => {
    document.getElementById("link").hidden = up;
  },
);
setInterval(() => {
  if (state.version) render();
}, TICK_MS);
