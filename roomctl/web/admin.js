// /admin: members and their badges, groups, bookings. Needs an admin token (#token=... or typed in).
import { api, clock, day, h, lang, setLang, setToken, t, token } from "/static/common.js";
import { mountContent } from "/static/admin-content.js";

const TEXT = {
  token: { nl: "Admin-token", en: "Admin token" },
  save: { nl: "Opslaan", en: "Save" },
  members: { nl: "Leden en passen", en: "Members and badges" },
  name: { nl: "Naam", en: "Name" },
  email: { nl: "E-mail", en: "E-mail" },
  badge: { nl: "Pas-UID", en: "Badge UID" },
  add: { nl: "Toevoegen", en: "Add" },
  enroll: { nl: "Pas koppelen", en: "Enroll badge" },
  groups: { nl: "Groepen", en: "Groups" },
  group: { nl: "Groep", en: "Group" },
  memberIds: { nl: "Leden (ids, komma's)", en: "Members (ids, commas)" },
  facilitator: { nl: "Facilitator (id)", en: "Facilitator (id)" },
  bookings: { nl: "Boekingen (komende 14 dagen)", en: "Bookings (next 14 days)" },
  start: { nl: "Begin", en: "Start" },
  end: { nl: "Einde", en: "End" },
  book: { nl: "Boeken", en: "Book" },
};

const main = document.getElementById("main");
const select = document.getElementById("lang");
select.value = lang();
select.addEventListener("change", () => { setLang(select.value); load(); });

function field(label, input) { return h("label", {}, t(label), input); }

function tokenSection() {
  const input = h("input", { type: "password", value: token(), size: 40, "aria-label": t(TEXT.token) });
  return h("section", {}, h("h2", {}, t(TEXT.token)),
    h("form", { onsubmit: (e) => { e.preventDefault(); setToken(input.value.trim()); load(); } }, input, h("button", {}, t(TEXT.save))));
}

function form(fields, action, label) {
  const error = h("p", { class: "error", role: "alert" });
  const el = h("form", {
    onsubmit: async (e) => {
      e.preventDefault();
      try { await action(); load(); } catch (err) { error.textContent = err.message + (err.problem && err.problem.conflicts ? " — " + err.problem.conflicts.map((c) => `${c.group} ${clock(c.start)}–${clock(c.end)}`).join(", ") : ""); }
    },
  }, ...fields, h("button", { class: "primary" }, t(label)));
  return [el, error];
}

async function load() {
  const sections = [tokenSection()];
  let members = [], groups = [], bookings = [];
  try {
    const now = new Date();
    const until = new Date(now.getTime() + 14 * 864e5);
    [members, groups, bookings] = await Promise.all([
      api("/api/v1/members"), api("/api/v1/groups"),
      api(`/api/v1/bookings?start=${encodeURIComponent(now.toISOString())}&end=${encodeURIComponent(until.toISOString())}`),
    ]);
  } catch (err) {
    sections.push(h("section", {}, h("p", { class: "error" }, err.message)));
    main.replaceChildren(...sections);
    return;
  }
  const name = h("input", { required: true }), email = h("input", { type: "email" });
  const memberId = h("select", {}, members.map((m) => h("option", { value: m.id }, m.name))), uid = h("input", { required: true, pattern: "[0-9A-Fa-f: -]+" });
  sections.push(h("section", {}, h("h2", {}, t(TEXT.members)),
    h("table", {}, members.map((m) => h("tr", {}, h("td", {}, m.id), h("td", {}, m.name), h("td", { class: "muted" }, m.badges.join(", "))))),
    ...form([field(TEXT.name, name), field(TEXT.email, email)], () => api("/api/v1/members", { method: "POST", body: { name: name.value, email: email.value || null } }), TEXT.add),
    ...form([field(TEXT.name, memberId), field(TEXT.badge, uid)], () => api(`/api/v1/members/${memberId.value}/badges`, { method: "POST", body: { uid: uid.value } }), TEXT.enroll)));
  const groupName = h("input", { required: true }), ids = h("input", { required: true }), facilitator = h("input", { size: 4 });
  const groupNames = Object.fromEntries(groups.map((g) => [g.id, g.name]));
  sections.push(h("section", {}, h("h2", {}, t(TEXT.groups)),
    h("table", {}, groups.map((g) => h("tr", {}, h("td", {}, g.id), h("td", {}, g.name), h("td", { class: "muted" }, g.member_ids.join(", "))))),
    ...form([field(TEXT.group, groupName), field(TEXT.memberIds, ids), field(TEXT.facilitator, facilitator)],
      () => api("/api/v1/groups", { method: "POST", body: { name: groupName.value, member_ids: ids.value.split(",").map((x) => parseInt(x, 10)), facilitator_id: facilitator.value ? parseInt(facilitator.value, 10) : null } }), TEXT.add)));
  const group = h("select", {}, groups.map((g) => h("option", { value: g.id }, g.name)));
  const start = h("input", { type: "datetime-local", required: true }), end = h("input", { type: "datetime-local", required: true });
  sections.push(h("section", {}, h("h2", {}, t(TEXT.bookings)),
    h("table", {}, bookings.map((b) => h("tr", {}, h("td", {}, day(b.start)), h("td", {}, `${clock(b.start)}–${clock(b.end)}`), h("td", {}, groupNames[b.group_id] || b.group_id), h("td", { class: "muted" }, b.status)))),
    ...form([field(TEXT.group, group), field(TEXT.start, start), field(TEXT.end, end)],
      () => api("/api/v1/bookings", { method: "POST", body: { group_id: parseInt(group.value, 10), start: new Date(start.value).toISOString(), end: new Date(end.value).toISOString() } }), TEXT.book)));
  main.replaceChildren(...sections);
}

load();
mountContent();
