// The facilitator's tablet (10 inch, portrait or landscape): paired with the PIN on the projector, it steers the
// session. Every tablet follows the same screen state over /ws, so several tablets stay in sync; a section
// whose text field has the focus is left alone while the state changes, so typing is never interrupted.
import { ApiError, api, clock, countdown, deviceState, followScreen, h, lang, placeChildren, remainingSeconds, setLang, setTimeZone, setToken, t, timerMood, token, word } from "/static/common.js";
import { weekSections } from "/static/tablet-weeks.js";

const TICK_MS = 1000;
const EXTEND_MINUTES = 5;
/** Sections that steer the session, in the order they sit in their own pane (left in landscape, top in portrait). */
const CONTROL_ORDER = ["now", "idle", "recording", "proposal", "clip", "room"];
const CONTROL_KEYS = new Set(CONTROL_ORDER);

const TEXT = {
  session: { nl: "Sessie", en: "Session" },
  noSession: { nl: "Er loopt geen sessie. Een groepslid start er een door de pas bij de deur te tikken.", en: "No session is running. A group member starts one by tapping their badge at the door." },
  startFor: { nl: "Sessie starten voor", en: "Start the session for" },
  previous: { nl: "Vorige", en: "Previous" },
  next: { nl: "Volgende", en: "Next" },
  finish: { nl: "Afsluiten", en: "Finish" },
  pause: { nl: "Timer pauzeren", en: "Pause timer" },
  resume: { nl: "Timer verder", en: "Resume timer" },
  extend: { nl: `+${EXTEND_MINUTES} min`, en: `+${EXTEND_MINUTES} min` },
  end: { nl: "Sessie beëindigen", en: "End session" },
  endConfirm: { nl: "De sessie beëindigen? Dit kan niet ongedaan worden gemaakt.", en: "End the session? This cannot be undone." },
  plan: { nl: "Plan van het uur", en: "The hour's plan" },
  present: { nl: "Aanwezig", en: "Present" },
  today: { nl: "Vandaag", en: "Today" },
  left: { nl: "nog", en: "left" },
  over: { nl: "over tijd", en: "over time" },
  lastMinute: { nl: "laatste minuut", en: "last minute" },
  paused: { nl: "gepauzeerd", en: "paused" },
  clip: { nl: "Video", en: "Video" },
  play: { nl: "Afspelen", en: "Play" },
  pauseClip: { nl: "Pauzeren", en: "Pause" },
  restart: { nl: "Opnieuw", en: "Restart" },
  clipStates: { playing: { nl: "speelt", en: "playing" }, paused: { nl: "gepauzeerd", en: "paused" }, done: { nl: "afgelopen", en: "finished" } },
  clipLed: { nl: "Na de video gaat de sessie vanzelf verder.", en: "The session moves on when the video ends." },
  clipError: { nl: "De video kon niet worden afgespeeld", en: "The video could not be played" },
  choice: { nl: "Wat nemen we vandaag?", en: "What do we take on today?" },
  situation: { nl: "Werksituatie van vandaag", en: "Today's work situation" },
  problem: { nl: "Probleemstelling", en: "Problem statement" },
  save: { nl: "Opslaan", en: "Save" },
  questions: { nl: "Vragen van het kader", en: "Questions of the framework" },
  chosen: { nl: "gekozen", en: "chosen" },
  show: { nl: "Toon", en: "Show" },
  hide: { nl: "Verberg", en: "Hide" },
  note: { nl: "Notitie", en: "Note" },
  recording: { nl: "Opname van de brainstorm", en: "Recording the brainstorm" },
  askConsent: { nl: "Toestemming vragen", en: "Ask for consent" },
  agree: { nl: "Iedereen stemt in — start opname", en: "Everyone agrees — start recording" },
  withdraw: { nl: "Niet opnemen", en: "Do not record" },
  stop: { nl: "Opname stoppen", en: "Stop recording" },
  proposal: { nl: "Verbetervoorstel", en: "Improvement proposal" },
  ask: { nl: "Voorstel vragen", en: "Ask for the proposal" },
  accept: { nl: "Aannemen", en: "Accept" },
  revise: { nl: "Laten herzien", en: "Revise" },
  reject: { nl: "Afwijzen", en: "Reject" },
  remarks: { nl: "Wat moet er anders?", en: "What should change?" },
  previewTitle: { nl: "Dit gaat naar buiten", en: "This is what leaves the room" },
  previewHelp: { nl: "Namen en gegevens zijn vervangen (gemarkeerd). Tik op een passage om die door te strepen: doorgestreepte passages worden niet verstuurd.", en: "Names and details are replaced (marked). Tap a passage to strike it: struck passages are not sent." },
  previewSend: { nl: "Versturen", en: "Send" },
  previewLoading: { nl: "Laden…", en: "Loading…" },
  previewExact: { nl: "Precies de tekst die verstuurd wordt", en: "Exactly the text that is sent" },
  previewStruck: { nl: "doorgestreept", en: "struck" },
  previewRules: { nl: "De vaste instructies die meegaan (voor elke groep dezelfde)", en: "The fixed instructions sent along (the same for every group)" },
  previewTo: { nl: "naar", en: "to" },
  sentShow: { nl: "Wat is er verstuurd?", en: "What was sent?" },
  sentExpired: { nl: "Wat er verstuurd is, is verlopen en verwijderd (net als het transcript).", en: "What was sent has expired and was deleted (like the transcript)." },
  sections: { work_situation: { nl: "Werksituatie", en: "Work situation" }, problem: { nl: "Probleemstelling", en: "Problem" }, kader_notes: { nl: "Notities bij het kader", en: "Framework notes" }, previous_proposal: { nl: "Vorig voorstel", en: "Previous proposal" }, transcript: { nl: "Brainstorm", en: "Brainstorm" }, draft: { nl: "Concept", en: "Draft" }, remarks: { nl: "Opmerkingen", en: "Remarks" } },
  pairTitle: { nl: "Tablet koppelen", en: "Pair this tablet" },
  pairHelp: { nl: "Typ de zes cijfers die op het scherm van de ruimte staan.", en: "Type the six digits shown on the room's screen." },
  showPin: { nl: "Toon de code op het scherm", en: "Show the code on the screen" },
  pair: { nl: "Koppelen", en: "Pair" },
  offline: { nl: "Geen verbinding — opnieuw verbinden…", en: "No connection — reconnecting…" },
  room: { nl: "De ruimte", en: "The room" },
  scene: { nl: "Scène", en: "Scene" },
};

let state = {};
let stopFollowing = null;
const main = document.getElementById("main");
const select = document.getElementById("lang");
const banner = h("p", { class: "error", role: "alert", "data-testid": "error" });
select.value = lang();
select.addEventListener("change", () => { setLang(select.value); render(true); });

function showError(e) {
  banner.textContent = e ? e.message : "";
  if (e && e.status === 401) startPairing();
}

async function command(name, args = {}) {
  try {
    await api("/api/v1/session/commands", { method: "POST", body: { command: name, args } });
    showError(null);
    return true;
  } catch (e) {
    showError(e);
    return false;
  }
}

function button(label, name, args, attrs = {}) {
  return h("button", { onclick: () => command(name, args), "data-testid": attrs.testid || name, ...attrs, testid: undefined }, t(label));
}

// -- sections -----------------------------------------------------------------------------------------------

function nowSection(session) {
  const remaining = remainingSeconds(session);
  const mood = timerMood(session, remaining);
  const label = session.paused ? TEXT.paused : mood === "overtime" ? TEXT.over : mood === "warning" ? TEXT.lastMinute : TEXT.left;
  const last = session.index === session.count - 1;
  return h("section", { class: "now", "data-key": "now" },
    h("h2", {}, `${t(TEXT.session)} · ${session.group || ""}`),
    h("p", { class: "big", "data-testid": "tablet-step" }, `${session.index + 1}/${session.count} ${t(session.step.title)}`),
    h("p", { class: `tablet-timer ${mood}`, "data-mood": mood || "calm" },
      h("span", { "data-testid": "tablet-timer" }, countdown(remaining)), " ", h("span", { class: "muted", "data-testid": "tablet-timer-label" }, t(label))),
    h("div", { class: "row controls" },
      h("button", { onclick: () => command("previous"), disabled: session.index === 0, "data-testid": "previous" }, t(TEXT.previous)),
      h("button", { class: "primary wide", onclick: () => command("next"), "data-testid": "next" }, t(last ? TEXT.finish : TEXT.next))),
    h("div", { class: "row secondary" },
      session.paused ? button(TEXT.resume, "resume") : button(TEXT.pause, "pause"),
      button(TEXT.extend, "extend", { minutes: EXTEND_MINUTES }, { testid: "extend" }),
      h("button", { class: "danger", "data-testid": "end", onclick: () => confirm(t(TEXT.endConfirm)) && command("end") }, t(TEXT.end))));
}

function clipSection(session) {
  if (!session.step.clip) return null;
  const progress = session.clip_progress;
  const stateText = session.clip_state ? t(TEXT.clipStates[session.clip_state]) : "";
  const position = progress && progress.length_ms ? ` · ${countdown(progress.position_ms / 1000)} / ${countdown(progress.length_ms / 1000)}` : "";
  return h("section", { "data-key": "clip" },
    h("h2", {}, t(TEXT.clip)),
    h("p", { "data-testid": "clip-state" }, stateText, position),
    progress && progress.state === "error" ? h("p", { class: "error" }, `${t(TEXT.clipError)}: ${progress.error || ""}`) : null,
    session.step.clip_led ? h("p", { class: "muted" }, t(TEXT.clipLed)) : null,
    h("div", { class: "row" },
      session.clip_state === "playing" ? button(TEXT.pauseClip, "pause_clip") : button(TEXT.play, "play"),
      button(TEXT.restart, "restart_clip")));
}

function textForm(label, value, commandName, testid, multiline = false) {
  const input = multiline
    ? h("textarea", { rows: 2, "data-testid": testid, maxlength: 500 }, value || "")
    : h("input", { value: value || "", "data-testid": testid, maxlength: 300 });
  return h("form", { class: "stack", onsubmit: async (e) => { e.preventDefault(); await command(commandName, { text: input.value }); input.blur(); } },
    h("label", {}, t(label), input), h("button", { "data-testid": `${testid}-save` }, t(TEXT.save)));
}

function choiceSection(session) {
  const onScreen = new Set(session.questions || []);
  const chosen = new Set((session.chosen || []).map((q) => q.id));
  const notes = session.notes || {};
  const rows = (session.kader || []).map((q) => {
    const note = h("input", { value: notes[q.id] || "", placeholder: t(TEXT.note), maxlength: 280, "data-testid": `note-${q.id}` });
    const toggle = h("input", {
      type: "checkbox", checked: chosen.has(q.id), "data-testid": `choose-${q.id}`, "aria-label": t(TEXT.chosen),
      onchange: (e) => {
        const ids = new Set(chosen);
        if (e.target.checked) ids.add(q.id); else ids.delete(q.id);
        command("choose", { questions: [...ids] });
      },
    });
    return h("li", { class: onScreen.has(q.id) ? "on-screen" : "" },
      h("div", { class: "question-line" }, h("label", { class: "tap" }, toggle), h("span", { class: "q" }, t(q)),
        onScreen.has(q.id) ? button(TEXT.hide, "hide_question", { question: q.id }, { testid: `hide-${q.id}` })
                           : button(TEXT.show, "show_question", { question: q.id }, { testid: `show-${q.id}` })),
      h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); command("note", { question: q.id, text: note.value }); note.blur(); } },
        note, h("button", { "data-testid": `note-${q.id}-save` }, t(TEXT.save))));
  });
  return h("section", { class: "choice wide-section", "data-key": "choice" },
    h("h2", {}, t(TEXT.choice)),
    textForm(TEXT.situation, session.work_situation, "situation", "situation"),
    session.step.kind !== "arrival" ? textForm(TEXT.problem, session.problem, "problem", "problem", true) : null,
    h("h3", {}, t(TEXT.questions)),
    h("ol", { class: "kader" }, rows));
}

function recordingSection() {
  const rec = state.recording || { state: "idle" };
  const actions = {
    idle: [button(TEXT.askConsent, "consent", { agreed: true }, { testid: "consent" })],
    error: [button(TEXT.askConsent, "consent", { agreed: true }, { testid: "consent" })],
    consent: [button(TEXT.agree, "record_start", {}, { class: "primary", testid: "record-start" }), button(TEXT.withdraw, "consent", { agreed: false }, { testid: "withdraw" })],
    recording: [button(TEXT.stop, "record_stop", {}, { class: "danger", testid: "record-stop" })],
    finishing: [],
  };
  return h("section", { "data-key": "recording" },
    h("h2", {}, t(TEXT.recording)),
    h("p", { class: rec.state === "recording" ? "recording-on" : "", "data-testid": "recording-state" }, rec.message ? t(rec.message) : word("recording", rec.state)),
    h("div", { class: "row" }, actions[rec.state] || []));
}

// -- the preview: what leaves the room (self-contained; it only needs the proposal part of the screen state) ----

const preview = { id: null, data: null, struck: new Set(), busy: false, sent: null };
const PLACEHOLDER = /(\[[^\[\]\n]{1,60}\])/;

async function loadPreview(id) {
  const struck = [...preview.struck].join(",");
  const data = await api(`/api/v1/proposal-previews/${id}${struck ? `?struck=${encodeURIComponent(struck)}` : ""}`);
  if (preview.id === id) { preview.data = data; render(); }
}

function marked(text) {
  return text.split(PLACEHOLDER).map((piece, i) => (i % 2 ? h("mark", { class: "placeholder" }, piece) : piece));
}

function previewSection(p) {
  if (preview.id !== p.preview_id) {
    Object.assign(preview, { id: p.preview_id, data: null, struck: new Set(), busy: false });
    loadPreview(p.preview_id).catch(showError);
  }
  const data = preview.data;
  if (!data) return h("div", { "data-testid": "preview", class: "preview" }, h("p", { class: "muted" }, t(TEXT.previewLoading)));
  const toggle = (id) => {
    if (preview.struck.has(id)) preview.struck.delete(id); else preview.struck.add(id);
    render();
    loadPreview(preview.id).catch(showError);
  };
  const send = async () => {
    preview.busy = true;
    render();
    try {
      await api(`/api/v1/proposal-previews/${preview.id}/send`, { method: "POST", body: { struck: [...preview.struck] } });
      showError(null);
    } catch (e) {
      preview.busy = false;
      showError(e);
      render();
    }
  };
  return h("div", { "data-testid": "preview", class: "preview" },
    h("h3", {}, t(TEXT.previewTitle), data.provider === "openai_compatible" ? ` (${t(TEXT.previewTo)} ${data.model})` : ""),
    h("p", { class: "muted" }, t(TEXT.previewHelp)),
    data.sections.map((section) => h("div", { class: "preview-section", "data-tag": section.tag },
      h("h4", {}, t(TEXT.sections[section.tag] || section.tag)),
      section.passages.map((passage) => {
        const struck = preview.struck.has(passage.id);
        return h("button", {
          class: `passage${struck ? " struck" : ""}`, "data-testid": `passage-${passage.id}`, "aria-pressed": struck ? "true" : "false",
          title: struck ? t(TEXT.previewStruck) : "", onclick: () => toggle(passage.id),
        }, marked(passage.text));
      }))),
    h("details", { "data-testid": "preview-exact" }, h("summary", {}, t(TEXT.previewExact)), h("pre", { class: "exact", "data-testid": "preview-text", "data-verbatim": "" }, marked(data.text))),
    h("details", { "data-testid": "preview-rules" }, h("summary", {}, t(TEXT.previewRules)), h("pre", { class: "exact", "data-verbatim": "" }, data.system)),
    h("div", { class: "row" }, h("button", { class: "primary", "data-testid": "preview-send", disabled: preview.busy, onclick: send }, t(TEXT.previewSend))));
}

/** The preview panel, in every phase, while a request waits for the group (null otherwise). */
function previewPanel(session) {
  const p = state.proposal;
  if (!p || p.state !== "preview" || p.session_id !== session.id) return null;
  return h("section", { "data-key": "preview", class: "wide-section" },
    h("h2", {}, t(TEXT.proposal)), h("p", { "data-testid": "preview-message" }, t(p.message)), previewSection(p));
}

function sentSection(p) {
  if (!p.proposal_id || p.state === "preview") return null;
  const shown = preview.sent && preview.sent.proposal_id === p.proposal_id ? preview.sent : null;
  const open = async () => {
    try {
      preview.sent = await api(`/api/v1/proposals/${p.proposal_id}/sent`);
      render();
    } catch (e) { showError(e); }
  };
  if (!shown) return h("div", { class: "row" }, h("button", { class: "link", "data-testid": "sent-show", onclick: open }, t(TEXT.sentShow)));
  return h("div", { "data-testid": "sent" }, shown.expired
    ? h("p", { class: "muted" }, t(TEXT.sentExpired))
    : h("pre", { class: "exact", "data-testid": "sent-text", "data-verbatim": "" }, marked(shown.text)));
}

function proposalSection(session) {
  const p = state.proposal && state.proposal.session_id === session.id ? state.proposal : null;
  const draft = (p && p.draft) || {};
  const remarks = h("textarea", { rows: 2, placeholder: t(TEXT.remarks), "data-testid": "remarks" });
  const judging = p && p.state === "ready";
  const writer = state.proposal_writer && state.proposal_writer.label;
  return h("section", { "data-key": "proposal" },
    h("h2", {}, t(TEXT.proposal), writer ? h("span", { class: "writer-label", "data-testid": "proposal-writer" }, t(writer)) : null),
    p ? h("p", { "data-testid": "proposal-message" }, t(p.message)) : null,
    draft.title ? h("p", { class: "big" }, draft.title) : null,
    p ? sentSection(p) : null,
    judging
      ? h("div", { class: "stack" }, remarks, h("div", { class: "row" },
          button(TEXT.accept, "verdict", { verdict: "accept" }, { class: "primary", testid: "accept" }),
          h("button", { "data-testid": "revise", onclick: () => command("verdict", { verdict: "revise", remarks: remarks.value }) }, t(TEXT.revise)),
          button(TEXT.reject, "verdict", { verdict: "reject" }, { class: "danger", testid: "reject" })))
      : h("div", { class: "row" }, button(TEXT.ask, "ask_proposal", {}, { testid: "ask-proposal", disabled: p && ["preview", "waiting", "writing", "revising"].includes(p.state) })));
}

function planSection(session) {
  return h("section", { "data-key": "plan" },
    h("h2", {}, t(TEXT.plan)),
    h("ol", { class: "plan" }, session.plan.map((step, i) =>
      h("li", { class: i === session.index ? "current" : i < session.index ? "done" : "" },
        h("button", { class: "link", onclick: () => command("goto", { index: i }), "data-testid": `goto-${i}` }, t(step.title)),
        h("span", { class: "muted" }, ` ${step.minutes} min`)))),
    h("h2", {}, t(TEXT.present)),
    h("p", { "data-testid": "tablet-present" }, (session.present || []).map((m) => m.name).join(", ") || "—"));
}

function agendaSection() {
  const booking = state.booking || {};
  const today = booking.today || [];
  const current = booking.current;
  return h("section", { "data-key": "agenda" }, h("h2", {}, t(TEXT.today)),
    !state.session && current ? h("button", { class: "primary", "data-testid": "start", onclick: () => command("start") }, `${t(TEXT.startFor)} ${current.group}`) : null,
    today.length
      ? h("table", {}, today.map((b) => h("tr", {}, h("td", {}, `${clock(b.start)}–${clock(b.end)}`), h("td", {}, b.group), h("td", { class: "muted" }, word("booking", b.status)))))
      : h("p", { class: "muted" }, "—"));
}

function roomSection() {
  const part = state.devices || {};
  const devices = (part.devices || []).filter((d) => d.kind !== "presence");
  if (!devices.length) return null;
  const scene = part.scene;
  return h("section", { "data-key": "room" }, h("h2", {}, t(TEXT.room)),
    scene ? h("p", { "data-testid": "room-scene", "data-scene": scene.name, "data-status": scene.status },
      `${t(TEXT.scene)}: `, h("strong", {}, word("scene", scene.name)), ` — ${word("sceneStatus", scene.status)}`) : null,
    h("ul", { class: "devices", "data-testid": "room-devices" }, devices.map((d) =>
      h("li", { "data-device": d.id }, h("span", {}, d.name), h("span", { class: "muted" }, deviceState(d))))));
}

// -- rendering ----------------------------------------------------------------------------------------------

function sections() {
  const session = state.session;
  if (!session) return [h("section", { "data-key": "idle" }, h("p", { "data-testid": "no-session" }, t(TEXT.noSession))), agendaSection()];
  const list = [nowSection(session), previewPanel(session), clipSection(session), ...weekSections(state, command)];  // issue 19: over weeks
  if (session.phase === "arrival") list.push(choiceSection(session), planSection(session));
  else {
    if (["brainstorm", "analysis", "problem"].includes(session.phase) || (state.recording && state.recording.state !== "idle")) list.push(recordingSection());
    if (["proposal", "validation", "brainstorm"].includes(session.phase) || state.proposal) list.push(proposalSection(session));
    list.push(planSection(session), choiceSection(session));
  }
  list.push(roomSection(), agendaSection());
  return list.filter(Boolean).map((section, i) => {
    if (!section.dataset.key) section.dataset.key = `s${i}`;
    return section;
  });
}

// The two panes persist between renders, so each keeps its scroll position while the state changes.
const controlsPane = h("div", { class: "pane pane-controls", "data-testid": "controls-pane" });
const contentPane = h("div", { class: "pane pane-content", "data-testid": "content-pane" });

function render(force = false) {
  setTimeZone(state.room && state.room.timezone);
  document.documentElement.lang = lang();
  const focused = document.activeElement;
  const editing = focused && ["INPUT", "TEXTAREA"].includes(focused.tagName) && focused.type !== "checkbox" && main.contains(focused);
  const fresh = sections();
  if (editing && !force) {
    const keep = [...main.querySelectorAll("[data-key]")].find((s) => s.contains(focused));
    if (keep) {
      const at = fresh.findIndex((s) => s.dataset.key === keep.dataset.key);
      if (at >= 0) fresh[at] = keep;
    }
  }
  const controls = fresh.filter((s) => CONTROL_KEYS.has(s.dataset.key));
  controls.sort((a, b) => CONTROL_ORDER.indexOf(a.dataset.key) - CONTROL_ORDER.indexOf(b.dataset.key));
  placeChildren(controlsPane, [banner, ...controls]);  // never moves the kept section: its field keeps focus
  placeChildren(contentPane, fresh.filter((s) => !CONTROL_KEYS.has(s.dataset.key)));
  if (main.firstChild !== controlsPane || main.lastChild !== contentPane) main.replaceChildren(controlsPane, contentPane);
}

function tick() {
  const session = state.session;
  const timer = document.querySelector("[data-testid=tablet-timer]");
  if (!session || !timer) return;
  const remaining = remainingSeconds(session);
  timer.textContent = countdown(remaining);
  const mood = timerMood(session, remaining);
  timer.parentElement.className = `tablet-timer ${mood}`;
  timer.parentElement.dataset.mood = mood || "calm";
}

// -- pairing ------------------------------------------------------------------------------------------------

function startPairing() {
  if (stopFollowing) { stopFollowing(); stopFollowing = null; }
  const pin = h("input", { inputmode: "numeric", pattern: "[0-9]{6}", maxlength: 6, autocomplete: "one-time-code", class: "pin-input", "data-testid": "pin", "aria-label": "PIN" });
  const error = h("p", { class: "error", role: "alert", "data-testid": "pair-error" });
  const form = h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const answer = await api("/api/v1/tablet/pair", { method: "POST", body: { pin: pin.value.trim() } });
      setToken(answer.token);
      start();
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : String(err);
      pin.select();
    }
  } }, pin, h("button", { class: "primary", "data-testid": "pair" }, t(TEXT.pair)));
  main.replaceChildren(h("section", { class: "pairing-card" },
    h("h2", {}, t(TEXT.pairTitle)), h("p", {}, t(TEXT.pairHelp)), form, error,
    h("button", { class: "link", "data-testid": "show-pin", onclick: () => api("/api/v1/tablet/pairing/show", { method: "POST" }).catch(() => {}) }, t(TEXT.showPin))));
  document.body.dataset.paired = "false";
  pin.focus();
}

async function start() {
  if (!token()) return startPairing();
  try {
    await api("/api/v1/session");
  } catch (e) {
    if (e.status === 401 || e.status === 403) return startPairing();
  }
  document.body.dataset.paired = "true";
  banner.textContent = "";
  stopFollowing = followScreen(
    (snapshot) => { state = snapshot; render(); },
    (up) => {
      document.body.dataset.link = up ? "up" : "down";
      if (!up) api("/api/v1/session").catch((e) => { if (e.status === 401) startPairing(); });
    },
  );
}

start();
setInterval(tick, TICK_MS);
