// /facilities: the room's health and door at a glance, refreshed every few seconds.
import { api, h, lang, setLang, t } from "/static/common.js";

const REFRESH_MS = 3000;
const TEXT = {
  health: { nl: "Gezondheid", en: "Health" },
  door: { nl: "Deur", en: "Door" },
  locked: { nl: "op slot", en: "locked" },
  unlocked: { nl: "open (ontgrendeld)", en: "unlocked" },
  open: { nl: "deur open", en: "door open" },
  shut: { nl: "deur dicht", en: "door shut" },
  assumed: { nl: "(aangenomen, geen contact)", en: "(assumed, no contact)" },
};

const main = document.getElementById("main");
const select = document.getElementById("lang");
select.value = lang();
select.addEventListener("change", () => { setLang(select.value); refresh(); });

async function refresh() {
  const health = await fetch("/healthz").then((r) => r.json());
  const sections = [h("section", {}, h("h2", {}, t(TEXT.health)),
    h("p", { class: `big status-${health.status}`, "data-testid": "health" }, health.status),
    h("table", {}, Object.entries(health.components).map(([name, c]) =>
      h("tr", {}, h("td", {}, name), h("td", { class: `status-${c.status}` }, c.status), h("td", { class: "muted" }, c.detail)))))];
  try {
    const door = await api("/api/v1/door");
    sections.push(h("section", {}, h("h2", {}, t(TEXT.door)),
      h("p", { class: "big" }, door.locked ? t(TEXT.locked) : t(TEXT.unlocked)),
      h("p", {}, door.open === null ? t(TEXT.assumed) : door.open ? t(TEXT.open) : t(TEXT.shut))));
  } catch (err) {
    sections.push(h("section", {}, h("p", { class: "error" }, err.message)));
  }
  main.replaceChildren(...sections);
}

refresh();
setInterval(refresh, REFRESH_MS);
