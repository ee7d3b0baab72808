// The projector page: follows the room's screen state and shows idle, arrival, a step, captions,
// the proposal as it is written, validation and wrap-up. Reconnects by itself; needs no internet.
import { clock, countdown, day, followScreen, h, lang, t } from "/static/common.js";

const TICK_MS = 500;
const CAPTION_LINES = 3;

const TEXT = {
  tap: { nl: "Tik je pas bij de deur", en: "Tap your badge at the door" },
  next: { nl: "Volgende sessie", en: "Next session" },
  none: { nl: "Vandaag geen sessies meer", en: "No more sessions today" },
  free: { nl: "Vrij", en: "Free" },
  welcome: { nl: "Welkom", en: "Welcome" },
  present: { nl: "Aanwezig", en: "Present" },
  situation: { nl: "Werksituatie van vandaag", en: "Today's work situation" },
  step: { nl: "Stap", en: "Step" },
  of: { nl: "van", en: "of" },
  recording: { nl: "Opname loopt", en: "Recording" },
  paused: { nl: "gepauzeerd", en: "paused" },
  proposal: { nl: "Verbetervoorstel", en: "Improvement proposal" },
  writing: { nl: "De AI schrijft het voorstel…", en: "The AI is writing the proposal…" },
};

const KIND = {
  arrival: { nl: "Aankomst", en: "Arrival" },
  analysis: { nl: "Analyse", en: "Analysis" },
  problem: { nl: "Probleemstelling", en: "Problem" },
  brainstorm: { nl: "Brainstorm", en: "Brainstorm" },
  proposal: { nl: "Voorstel", en: "Proposal" },
  validation: { nl: "Validatie", en: "Validation" },
  break: { nl: "Pauze", en: "Break" },
  custom: { nl: "Stap", en: "Step" },
  wrapup: { nl: "Afronding", en: "Wrap-up" },
};

let state = { version: 0 };
const screen = document.getElementById("screen");

function top() {
  const room = state.room || {};
  return h("div", { class: "top" },
    h("span", { class: "room-name" }, room.name || "roomctl"),
    h("span", { class: "clock" }, clock(new Date().toISOString())));
}

function idleView() {
  const booking = state.booking || {};
  const next = booking.next;
  return [
    top(),
    h("div", { class: "idle-center" },
      h("h1", {}, booking.current ? booking.current.group : t(TEXT.free)),
      h("p", { class: "tap", "data-testid": "tap-hint" }, t(TEXT.tap)),
      h("p", { class: "next", "data-testid": "next-booking" },
        next ? [t(TEXT.next), ": ", h("strong", {}, next.group), " · ", day(next.start), " ", clock(next.start), "–", clock(next.end)]
             : t(TEXT.none))),
  ];
}

function planBar(session) {
  const bars = session.plan.map((step, i) =>
    h("div", { class: i < session.index ? "done" : i === session.index ? "current" : "", style: `--minutes:${step.minutes}` }));
  const labels = session.plan.map((step) => h("span", { style: `--minutes:${step.minutes}` }, t(step.title)));
  return [h("div", { class: "plan", "data-testid": "plan" }, bars), h("div", { class: "plan-labels" }, labels)];
}

function remainingSeconds(session) {
  if (session.paused || !session.ends_at) return session.remaining_seconds;
  return (new Date(session.ends_at) - Date.now()) / 1000;
}

function questionList(step) {
  const questions = step.question_texts || [];
  if (!questions.length) return null;
  return h("ul", { class: "questions", "data-testid": "questions" },
    questions.map((q) => h("li", {}, t(q), q.note ? h("span", { class: "note" }, q.note) : null)));
}

function captions() {
  const part = state.captions;
  if (!part || !part.segments || !part.segments.length) return null;
  return h("div", { class: "captions", "data-testid": "captions" },
    part.segments.slice(-CAPTION_LINES).map((s) => h("p", {}, s.text)));
}

function proposalView() {
  const p = state.proposal;
  if (!p) return null;
  const draft = p.proposal || p.draft || {};
  return h("section", { class: "proposal", "data-testid": "proposal" },
    h("h3", {}, draft.title || t(TEXT.proposal)),
    p.message ? h("p", { class: "notice" }, t(p.message)) : null,
    draft.summary ? h("p", {}, draft.summary) : null,
    Array.isArray(draft.steps) ? h("ol", {}, draft.steps.map((s) => h("li", {}, s.action || s.title || JSON.stringify(s)))) : null,
    p.status === "streaming" || p.status === "pending" ? h("p", { class: "notice" }, t(TEXT.writing)) : null);
}

function sessionView(session) {
  const step = session.step;
  const remaining = remainingSeconds(session);
  const timerClass = ["timer", session.paused ? "paused" : "", remaining <= 60 ? "warning" : ""].join(" ");
  const body = [
    top(),
    h("div", { class: "step-kind", "data-testid": "step-kind" },
      `${t(TEXT.step)} ${session.index + 1} ${t(TEXT.of)} ${session.count} · ${t(KIND[step.kind] || KIND.custom)}`),
    h("h1", { "data-testid": "step-title" }, t(step.title)),
  ];
  if (session.work_situation) body.push(h("p", { class: "situation" }, `${t(TEXT.situation)}: ${session.work_situation}`));
  if (step.kind === "arrival") {
    body.push(h("h2", {}, t(TEXT.present)));
    body.push(h("div", { class: "present", "data-testid": "present" }, (session.present || []).map((m) => h("span", {}, m.name))));
  }
  if (step.prompt && t(step.prompt)) body.push(h("p", { class: "prompt" }, t(step.prompt)));
  body.push(questionList(step));
  if (step.kind === "proposal" || step.kind === "validation") body.push(proposalView());
  body.push(captions());
  body.push(h("div", { class: "bottom" },
    h("div", { class: timerClass, "data-testid": "timer" }, countdown(remaining), session.paused ? ` (${t(TEXT.paused)})` : ""),
    planBar(session)));
  return body;
}

function render() {
  const session = state.session;
  const view = session && session.phase !== "ended" ? "session" : "idle";
  screen.dataset.view = view;
  screen.dataset.version = state.version;
  document.documentElement.lang = lang();
  const content = view === "session" ? sessionView(session) : idleView();
  const recording = state.recording;
  if (recording && recording.state === "recording") content.push(h("div", { class: "recording", "data-testid": "recording" }, t(TEXT.recording)));
  screen.replaceChildren(...content.filter(Boolean));
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
