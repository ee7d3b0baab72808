// The facilitator's tablet: steers the running session. Several tablets stay in sync through /ws.
import { api, countdown, followScreen, h, lang, setLang, t } from "/static/common.js";

const TEXT = {
  session: { nl: "Sessie", en: "Session" },
  noSession: { nl: "Er loopt geen sessie. Een groepslid start er een door de pas bij de deur te tikken.", en: "No session is running. A group member starts one by tapping their badge at the door." },
  previous: { nl: "Vorige", en: "Previous" },
  next: { nl: "Volgende", en: "Next" },
  pause: { nl: "Pauze", en: "Pause" },
  resume: { nl: "Verder", en: "Resume" },
  extend: { nl: "+5 min", en: "+5 min" },
  end: { nl: "Sessie beëindigen", en: "End session" },
  plan: { nl: "Plan van het uur", en: "The hour's plan" },
  present: { nl: "Aanwezig", en: "Present" },
  today: { nl: "Vandaag", en: "Today" },
  remaining: { nl: "Resterend", en: "Remaining" },
};

let state = {};
const main = document.getElementById("main");
const select = document.getElementById("lang");
select.value = lang();
select.addEventListener("change", () => { setLang(select.value); render(); });

async function command(name, args = {}) {
  try {
    await api("/api/v1/session/commands", { method: "POST", body: { command: name, args } });
    error.textContent = "";
  } catch (e) {
    error.textContent = e.message;
  }
}

const error = h("p", { class: "error", role: "alert", "data-testid": "error" });

function sessionSection(session) {
  const remaining = session.paused || !session.ends_at ? session.remaining_seconds : (new Date(session.ends_at) - Date.now()) / 1000;
  return h("section", {},
    h("h2", {}, `${t(TEXT.session)} · ${session.group || ""}`),
    h("p", { class: "big", "data-testid": "tablet-step" }, `${session.index + 1}/${session.count} ${t(session.step.title)}`),
    h("p", {}, `${t(TEXT.remaining)}: `, h("span", { "data-testid": "tablet-timer" }, countdown(remaining))),
    h("div", { class: "row" },
      h("button", { onclick: () => command("previous"), disabled: session.index === 0, "data-testid": "previous" }, t(TEXT.previous)),
      h("button", { class: "primary", onclick: () => command("next"), "data-testid": "next" }, t(TEXT.next)),
      session.paused
        ? h("button", { onclick: () => command("resume"), "data-testid": "resume" }, t(TEXT.resume))
        : h("button", { onclick: () => command("pause"), "data-testid": "pause" }, t(TEXT.pause)),
      h("button", { onclick: () => command("extend", { minutes: 5 }) }, t(TEXT.extend)),
      h("button", { class: "danger", onclick: () => confirm("?") && command("end") }, t(TEXT.end))),
    error);
}

function planSection(session) {
  return h("section", {},
    h("h2", {}, t(TEXT.plan)),
    h("ol", { class: "plan" }, session.plan.map((step, i) =>
      h("li", { class: i === session.index ? "current" : "" },
        h("button", { onclick: () => command("goto", { index: i }) }, t(step.title)), ` · ${step.minutes} min`))),
    h("h2", {}, t(TEXT.present)),
    h("p", {}, (session.present || []).map((m) => m.name).join(", ") || "—"));
}

function agendaSection() {
  const today = (state.booking && state.booking.today) || [];
  return h("section", {}, h("h2", {}, t(TEXT.today)),
    today.length
      ? h("table", {}, today.map((b) => h("tr", {}, h("td", {}, new Date(b.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })), h("td", {}, b.group), h("td", { class: "muted" }, b.status))))
      : h("p", { class: "muted" }, "—"));
}

function render() {
  const session = state.session;
  const sections = session ? [sessionSection(session), planSection(session), agendaSection()] : [h("section", {}, h("p", {}, t(TEXT.noSession)), error), agendaSection()];
  main.replaceChildren(...sections);
}

followScreen((snapshot) => { state = snapshot; render(); });
setInterval(() => {
  const session = state.session;
  const timer = document.querySelector("[data-testid=tablet-timer]");
  if (session && !session.paused && session.ends_at && timer) timer.textContent = countdown((new Date(session.ends_at) - Date.now()) / 1000);
}, 1000);
