// /admin, secure badges (access capability): who still carries a plain-UID badge, and provisioning an NTAG 424 DNA
// by laying it on the door's PN532 ("Beveiligde pas aanbieden"). Mounted by admin.js; needs an admin token.
import { api, h, lang, t } from "/static/common.js";

const POLL_MS = 1000;

const TEXT = {
  title: { nl: "Passen: alleen UID of beveiligd", en: "Badges: UID-only or secure" },
  explain: {
    nl: "Een gewone pas opent op zijn UID, en die is te kopiëren. Een beveiligde pas (NTAG 424 DNA) bewijst met een sleutel dat hij echt is.",
    en: "A plain badge opens on its UID, which can be copied. A secure badge (NTAG 424 DNA) proves with a key that it is genuine.",
  },
  required: { nl: "Deze ruimte laat alleen beveiligde passen toe.", en: "This room admits secure badges only." },
  mixed: { nl: "Gemengd: gewone en beveiligde passen openen allebei.", en: "Mixed: plain and secure badges both open." },
  noKey: {
    nl: "Geen hoofdsleutel voor passen: beveiligde passen worden geweigerd tot de sleutel is ingesteld (README, \"Badges\").",
    en: "No badge master key: secure badges are refused until the key is set (README, \"Badges\").",
  },
  plainMembers: { nl: "Leden met een gewone pas", en: "Members with a plain badge" },
  nobody: { nl: "Iedereen heeft alleen beveiligde passen.", en: "Everyone carries secure badges only." },
  plain: { nl: "gewoon", en: "plain" },
  secure: { nl: "beveiligd", en: "secure" },
  member: { nl: "Lid", en: "Member" },
  force: { nl: "Ook een pas die al beveiligd is opnieuw instellen", en: "Also redo a badge that is already secure" },
  provision: { nl: "Beveiligde pas aanbieden", en: "Tap a secure badge" },
  layNow: { nl: "Leg de nieuwe pas nu op de lezer aan de deur…", en: "Lay the new badge on the door reader now…" },
  done: { nl: "Beveiligde pas gekoppeld", en: "Secure badge enrolled" },
  timeout: { nl: "Geen pas neergelegd; probeer opnieuw", en: "No badge was laid on the reader; try again" },
  stop: { nl: "Stoppen", en: "Stop" },
  noReader: { nl: "Beveiligde passen instellen kan alleen met de PN532-lezer aan de deur.", en: "Secure badges are provisioned on the PN532 reader at the door." },
};

let root = null;
let timer = null;
let note = { cls: "", text: "" };

async function provision(memberId, force, status) {
  clearInterval(timer);
  await api(`/api/v1/members/${memberId}/badges/provision-by-tap`, { method: "POST", body: { force } });
  note = { cls: "big", text: t(TEXT.layNow) };
  status.className = note.cls;
  status.textContent = note.text;
  timer = setInterval(async () => {
    const state = await api("/api/v1/door/provisioning");
    if (state.armed || !state.outcome) return;
    clearInterval(timer);
    const outcome = state.outcome;
    note = {
      cls: outcome.status === "enrolled" ? "ok" : "error",
      text: outcome.status === "enrolled" ? `${t(TEXT.done)}: ${outcome.uid}` : outcome.status === "timeout" ? t(TEXT.timeout) : outcome.detail || "",
    };
    mountBadges();
  }, POLL_MS);
}

function badgesSection(state, members) {
  const status = h("p", { role: "status", "data-testid": "provision-status", class: note.cls }, note.text);
  const policy = h("p", { "data-testid": "badge-policy" }, t(state.require_secure_badges ? TEXT.required : TEXT.mixed));
  const warnings = state.master_key === "ready" ? [] : [h("p", { class: "error", "data-testid": "badge-key", title: state.master_key }, t(TEXT.noKey))];
  const secure = new Set(state.secure);
  const rows = state.plain_members.map((m) => h("li", { "data-testid": `plain-${m.member_id}` },
    h("strong", {}, m.name), ` — ${t(TEXT.plain)} ${m.plain_badges}, ${t(TEXT.secure)} ${m.secure_badges}`));
  const list = rows.length ? h("ul", { "data-testid": "plain-members" }, rows) : h("p", { "data-testid": "plain-members" }, t(TEXT.nobody));
  const who = h("select", { name: "provision-member" }, members.map((m) => h("option", { value: m.id },
    `${m.name} (${m.badges.map((uid) => `${uid} ${secure.has(uid) ? t(TEXT.secure) : t(TEXT.plain)}`).join(", ") || "–"})`)));
  const force = h("input", { type: "checkbox", name: "provision-force" });
  const start = h("button", { class: "primary", "data-testid": "provision-button",
    onclick: () => provision(who.value, force.checked, status).catch((err) => { status.className = "error"; status.textContent = err.message; }) }, t(TEXT.provision));
  const stop = h("button", { onclick: async () => { clearInterval(timer); await api("/api/v1/door/provisioning", { method: "DELETE" }); note = { cls: "", text: "" }; status.textContent = ""; } }, t(TEXT.stop));
  return h("section", { "data-testid": "secure-badges" }, h("h2", {}, t(TEXT.title)), h("p", {}, t(TEXT.explain)), policy, ...warnings,
    h("h3", {}, t(TEXT.plainMembers)), list,
    h("div", { class: "row" }, h("label", {}, t(TEXT.member), who), h("label", { class: "row" }, force, t(TEXT.force))),
    state.reader_can_provision ? h("div", { class: "row" }, start, stop) : h("p", {}, t(TEXT.noReader)), status);
}

/** Show the secure-badge section in its own <main> after the page's main (admin.js owns that one). */
export async function mountBadges() {
  if (!root) {
    root = h("main", { id: "badges", "data-testid": "admin-badges" });
    document.getElementById("main").after(root);
    const select = document.getElementById("lang");
    if (select) select.addEventListener("change", () => mountBadges());
  }
  document.documentElement.lang = lang();
  try {
    const [state, members] = await Promise.all([api("/api/v1/door/badges"), api("/api/v1/members")]);
    root.replaceChildren(badgesSection(state, members));
  } catch (err) {
    root.replaceChildren(h("section", {}, h("p", { class: "error" }, err.message)));
  }
}
