// /admin: members and badges (with enrol-by-tap), groups, bookings, weekly series with a conflict preview,
// no-show flags and closures. Needs an admin token (#token=... or typed in). Dutch first, English available.
import { api, clock, day, h, lang, roomInstant, roomNow, setLang, setTimeZone, setToken, syncRoomClock, t, token, word } from "/static/common.js";
import { mountContent } from "/static/admin-content.js";
import { mountBadges } from "/static/admin-badges.js";
import { mountWeeks } from "/static/admin-weeks.js";
import { weekSection } from "/static/admin-week.js";

const ENROL_POLL_MS = 1000;
const DAYS_AHEAD = 14;
const WEEKDAYS = [["mon", "ma", "Mon"], ["tue", "di", "Tue"], ["wed", "wo", "Wed"], ["thu", "do", "Thu"], ["fri", "vr", "Fri"], ["sat", "za", "Sat"], ["sun", "zo", "Sun"]];

const TEXT = {
  token: { nl: "Admin-token", en: "Admin token" },
  save: { nl: "Opslaan", en: "Save" },
  members: { nl: "Leden en passen", en: "Members and badges" },
  name: { nl: "Naam", en: "Name" },
  email: { nl: "E-mail", en: "E-mail" },
  badge: { nl: "Pas-UID", en: "Badge UID" },
  add: { nl: "Toevoegen", en: "Add" },
  enroll: { nl: "Pas koppelen", en: "Enroll badge" },
  tapEnrol: { nl: "Pas aanbieden", en: "Tap a badge" },
  tapNow: { nl: "Houd de pas nu bij de lezer aan de deur…", en: "Hold the badge at the door reader now…" },
  enrolled: { nl: "Pas gekoppeld", en: "Badge enrolled" },
  timeout: { nl: "Geen pas aangeboden; probeer opnieuw", en: "No badge was tapped; try again" },
  stop: { nl: "Stoppen", en: "Stop" },
  revoke: { nl: "Intrekken", en: "Revoke" },
  remove: { nl: "Verwijderen", en: "Remove" },
  groups: { nl: "Groepen", en: "Groups" },
  group: { nl: "Groep", en: "Group" },
  groupMembers: { nl: "Leden (2–8)", en: "Members (2–8)" },
  facilitator: { nl: "Facilitator", en: "Facilitator" },
  none: { nl: "geen", en: "none" },
  bookings: { nl: `Boekingen (komende ${DAYS_AHEAD} dagen)`, en: `Bookings (next ${DAYS_AHEAD} days)` },
  start: { nl: "Begin", en: "Start" },
  end: { nl: "Einde", en: "End" },
  book: { nl: "Boeken", en: "Book" },
  cancel: { nl: "Annuleren", en: "Cancel" },
  cancelFollowing: { nl: "Deze en volgende annuleren", en: "Cancel this and following" },
  series: { nl: "Wekelijkse reeks", en: "Weekly series" },
  duration: { nl: "Duur (min)", en: "Duration (min)" },
  firstDate: { nl: "Eerste dag", en: "First day" },
  weeks: { nl: "Aantal weken", en: "Number of weeks" },
  until: { nl: "of t/m datum", en: "or until date" },
  partial: { nl: "Vrije momenten boeken, de rest overslaan", en: "Book the free ones, skip the rest" },
  preview: { nl: "Voorbeeld", en: "Preview" },
  free: { nl: "vrij", en: "free" },
  blocked: { nl: "bezet of niet toegestaan", en: "taken or not allowed" },
  booked: { nl: "geboekt", en: "booked" },
  flags: { nl: "Reeksen met no-shows", en: "Series with no-shows" },
  noFlags: { nl: "Geen gemarkeerde reeksen.", en: "No flagged series." },
  inARow: { nl: "keer op rij niet gekomen", en: "no-shows in a row" },
  clearFlag: { nl: "Markering wissen", en: "Clear flag" },
  closures: { nl: "Sluitingsdagen", en: "Closures" },
  importIcs: { nl: "Importeren (.ics)", en: "Import (.ics)" },
  affected: { nl: "Bestaande boekingen op die dagen", en: "Existing bookings on those days" },
};

const main = document.getElementById("main");
const select = document.getElementById("lang");
select.value = lang();
select.addEventListener("change", () => { setLang(select.value); load(); });

let enrolTimer = null;
// Times are shown and entered in the room's time zone (common.js), whatever the browser's is.
function field(label, input) { return h("label", {}, t(label), input); }
function fill(el, ...children) { el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined)); }
function weekdayName(key) { const d = WEEKDAYS.find((w) => w[0] === key); return lang() === "en" ? d[2] : d[1]; }
function span(item) { return `${day(item.start)} ${clock(item.start)}–${clock(item.end)}`; }

/** A conflict or broken rule as one line: who or what, when. */
function conflictLine(c) {
  const who = c.kind === "closure" ? `${t({ nl: "Gesloten", en: "Closed" })}: ${c.summary}` : c.group;
  return h("li", {}, h("strong", {}, who), ` ${span(c)}`);
}

function describeError(err) {
  const p = err.problem || {};
  const items = [...(p.conflicts || []).map(conflictLine), ...(p.problems || []).flatMap((x) => (typeof x === "string" ? [h("li", {}, x)] : x.problems.map((y) => h("li", {}, `${span({ start: x.start, end: x.start })}: ${y}`))))];
  return [err.message, items.length ? h("ul", { "data-testid": "error-list" }, items.slice(0, 30)) : null];
}

function form(fields, action, label, attrs = {}) {
  const error = h("div", { class: "error", role: "alert" });
  const el = h("form", {
    ...attrs,
    onsubmit: async (e) => {
      e.preventDefault();
      error.replaceChildren();
      try { await action(); load(); } catch (err) { fill(error, describeError(err)); }
    },
  }, ...fields, h("button", { class: "primary" }, t(label)));
  return [el, error];
}

function tokenSection() {
  const input = h("input", { type: "password", value: token(), size: 40, "aria-label": t(TEXT.token) });
  return h("section", {}, h("h2", {}, t(TEXT.token)),
    h("form", { onsubmit: (e) => { e.preventDefault(); setToken(input.value.trim()); load(); } }, input, h("button", {}, t(TEXT.save))));
}

// -- members and badges ------------------------------------------------------------------------------------

let enrolNote = { cls: "", text: "" }; // survives the page's reloads of its sections

async function enrolByTap(member, status) {
  clearInterval(enrolTimer);
  await api(`/api/v1/members/${member.id}/badges/enrol-by-tap`, { method: "POST" });
  enrolNote = { cls: "big", text: `${member.name}: ${t(TEXT.tapNow)}` };
  status.className = enrolNote.cls;
  status.textContent = enrolNote.text;
  enrolTimer = setInterval(async () => {
    const state = await api("/api/v1/enrolment");
    if (state.armed) return;
    clearInterval(enrolTimer);
    const outcome = state.outcome || {};
    enrolNote = {
      cls: outcome.status === "enrolled" ? "ok" : "error",
      text: outcome.status === "enrolled" ? `${t(TEXT.enrolled)}: ${outcome.uid}` : outcome.status === "timeout" ? t(TEXT.timeout) : outcome.detail || "",
    };
    load();
  }, ENROL_POLL_MS);
}

function membersSection(members) {
  const status = h("p", { role: "status", "data-testid": "enrol-status", class: enrolNote.cls }, enrolNote.text);
  const stop = h("button", { onclick: async () => { clearInterval(enrolTimer); await api("/api/v1/enrolment", { method: "DELETE" }); enrolNote = { cls: "", text: "" }; status.textContent = ""; } }, t(TEXT.stop));
  const act = (fn) => async () => { try { await fn(); load(); } catch (err) { status.className = "error"; status.textContent = err.message; } };
  const rows = members.map((m) => h("tr", { "data-testid": `member-${m.id}` },
    h("td", {}, h("strong", {}, m.name), h("div", { class: "muted" }, m.email || "")),
    h("td", {}, m.badges.map((uid) => h("div", { class: "row" }, h("code", {}, uid),
      h("button", { class: "danger", title: t(TEXT.revoke), onclick: act(() => api(`/api/v1/badges/${uid}`, { method: "DELETE" })) }, "✕")))),
    h("td", {}, h("button", { onclick: () => enrolByTap(m, status).catch((err) => { status.className = "error"; status.textContent = err.message; }) }, t(TEXT.tapEnrol)),
      h("button", { class: "danger", onclick: act(() => confirm(`${t(TEXT.remove)}: ${m.name}?`) && api(`/api/v1/members/${m.id}`, { method: "DELETE" })) }, t(TEXT.remove)))));
  const name = h("input", { required: true }), email = h("input", { type: "email" });
  const memberId = h("select", {}, members.map((m) => h("option", { value: m.id }, m.name)));
  const uid = h("input", { required: true, pattern: "[0-9A-Fa-f: \\-]+" });
  return h("section", { "data-testid": "members" }, h("h2", {}, t(TEXT.members)), h("table", {}, rows), h("div", { class: "row" }, status, stop),
    ...form([field(TEXT.name, name), field(TEXT.email, email)], () => api("/api/v1/members", { method: "POST", body: { name: name.value, email: email.value || null } }), TEXT.add),
    ...form([field(TEXT.name, memberId), field(TEXT.badge, uid)], () => api(`/api/v1/members/${memberId.value}/badges`, { method: "POST", body: { uid: uid.value } }), TEXT.enroll));
}

// -- groups --------------------------------------------------------------------------------------------------

function groupsSection(groups, names, members) {
  const groupName = h("input", { required: true });
  const boxes = members.map((m) => h("label", { class: "row" }, h("input", { type: "checkbox", value: m.id }), m.name));
  const facilitator = h("select", {}, h("option", { value: "" }, t(TEXT.none)), members.map((m) => h("option", { value: m.id }, m.name)));
  const chosen = () => boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => parseInt(i.value, 10));
  return h("section", { "data-testid": "groups" }, h("h2", {}, t(TEXT.groups)),
    h("table", {}, groups.map((g) => h("tr", {}, h("td", {}, h("strong", {}, g.name)),
      h("td", { class: "muted" }, g.member_ids.map((id) => names[id] || id).join(", ")),
      h("td", { class: "muted" }, g.facilitator_id ? `${t(TEXT.facilitator)}: ${names[g.facilitator_id] || g.facilitator_id}` : "")))),
    ...form([field(TEXT.group, groupName), h("fieldset", {}, h("legend", {}, t(TEXT.groupMembers)), boxes), field(TEXT.facilitator, facilitator)],
      () => api("/api/v1/groups", { method: "POST", body: { name: groupName.value, member_ids: chosen(), facilitator_id: facilitator.value ? parseInt(facilitator.value, 10) : null } }), TEXT.add));
}

// -- bookings ------------------------------------------------------------------------------------------------

function bookingsSection(bookings, groups) {
  const error = h("div", { class: "error", role: "alert" });
  const cancel = (b, scope) => async () => {
    try { await api(`/api/v1/bookings/${b.id}?scope=${scope}`, { method: "DELETE" }); load(); } catch (err) { fill(error, describeError(err)); }
  };
  const group = h("select", {}, groups.map((g) => h("option", { value: g.id }, g.name)));
  const start = h("input", { type: "datetime-local", required: true }), end = h("input", { type: "datetime-local", required: true });
  return h("section", { "data-testid": "bookings" }, h("h2", {}, t(TEXT.bookings)),
    h("table", {}, bookings.map((b) => h("tr", {}, h("td", {}, day(b.start)), h("td", {}, `${clock(b.start)}–${clock(b.end)}`), h("td", {}, b.group),
      h("td", { class: "muted" }, `${word("booking", b.kind)} · ${word("booking", b.status)}`),
      h("td", {}, h("button", { class: "danger", onclick: cancel(b, "this") }, t(TEXT.cancel)),
        b.series_id ? h("button", { class: "danger", onclick: cancel(b, "following") }, t(TEXT.cancelFollowing)) : null)))),
    error,
    ...form([field(TEXT.group, group), field(TEXT.start, start), field(TEXT.end, end)],
      () => api("/api/v1/bookings", { method: "POST", body: { group_id: parseInt(group.value, 10), start: roomInstant(start.value), end: roomInstant(end.value) } }), TEXT.book));
}

function seriesSection(groups) {
  const group = h("select", { name: "group" }, groups.map((g) => h("option", { value: g.id }, g.name)));
  const days = WEEKDAYS.map(([key]) => {
    const on = h("input", { type: "checkbox", name: `day-${key}`, value: key });
    const at = h("input", { type: "time", name: `time-${key}`, value: "09:00", step: 300 });
    return { key, on, at, el: h("label", { class: "row" }, on, weekdayName(key), at) };
  });
  const duration = h("input", { type: "number", name: "duration", min: 15, max: 1440, step: 5, value: 60, required: true });
  const first = h("input", { type: "date", name: "first_date", required: true });
  const weeks = h("input", { type: "number", name: "weeks", min: 1, value: 20 });
  const until = h("input", { type: "date", name: "until" });
  const partial = h("input", { type: "checkbox", name: "allow_partial" });
  const result = h("div", { "data-testid": "series-preview", role: "status" });
  const body = () => ({
    group_id: parseInt(group.value, 10),
    slots: days.filter((d) => d.on.checked).map((d) => ({ weekday: d.key, start: d.at.value })),
    duration_minutes: parseInt(duration.value, 10),
    first_date: first.value,
    ...(until.value ? { until: until.value } : { weeks: parseInt(weeks.value, 10) }),
    allow_partial: partial.checked,
  });
  const show = (report, done) => {
    const conflicts = report.conflicts || [];
    const problems = (report.problems || []).flatMap((p) => p.problems.map((x) => h("li", {}, `${day(p.start)} ${clock(p.start)}: ${x}`)));
    fill(result,
      h("p", { class: conflicts.length || problems.length ? "error" : "ok" },
        `${(done ? report.booked : report.occurrences).length} ${t(done ? TEXT.booked : TEXT.free)}, ${(report.skipped || []).length} ${t(TEXT.blocked)}`),
      conflicts.length ? h("ul", { "data-testid": "series-conflicts" }, conflicts.map(conflictLine)) : null,
      problems.length ? h("ul", { "data-testid": "series-problems" }, problems.slice(0, 30)) : null);
  };
  const run = async (dryRun) => {
    result.replaceChildren();
    try {
      const report = await api(`/api/v1/series${dryRun ? "?dry_run=true" : ""}`, { method: "POST", body: body() });
      show(report, !dryRun);
      if (!dryRun) setTimeout(load, 1500);
    } catch (err) {
      if (err.problem && (err.problem.conflicts || err.problem.problems) && err.problem.skipped) show({ ...err.problem, occurrences: err.problem.occurrences || [] }, false);
      result.prepend(h("p", { class: "error", role: "alert" }, err.message));
    }
  };
  return h("section", { "data-testid": "series-form" }, h("h2", {}, t(TEXT.series)),
    h("form", { onsubmit: (e) => { e.preventDefault(); run(false); } },
      field(TEXT.group, group), h("div", { class: "weekdays" }, days.map((d) => d.el)), field(TEXT.duration, duration), field(TEXT.firstDate, first),
      field(TEXT.weeks, weeks), field(TEXT.until, until), h("label", { class: "row" }, partial, t(TEXT.partial)),
      h("button", { type: "button", "data-testid": "series-preview-button", onclick: () => run(true) }, t(TEXT.preview)),
      h("button", { class: "primary", "data-testid": "series-save" }, t(TEXT.save))),
    result);
}

function flagsSection(flagged, groupNames) {
  const clear = (s) => async () => { await api(`/api/v1/series/${s.id}/flag`, { method: "DELETE" }); load(); };
  return h("section", { "data-testid": "flags" }, h("h2", {}, t(TEXT.flags)),
    flagged.length ? h("ul", {}, flagged.map((s) => h("li", {}, h("strong", {}, groupNames[s.group_id] || s.group_id),
      ` · ${s.slots.map((x) => `${weekdayName(x.weekday)} ${x.start}`).join(", ")} · ${s.no_show_streak} ${t(TEXT.inARow)} `,
      h("button", { onclick: clear(s) }, t(TEXT.clearFlag))))) : h("p", { class: "muted" }, t(TEXT.noFlags)));
}

function closuresSection(closures) {
  const file = h("input", { type: "file", accept: ".ics,text/calendar", required: true, "data-testid": "closures-file" });
  const report = h("div", { role: "status" });
  const submit = async (e) => {
    e.preventDefault();
    report.replaceChildren();
    try {
      const response = await fetch("/api/v1/closures/import", { method: "POST", headers: { Authorization: `Bearer ${token()}`, "Content-Type": "text/calendar" }, body: await file.files[0].text() });
      const result = await response.json();
      if (!response.ok) throw new Error(result.detail || result.title);
      fill(report, h("p", { class: "ok" }, `${result.imported} ✓`),
        result.affected.length ? h("div", {}, h("h3", {}, t(TEXT.affected)), h("ul", {}, result.affected.map((b) => h("li", {}, `${b.group} ${span(b)} (${b.closure})`)))) : null);
      setTimeout(load, 3000);
    } catch (err) { report.replaceChildren(h("p", { class: "error" }, err.message)); }
  };
  return h("section", { "data-testid": "closures" }, h("h2", {}, t(TEXT.closures)),
    h("ul", {}, closures.map((c) => h("li", {}, h("strong", {}, c.summary), ` ${c.all_day ? day(c.start) : span(c)} `,
      h("button", { class: "danger", onclick: async () => { await api(`/api/v1/closures/${c.id}`, { method: "DELETE" }); load(); } }, "✕")))),
    h("form", { onsubmit: submit }, file, h("button", { class: "primary" }, t(TEXT.importIcs))), report);
}

async function load() {
  const sections = [tokenSection()];
  let members = [], groups = [], bookings = [], flagged = [], closures = [], settings = {};
  try {
    settings = await api("/api/v1/booking/settings");
    setTimeZone(settings.timezone);
    syncRoomClock(settings.now);
    const now = new Date(roomNow());
    const until = new Date(now.getTime() + DAYS_AHEAD * 864e5);
    [members, groups, bookings, flagged, closures] = await Promise.all([
      api("/api/v1/members"), api("/api/v1/groups"),
      api(`/api/v1/bookings?start=${encodeURIComponent(now.toISOString())}&end=${encodeURIComponent(until.toISOString())}`),
      api("/api/v1/series?flagged=true"), api("/api/v1/closures"),
    ]);
  } catch (err) {
    sections.push(h("section", {}, h("p", { class: "error" }, err.message)));
    main.replaceChildren(...sections);
    return;
  }
  const names = Object.fromEntries(members.map((m) => [m.id, m.name]));
  const groupNames = Object.fromEntries(groups.map((g) => [g.id, g.name]));
  sections.push(weekSection(groups, settings, load), membersSection(members), groupsSection(groups, names, members), bookingsSection(bookings, groups), seriesSection(groups),
    flagsSection(flagged, groupNames), closuresSection(closures));
  main.replaceChildren(...sections);
}

load();
mountContent();
mountBadges();
mountWeeks();  // issue 19: kader resources, unfollowed proposals, trajectory links
