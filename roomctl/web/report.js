// The printable learning-time report: minutes used against minutes offered, and the validated proposals.
// Members see their own (and their groups' totals), facilitators their groups', admins everyone's.
import { api, day, h, lang, setLang, setTimeZone, t, token } from "/static/common.js";

const TEXT = {
  title: { nl: "Leertijdverantwoording", en: "Learning-time report" },
  subject: { nl: "Over", en: "About" },
  me: { nl: "Mijzelf", en: "Myself" },
  group: { nl: "Groep", en: "Group" },
  start: { nl: "Van", en: "From" },
  end: { nl: "Tot en met", en: "To" },
  show: { nl: "Toon", en: "Show" },
  print: { nl: "Afdrukken", en: "Print" },
  used: { nl: "gebruikt", en: "used" },
  of: { nl: "van", en: "of" },
  offered: { nl: "aangeboden", en: "offered" },
  memberMinutes: { nl: "leertijd van de leden samen", en: "the members' learning time together" },
  sessionTime: { nl: "Sessietijd van de groep", en: "The group's session time" },
  proposals: { nl: "Gevalideerde verbetervoorstellen", en: "Validated improvement proposals" },
  noProposals: { nl: "Geen voorstellen gevalideerd in deze periode.", en: "No proposals validated in this period." },
  members: { nl: "Per lid", en: "Per member" },
  empty: { nl: "Geen leertijd of boekingen in deze periode.", en: "No learning time or bookings in this period." },
  generated: { nl: "Opgesteld op", en: "Generated on" },
  rule: {
    nl: "Leertijd telt vanaf het moment dat iemand bij de deur is gezien tot het einde van de sessie. Aangeboden is de tijd van de boekingen van de groep tot vandaag. Dit overzicht bevat geen informatie over wat iemand in de sessies deed of zei.",
    en: "Learning time counts from when a person was seen at the door until the session ended. Offered is the time of the group's bookings up to today. This report holds nothing about what anyone did or said in the sessions.",
  },
};

const $ = (id) => document.getElementById(id);
let subjects = { members: [], groups: [] };
let isMember = false;
let report = null;

/** The calendar day of an ISO instant as written (the room's local time), shifted by `offset` days. */
function roomDay(iso, offset = 0) {
  const date = new Date(`${iso.slice(0, 10)}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() + offset);
  return date.toLocaleDateString(lang() === "en" ? "en-GB" : "nl-NL", { timeZone: "UTC", weekday: "long", day: "numeric", month: "long", year: "numeric" });
}

const hm = (minutes) => `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`;
const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 100)} %`);

function labels() {
  document.title = `roomctl — ${t(TEXT.title)}`;
  $("title").textContent = t(TEXT.title);
  $("subject-label").textContent = t(TEXT.subject);
  $("start-label").textContent = t(TEXT.start);
  $("end-label").textContent = t(TEXT.end);
  $("show").textContent = t(TEXT.show);
  $("print").textContent = t(TEXT.print);
}

function options() {
  const chosen = $("subject").value;
  const items = [];
  if (isMember) items.push(h("option", { value: "me" }, t(TEXT.me)));
  else for (const m of subjects.members) items.push(h("option", { value: `members/${m.id}` }, m.name));
  for (const g of subjects.groups) items.push(h("option", { value: `groups/${g.id}` }, `${t(TEXT.group)}: ${g.name}`));
  $("subject").replaceChildren(...items);
  if (chosen) $("subject").value = chosen;
}

function bar(used, offered) {
  const W = 480, H = 22, top = Math.max(used, offered, 1);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("width", W);
  svg.setAttribute("height", H);
  for (const [value, fill] of [[offered, "#d5dde6"], [used, "#0b6bcb"]]) {
    const rect = document.createElementNS(svg.namespaceURI, "rect");
    rect.setAttribute("height", H);
    rect.setAttribute("width", (W * value) / top);
    rect.setAttribute("fill", fill);
    svg.append(rect);
  }
  return h("div", { class: "bar" }, svg);
}

function render() {
  if (!report) return;
  const r = report;
  const who = r.kind === "member" ? r.member.name : `${t(TEXT.group)} ${r.group.name}`;
  const used = r.kind === "member" ? r.used_minutes : r.member_minutes;
  const offered = r.kind === "member" ? r.offered_minutes : r.member_minutes_offered;
  const proposals = r.kind === "member" ? r.groups.flatMap((g) => g.proposals) : r.proposals;
  $("sheet").replaceChildren(h("div", {},
    h("h2", { "data-testid": "who" }, who),
    h("p", { class: "muted", "data-testid": "period" }, `${roomDay(r.period.start)} – ${roomDay(r.period.end, -1)}`),
    r.empty ? h("p", { class: "muted", "data-testid": "empty" }, t(TEXT.empty)) : null,
    h("p", { class: "headline", "data-testid": "headline" },
      h("b", {}, hm(used)), ` ${t(TEXT.used)} ${t(TEXT.of)} `, h("b", {}, hm(offered)), ` ${t(TEXT.offered)} (${pct(r.used_share)})`,
      r.kind === "group" ? h("span", { class: "muted" }, ` — ${t(TEXT.memberMinutes)}`) : null),
    bar(used, offered),
    r.kind === "group" ? h("p", {}, `${t(TEXT.sessionTime)}: ${hm(r.session_minutes)} / ${hm(r.offered_minutes)}`) : null,
    r.members ? [h("h3", {}, t(TEXT.members)), h("table", {}, r.members.map((m) =>
      h("tr", {}, h("td", {}, m.name), h("td", {}, hm(m.used_minutes)), h("td", {}, pct(m.used_share)))))] : null,
    h("h3", {}, `${t(TEXT.proposals)} (${proposals.length})`),
    proposals.length
      ? h("ol", { "data-testid": "proposals" }, proposals.map((p) => h("li", {}, p.title, h("span", { class: "muted" }, ` — ${day(p.decided_at)}`))))
      : h("p", { class: "muted" }, t(TEXT.noProposals)),
    h("p", { class: "rule" }, t(TEXT.rule)),
    h("p", { class: "rule" }, `${t(TEXT.generated)} ${roomDay(r.generated_at)}`)));
}

async function load() {
  $("error").textContent = "";
  const params = new URLSearchParams();
  if ($("start").value) params.set("start", $("start").value);
  if ($("end").value) params.set("end", $("end").value);
  const subject = $("subject").value;
  if (!subject) return;
  try {
    report = await api(`/api/v1/reports/learning-time/${subject}?${params}`);
    setTimeZone(report.period && report.period.timezone);
    render();
  } catch (err) {
    report = null;
    $("sheet").replaceChildren();
    $("error").textContent = err.message;
  }
}

async function start() {
  token();
  const today = new Date();
  $("end").value = today.toISOString().slice(0, 10);
  $("start").value = `${today.getFullYear()}-01-01`;
  $("lang").value = lang();
  $("lang").addEventListener("change", () => { setLang($("lang").value); labels(); options(); render(); });
  $("form").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  $("print").addEventListener("click", () => window.print());
  labels();
  try {
    subjects = await api("/api/v1/reports/learning-time/subjects");
    isMember = subjects.members.length === 1 && !!(await api("/api/v1/reports/learning-time/me").catch(() => null));
  } catch (err) {
    $("error").textContent = err.message;
    return;
  }
  options();
  await load();
}

start();
