// /admin, session content: videoframe packages (install from an upload, list, remove) and the kader questions
// (edit Dutch and English, reset). Mounted by admin.js below its own sections; needs an admin token.
import { api, h, lang, t, token } from "/static/common.js";

const TEXT = {
  videoframes: { nl: "Videoframes", en: "Videoframes" },
  install: { nl: "Installeren (.zip)", en: "Install (.zip)" },
  replace: { nl: "Bestaande versie vervangen", en: "Replace an installed version" },
  remove: { nl: "Verwijderen", en: "Remove" },
  removeConfirm: { nl: "Dit videoframe verwijderen?", en: "Remove this videoframe?" },
  steps: { nl: "stappen", en: "steps" },
  minutes: { nl: "min", en: "min" },
  installed: { nl: "Geïnstalleerd", en: "Installed" },
  kader: { nl: "Didactisch kader", en: "Didactic framework" },
  save: { nl: "Opslaan", en: "Save" },
  saved: { nl: "Opgeslagen", en: "Saved" },
  reset: { nl: "Standaardvragen terugzetten", en: "Restore the default questions" },
  resetConfirm: { nl: "Alle wijzigingen in de vragen gaan verloren. Doorgaan?", en: "Every edit of the questions is lost. Continue?" },
  reload: { nl: "Vernieuwen", en: "Reload" },
  missingScenes: { nl: "Deze scènes ontbreken in de configuratie van de ruimte ([scenes]); die stappen schakelen geen apparaten:", en: "These scenes are missing from the room's configuration ([scenes]); those steps switch no devices:" },
  scenesOk: { nl: "Alle scènes van dit videoframe zijn ingesteld.", en: "Every scene this videoframe uses is configured." },
};

let root = null;

function videoframeSection(frames) {
  const error = h("p", { class: "error", role: "alert", "data-testid": "videoframe-error" });
  const file = h("input", { type: "file", accept: ".zip,application/zip", "data-testid": "videoframe-file" });
  const replace = h("input", { type: "checkbox" });
  const upload = async (e) => {
    e.preventDefault();
    if (!file.files.length) return;
    error.textContent = "";
    try {
      const response = await fetch(`/api/v1/videoframes?replace=${replace.checked}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token()}`, "Content-Type": "application/zip" },
        body: file.files[0],
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.detail || body.title);
      error.className = "ok";
      error.textContent = `${t(TEXT.installed)}: ${t(body.title)} ${body.version}`;
      setTimeout(mountContent, 800);
    } catch (err) {
      error.className = "error";
      error.textContent = err.message;
    }
  };
  const remove = async (frame) => {
    if (!confirm(`${t(TEXT.removeConfirm)} ${t(frame.title)}`)) return;
    try {
      await api(`/api/v1/videoframes/${encodeURIComponent(frame.id)}`, { method: "DELETE" });
      mountContent();
    } catch (err) {
      error.textContent = err.message;
    }
  };
  return h("section", { "data-testid": "videoframes" }, h("h2", {}, t(TEXT.videoframes)),
    h("table", {}, frames.map((f) => h("tr", {},
      h("td", {}, h("strong", {}, t(f.title)), h("div", { class: "muted" }, `${f.id} · ${f.versions.join(", ")}`),
        (f.missing_scenes || []).length
          ? h("p", { class: "error", "data-testid": `missing-scenes-${f.id}` }, t(TEXT.missingScenes), " ", f.missing_scenes.join(", "))
          : h("p", { class: "ok", "data-testid": `scenes-ok-${f.id}` }, t(TEXT.scenesOk))),
      h("td", { class: "muted" }, `${f.steps.length} ${t(TEXT.steps)} · ${Math.round(f.total_minutes)} ${t(TEXT.minutes)}`),
      h("td", {}, h("button", { class: "danger", onclick: () => remove(f) }, t(TEXT.remove)))))),
    h("form", { onsubmit: upload }, file, h("label", { class: "row" }, replace, t(TEXT.replace)), h("button", { class: "primary" }, t(TEXT.install))),
    error);
}

function questionRow(q) {
  const nl = h("textarea", { rows: 2, maxlength: 300, "aria-label": "NL" }, q.nl);
  const en = h("textarea", { rows: 2, maxlength: 300, "aria-label": "EN" }, q.en);
  const status = h("span", { class: "muted", role: "status" });
  const save = async (e) => {
    e.preventDefault();
    try {
      await api(`/api/v1/kader/${q.id}`, { method: "PUT", body: { nl: nl.value, en: en.value } });
      status.className = "ok";
      status.textContent = t(TEXT.saved);
    } catch (err) {
      status.className = "error";
      status.textContent = err.message;
    }
  };
  return h("li", {}, h("form", { class: "stack", onsubmit: save, "data-testid": `kader-${q.id}` },
    h("strong", {}, q.id), nl, en, h("div", { class: "row" }, h("button", {}, t(TEXT.save)), status)));
}

function kaderSection(questions) {
  const reset = async () => {
    if (!confirm(t(TEXT.resetConfirm))) return;
    await api("/api/v1/kader/reset", { method: "POST" });
    mountContent();
  };
  return h("section", { "data-testid": "kader" }, h("h2", {}, t(TEXT.kader)),
    h("ol", { class: "kader" }, questions.map(questionRow)),
    h("button", { class: "danger", onclick: reset }, t(TEXT.reset)));
}

/** Show the content sections in their own <main> after the page's main (admin.js owns that one). */
export async function mountContent() {
  if (!root) {
    root = h("main", { id: "content", "data-testid": "admin-content" });
    document.body.append(root);
    const select = document.getElementById("lang");
    if (select) select.addEventListener("change", () => mountContent());
  }
  document.documentElement.lang = lang();
  try {
    const [frames, questions] = await Promise.all([api("/api/v1/videoframes"), api("/api/v1/kader")]);
    root.replaceChildren(videoframeSection(frames), kaderSection(questions));
  } catch (err) {
    root.replaceChildren(h("section", {}, h("p", { class: "error" }, err.message), h("button", { onclick: () => mountContent() }, t(TEXT.reload))));
  }
}
