// /admin over weeks (issue 19), in its own <main> after the page's sections: resources of the kader questions
// (a clip, podcast, film, article or e-learning; http(s) links only), each group's validated proposals never
// followed up, and a personal trajectory link per member (shown once).
import { api, h, lang, t } from "/static/common.js";

const TEXT = {
  resources: { nl: "Bronnen bij de vragen van het kader", en: "Resources for the framework's questions" },
  kind: { nl: "Soort", en: "Kind" },
  kinds: {
    clip: { nl: "Videoframe-clip", en: "Videoframe clip" }, podcast: { nl: "Podcast", en: "Podcast" }, film: { nl: "Film", en: "Film" },
    article: { nl: "Artikel", en: "Article" }, elearning: { nl: "E-learning", en: "E-learning" },
  },
  title: { nl: "Titel", en: "Title" },
  url: { nl: "Link (https://…)", en: "Link (https://…)" },
  add: { nl: "Toevoegen", en: "Add" },
  remove: { nl: "Verwijderen", en: "Remove" },
  unfollowed: { nl: "Voorstellen zonder terugblik", en: "Proposals not followed up" },
  none: { nl: "Geen.", en: "None." },
  links: { nl: "Persoonlijke trajectlinks", en: "Personal trajectory links" },
  makeLink: { nl: "Link maken", en: "Make a link" },
  linkOnce: { nl: "Alleen nu zichtbaar: geef deze link aan het lid.", en: "Shown only now: give this link to the member." },
};

let root = null;

function questionResources(question, resources) {
  const error = h("p", { class: "error", role: "alert", "data-testid": `resource-error-${question.id}` });
  const kind = h("select", { "data-testid": `resource-kind-${question.id}` }, Object.keys(TEXT.kinds).map((k) => h("option", { value: k }, t(TEXT.kinds[k]))));
  const title = h("input", { maxlength: 120, placeholder: t(TEXT.title), "data-testid": `resource-title-${question.id}` });
  const url = h("input", { type: "url", maxlength: 2000, placeholder: t(TEXT.url), "data-testid": `resource-url-${question.id}` });
  const add = async (e) => {
    e.preventDefault();
    try {
      await api(`/api/v1/kader/${question.id}/resources`, { method: "POST", body: { kind: kind.value, title: title.value, url: url.value } });
      mountWeeks();
    } catch (err) { error.textContent = err.message; }
  };
  return h("li", { "data-question": question.id },
    h("span", { class: "q" }, t(question)),
    h("ul", {}, resources.map((r) => h("li", { "data-testid": "resource-row" },
      h("img", { src: r.qr, alt: "", width: 64, height: 64 }), ` ${t(TEXT.kinds[r.kind])}: `, h("a", { href: r.url, rel: "noopener noreferrer" }, r.title), " ",
      h("button", { class: "danger", onclick: async () => { await api(`/api/v1/kader/resources/${r.id}`, { method: "DELETE" }); mountWeeks(); } }, t(TEXT.remove))))),
    h("form", { onsubmit: add, novalidate: true }, kind, title, url, h("button", { "data-testid": `resource-add-${question.id}` }, t(TEXT.add))), error);
}

function unfollowedSection(groups, lists) {
  return h("section", { "data-testid": "unfollowed" }, h("h2", {}, t(TEXT.unfollowed)),
    groups.map((g, i) => h("div", {}, h("h3", {}, g.name),
      lists[i].length ? h("ul", {}, lists[i].map((p) => h("li", { "data-testid": "unfollowed-row" }, p.title, h("span", { class: "muted" }, ` · ${(p.decided_at || "").slice(0, 10)}`))))
                      : h("p", { class: "muted" }, t(TEXT.none)))));
}

function linksSection(members) {
  const out = h("p", { class: "ok", role: "status", "data-testid": "trajectory-link" });
  return h("section", {}, h("h2", {}, t(TEXT.links)),
    h("table", {}, members.map((m) => h("tr", {}, h("td", {}, m.name), h("td", {},
      h("button", { "data-testid": `trajectory-link-${m.id}`, onclick: async () => {
        try {
          const answer = await api(`/api/v1/members/${m.id}/trajectory-link`, { method: "POST" });
          out.replaceChildren(`${t(TEXT.linkOnce)} `, h("code", {}, answer.url));
        } catch (err) { out.className = "error"; out.textContent = err.message; }
      } }, t(TEXT.makeLink)))))),
    out);
}

/** Show the sections over weeks in their own <main> after the page's others. */
export async function mountWeeks() {
  if (!root) {
    root = h("main", { id: "weeks", "data-testid": "admin-weeks" });
    document.body.append(root);
    const select = document.getElementById("lang");
    if (select) select.addEventListener("change", () => mountWeeks());
  }
  document.documentElement.lang = lang();
  try {
    const [questions, groups, members] = await Promise.all([api("/api/v1/kader"), api("/api/v1/groups"), api("/api/v1/members")]);
    const [resources, unfollowed] = await Promise.all([
      Promise.all(questions.map((q) => api(`/api/v1/kader/${q.id}/resources`))),
      Promise.all(groups.map((g) => api(`/api/v1/groups/${g.id}/proposals/unfollowed`))),
    ]);
    root.replaceChildren(
      h("section", { "data-testid": "resources-admin" }, h("h2", {}, t(TEXT.resources)), h("ol", { class: "kader" }, questions.map((q, i) => questionResources(q, resources[i])))),
      unfollowedSection(groups, unfollowed), linksSection(members));
  } catch (err) {
    root.replaceChildren(h("section", {}, h("p", { class: "error" }, err.message)));
  }
}
