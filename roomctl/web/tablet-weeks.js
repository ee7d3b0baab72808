// The tablet's sections over weeks (issue 19), kept apart from tablet.js's own layout: what the group decided
// last time and how it went, the week's choice of kader questions and work situations, guests and their door
// codes, and breaks (movement, meditation) inserted from the tablet.
import { ApiError, api, h, t } from "/static/common.js";

const TEXT = {
  lastTime: { nl: "Vorige keer besloten", en: "Decided last time" },
  nothingYet: { nl: "Nog geen gevalideerd voorstel.", en: "No validated proposal yet." },
  howItWent: { nl: "Hoe ging het?", en: "How did it go?" },
  how: { well: { nl: "Goed", en: "Well" }, partly: { nl: "Deels", en: "Partly" }, not_yet: { nl: "Nog niet", en: "Not yet" } },
  followup: { nl: "Korte terugblik", en: "Short follow-up" },
  save: { nl: "Opslaan", en: "Save" },
  open: { nl: "voorstellen nog zonder terugblik", en: "proposals not yet followed up" },
  week: { nl: "Keuze van deze week", en: "This week's choice" },
  weekQuestions: { nl: "Vragen van het kader voor de week", en: "Framework questions for the week" },
  situations: { nl: "Werksituaties van de week (één per regel)", en: "Work situations of the week (one per line)" },
  saveWeek: { nl: "Keuze van de week opslaan", en: "Save the week's choice" },
  today: { nl: "Vandaag nemen we:", en: "Today we take:" },
  firstOfWeek: { nl: "Eerste sessie van de week: kies samen de vragen en werksituaties voor deze week.", en: "First session of the week: choose together the questions and work situations for this week." },
  laterInWeek: { nl: "De keuze van deze week; pas hem aan als dat nodig is.", en: "This week's choice; change it if needed." },
  guests: { nl: "Gasten", en: "Guests" },
  guestName: { nl: "Naam van de gast", en: "Guest's name" },
  colleague: { nl: "Collega", en: "Colleague" },
  expert: { nl: "Externe deskundige", en: "External expert" },
  invite: { nl: "Uitnodigen", en: "Invite" },
  codeOnce: { nl: "Deurcode (alleen nu zichtbaar)", en: "Door code (shown only now)" },
  enterCode: { nl: "Deurcode van een gast", en: "A guest's door code" },
  open_door: { nl: "Deur openen", en: "Open the door" },
  welcome: { nl: "Welkom — de deur is open.", en: "Welcome — the door is open." },
  breaks: { nl: "Pauze invoegen", en: "Insert a break" },
  movement: { nl: "Bewegingspauze", en: "Movement break" },
  meditation: { nl: "Meditatie", en: "Meditation" },
  pause: { nl: "Pauze", en: "Break" },
  min: { nl: "min", en: "min" },
};

// What the last invitation and door code answered, and what is being typed or ticked but not saved yet: kept
// here because the tablet re-renders on every change of the screen state.
const notes = { guest: { cls: "muted", text: "" }, door: { cls: "muted", text: "" } };
const drafts = { note: null, situations: null, questions: null, cycle: null };

function note(key, testid) {
  return h("p", { class: notes[key].cls, role: "status", "data-testid": testid }, notes[key].text);
}

function say(key, el, cls, text) {
  notes[key] = { cls, text };
  el.className = cls;
  el.textContent = text;
}

function continuitySection(state, command) {
  const c = state.continuity;
  if (!c) return null;
  const last = c.last_proposal;
  const followup = c.followup || {};
  const text = h("input", { value: drafts.note ?? (followup.note || ""), maxlength: 280, placeholder: t(TEXT.followup), "data-testid": "followup-note",
    oninput: (e) => { drafts.note = e.target.value; } });
  const send = async (how) => { if (await command("followup", { how, note: text.value })) drafts.note = null; };
  return h("section", { class: "wide-section", "data-key": "continuity", "data-testid": "tablet-continuity" },
    h("h2", {}, t(TEXT.lastTime)),
    last ? [
      h("p", { class: "big", "data-testid": "last-proposal" }, last.title),
      last.steps.length ? h("ul", {}, last.steps.map((s) => h("li", {}, s))) : null,
      h("h3", {}, t(TEXT.howItWent)),
      text,
      h("div", { class: "row" }, Object.keys(TEXT.how).map((how) => h("button", {
        class: followup.how_it_went === how ? "primary" : "", "data-testid": `followup-${how}`, onclick: () => send(how),
      }, t(TEXT.how[how])))),
    ] : h("p", { class: "muted" }, t(TEXT.nothingYet)),
    c.open_followups ? h("p", { class: "muted", "data-testid": "open-followups" }, `${c.open_followups} ${t(TEXT.open)}`) : null);
}

function cycleSection(state, command) {
  const c = state.continuity && state.continuity.cycle;
  const session = state.session;
  if (!c || !session) return null;
  if (drafts.cycle !== c.id) Object.assign(drafts, { cycle: c.id, situations: null, questions: null });
  const chosen = new Set(drafts.questions ?? c.questions);
  const boxes = (session.kader || []).map((q) => h("label", { class: "question-line" },
    h("input", { type: "checkbox", value: q.id, checked: chosen.has(q.id), "data-testid": `week-${q.id}`, onchange: () => { drafts.questions = ticked(); } }),
    h("span", { class: "q" }, t(q))));
  const ticked = () => boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
  const situations = h("textarea", { rows: 3, "data-testid": "week-situations", oninput: (e) => { drafts.situations = e.target.value; } },
    drafts.situations ?? c.situations.join("\n"));
  const save = async (e) => {
    e.preventDefault();
    const body = { questions: ticked(), situations: situations.value.split("\n").map((s) => s.trim()).filter(Boolean) };
    if (await command("cycle", body)) Object.assign(drafts, { situations: null, questions: null });
  };
  return h("section", { class: "wide-section", "data-key": "cycle", "data-testid": "tablet-cycle" },
    h("h2", {}, `${t(TEXT.week)} · ${c.week}`),
    h("p", { class: "muted", "data-testid": "cycle-hint" }, t(c.first_session_id === session.id ? TEXT.firstOfWeek : TEXT.laterInWeek)),
    c.notice ? h("p", { class: "error", "data-testid": "cycle-notice" }, t(c.notice)) : null,
    c.situations.length ? h("div", { class: "row" }, h("span", { class: "muted" }, t(TEXT.today)), c.situations.map((text, i) => h("button", {
      class: session.work_situation === text ? "primary" : "", "data-testid": `today-situation-${i}`,
      onclick: () => command("situation", { text }),
    }, text))) : null,
    h("form", { class: "stack", onsubmit: save },
      h("fieldset", {}, h("legend", {}, t(TEXT.weekQuestions)), boxes),
      h("label", {}, t(TEXT.situations), situations),
      h("button", { class: "primary", "data-testid": "week-save" }, t(TEXT.saveWeek))));
}

function guestSection(state) {
  const booking = state.booking && state.booking.current;
  const result = note("guest", "guest-result");
  const name = h("input", { maxlength: 80, placeholder: t(TEXT.guestName), "data-testid": "guest-name" });
  const kind = h("select", { "data-testid": "guest-kind" }, h("option", { value: "colleague" }, t(TEXT.colleague)), h("option", { value: "expert" }, t(TEXT.expert)));
  const invite = booking ? h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const answer = await api(`/api/v1/bookings/${booking.id}/guests`, { method: "POST", body: { name: name.value, kind: kind.value } });
      say("guest", result, "big", `${t(TEXT.codeOnce)}: ${answer.code}`);
      name.value = "";
    } catch (err) { say("guest", result, "error", err instanceof ApiError ? err.message : String(err)); }
  } }, name, kind, h("button", { "data-testid": "guest-invite" }, t(TEXT.invite))) : null;
  const code = h("input", { inputmode: "numeric", maxlength: 8, autocomplete: "off", placeholder: t(TEXT.enterCode), "data-testid": "door-code" });
  const door = note("door", "door-code-result");
  const enter = h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const answer = await api("/api/v1/door/codes", { method: "POST", body: { code: code.value.trim() } });
      say("door", door, answer.granted ? "ok" : "error", answer.granted ? t(TEXT.welcome) : answer.message);
      code.value = "";
    } catch (err) { say("door", door, "error", err.message); }
  } }, code, h("button", { "data-testid": "door-code-enter" }, t(TEXT.open_door)));
  return h("section", { "data-key": "guests", "data-testid": "tablet-guests" }, h("h2", {}, t(TEXT.guests)), invite, result, enter, door);
}

function breakSection(command) {
  const kinds = [["movement", TEXT.movement, 5], ["meditation", TEXT.meditation, 5], ["break", TEXT.pause, 10]];
  return h("section", { "data-key": "breaks" }, h("h2", {}, t(TEXT.breaks)),
    h("div", { class: "row" }, kinds.map(([kind, label, minutes]) => h("button", {
      "data-testid": `insert-${kind}`, onclick: () => command("insert_break", { kind, minutes }),
    }, `${t(label)} · ${minutes} ${t(TEXT.min)}`))));
}

/** The tablet's sections over weeks for the running session (arrival: continuity and the week first). */
export function weekSections(state, command) {
  const session = state.session;
  if (!session) return [];
  if (session.phase === "arrival") return [continuitySection(state, command), cycleSection(state, command), guestSection(state), breakSection(command)];
  return [breakSection(command), guestSection(state)];
}

/** The continuity sections that open a session, for the layout to put first. */
export function arrivalFirst(state) {
  return state.session && state.session.phase === "arrival";
}
