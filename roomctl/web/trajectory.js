// The member's own trajectory page (zelfontworpen leertraject), opened from a personal link (#token=...):
// how long it runs, the learning time agreed per week, the kader questions, learning needs (suggested from
// validated proposals), wishes for e-learning or training; and their own progress in minutes. Only the member
// sees it. No scores, no completion percentages: minutes and proposals only.
import { api, h, lang, setLang, t, token } from "/static/common.js";

const TEXT = {
  title: { nl: "Mijn leertraject", en: "My learning trajectory" },
  noToken: { nl: "Open deze pagina via je persoonlijke link.", en: "Open this page through your personal link." },
  compose: { nl: "Mijn traject", en: "My trajectory" },
  group: { nl: "Groep", en: "Group" },
  start: { nl: "Eerste week (maandag)", en: "First week (Monday)" },
  weeks: { nl: "Aantal weken", en: "Number of weeks" },
  minutes: { nl: "Leertijd per week (minuten), afgesproken met je leidinggevende", en: "Learning time per week (minutes), agreed with your manager" },
  questions: { nl: "Vragen van het kader waaraan ik wil werken", en: "Framework questions I want to work on" },
  needs: { nl: "Mijn leerbehoeften", en: "My learning needs" },
  needsHelp: { nl: "Eén per regel.", en: "One per line." },
  suggested: { nl: "Voorgesteld uit gevalideerde verbetervoorstellen", en: "Suggested from validated improvement proposals" },
  wishes: { nl: "Wensen voor e-learning of training", en: "Wishes for e-learning or training" },
  save: { nl: "Opslaan", en: "Save" },
  saved: { nl: "Opgeslagen.", en: "Saved." },
  progress: { nl: "Mijn voortgang", en: "My progress" },
  week: { nl: "Week", en: "Week" },
  used: { nl: "gebruikt", en: "used" },
  agreed: { nl: "afgesproken", en: "agreed" },
  total: { nl: "Totaal", en: "Total" },
  notStarted: { nl: "Je traject is nog niet begonnen.", en: "Your trajectory has not started yet." },
  proposals: { nl: "Voorstellen waaraan ik meewerkte", en: "Proposals I took part in" },
  noProposals: { nl: "Nog geen gevalideerde voorstellen.", en: "No validated proposals yet." },
  report: { nl: "Voor het Talentontwikkelgesprek", en: "For the talent development conversation" },
  reportHelp: { nl: "Dit ziet je leidinggevende: alleen minuten en titels van voorstellen.", en: "This is what your manager sees: minutes and proposal titles only." },
  print: { nl: "Afdrukken", en: "Print" },
  private: { nl: "Alleen jij ziet deze pagina. Je leidinggevende ziet alleen je gebruikte minuten tegenover de afspraak en de titels van voorstellen.", en: "Only you see this page. Your manager sees only your minutes used against the agreement and the titles of proposals." },
};

const main = document.getElementById("main");
const select = document.getElementById("lang");
let view = null;
let report = null;
let message = { text: "", error: false };
select.value = lang();
select.addEventListener("change", () => { setLang(select.value); render(); });

function field(label, input) {
  return h("label", {}, t(label), input);
}

function composeSection() {
  const tr = view.trajectory || {};
  const groupSelect = view.groups.length > 1
    ? h("select", { "data-testid": "group" }, view.groups.map((g) => h("option", { value: g.id, selected: tr.group_id === g.id }, g.name)))
    : null;
  const start = h("input", { type: "date", value: tr.starts_on || "", "data-testid": "starts-on" });
  const weeks = h("input", { type: "number", min: 1, max: 104, value: tr.weeks || 20, "data-testid": "weeks" });
  const minutes = h("input", { type: "number", min: 1, max: 2400, value: tr.minutes_per_week || 240, "data-testid": "minutes" });
  const chosen = new Set(tr.questions || []);
  const boxes = view.kader.map((q) => h("label", {}, h("input", { type: "checkbox", value: q.id, checked: chosen.has(q.id), "data-testid": `question-${q.id}` }), t(q)));
  const needs = h("textarea", { rows: 4, "data-testid": "needs" }, (tr.learning_needs || []).join("\n"));
  const wishes = h("textarea", { rows: 3, maxlength: 1000, "data-testid": "wishes" }, tr.wishes || "");
  const suggestions = view.suggested_needs.map((need) => h("button", {
    type: "button", class: "suggestion", "data-testid": "suggestion",
    onclick: () => { needs.value = [needs.value.trim(), need].filter(Boolean).join("\n"); },
  }, `+ ${need}`));
  const form = h("form", { class: "stack", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const body = {
      weeks: Number(weeks.value), minutes_per_week: Number(minutes.value),
      questions: boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value),
      learning_needs: needs.value.split("\n").map((s) => s.trim()).filter(Boolean),
      wishes: wishes.value,
    };
    if (start.value) body.starts_on = start.value;
    if (groupSelect) body.group_id = Number(groupSelect.value);
    try {
      view = await api("/api/v1/trajectory/me", { method: "PUT", body });
      message = { text: t(TEXT.saved), error: false };
      await loadReport();
    } catch (err) {
      message = { text: err.message, error: true };
    }
    render();
  } },
    groupSelect ? field(TEXT.group, groupSelect) : null,
    field(TEXT.start, start), field(TEXT.weeks, weeks), field(TEXT.minutes, minutes),
    h("fieldset", { class: "checks" }, h("legend", {}, t(TEXT.questions)), boxes),
    field(TEXT.needs, needs), h("p", { class: "muted" }, t(TEXT.needsHelp)),
    suggestions.length ? h("div", { "data-testid": "suggestions" }, h("p", { class: "muted" }, t(TEXT.suggested)), suggestions) : null,
    field(TEXT.wishes, wishes),
    h("button", { class: "primary", "data-testid": "save" }, t(TEXT.save)));
  return h("section", {}, h("h2", {}, t(TEXT.compose)), form,
    h("p", { class: message.error ? "error" : "ok", role: "status", "data-testid": "message" }, message.text));
}

function progressSection() {
  const p = view.progress;
  if (!p) return null;
  const rows = p.weeks.map((w) => h("tr", { class: w.over_minutes ? "over" : "", "data-testid": "week-row" },
    h("td", {}, w.week), h("td", {}, `${w.used_minutes} min ${t(TEXT.used)}`), h("td", {}, `${w.agreed_minutes} min ${t(TEXT.agreed)}`)));
  return h("section", { "data-testid": "progress" },
    h("h2", {}, t(TEXT.progress)),
    p.weeks.length
      ? h("table", {}, h("tr", {}, h("th", {}, t(TEXT.week)), h("th", {}, t(TEXT.used)), h("th", {}, t(TEXT.agreed))), rows,
          h("tr", {}, h("th", {}, t(TEXT.total)), h("th", { "data-testid": "used-total" }, `${p.used_minutes} min`), h("th", {}, `${p.agreed_minutes} min`)))
      : h("p", { class: "muted" }, t(TEXT.notStarted)),
    p.notice ? h("p", { class: "error", "data-testid": "over-notice" }, t(p.notice)) : null,
    h("h3", {}, t(TEXT.proposals)),
    p.proposals.length ? h("ul", { "data-testid": "my-proposals" }, p.proposals.map((x) => h("li", {}, x.title))) : h("p", { class: "muted" }, t(TEXT.noProposals)));
}

function reportSection() {
  if (!report) return null;
  return h("section", { "data-testid": "talent-report" },
    h("h2", {}, t(TEXT.report)),
    h("p", { class: "muted" }, t(TEXT.reportHelp)),
    h("p", { class: "big", "data-testid": "report-minutes" }, `${report.used_minutes} / ${report.agreed_minutes} min`),
    report.proposals.length ? h("ul", {}, report.proposals.map((title) => h("li", {}, title))) : h("p", { class: "muted" }, t(TEXT.noProposals)),
    h("button", { type: "button", onclick: () => window.print() }, t(TEXT.print)));
}

async function loadReport() {
  report = view && view.trajectory ? await api("/api/v1/trajectory/me/report").catch(() => null) : null;
}

function render() {
  document.title = `roomctl — ${t(TEXT.title)}`;
  document.getElementById("title").textContent = view ? `${t(TEXT.title)} · ${view.member.name}` : t(TEXT.title);
  document.documentElement.lang = lang();
  if (!view) return;
  main.replaceChildren(composeSection(), progressSection() || "", reportSection() || "", h("p", { class: "muted" }, t(TEXT.private)));
}

async function start() {
  if (!token()) {
    main.replaceChildren(h("section", {}, h("p", { class: "error", "data-testid": "message" }, t(TEXT.noToken))));
    return;
  }
  try {
    view = await api("/api/v1/trajectory/me");
    await loadReport();
    render();
  } catch (err) {
    main.replaceChildren(h("section", {}, h("p", { class: "error", "data-testid": "message" }, err.message)));
  }
}

start();
