// /facilities: every room of the site live (WebSocket), alerts to acknowledge, and room use over a period.
// Plots are inline SVG built here: no chart library, nothing from the internet.
import { api, clock, day, h, lang, setLang, setTimeZone, t, token, word } from "/static/common.js";

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;
const DAY_MS = 86400000;
const DEFAULT_DAYS = 30;
const TEXT = {
  rooms: { nl: "Ruimtes", en: "Rooms" },
  alerts: { nl: "Meldingen", en: "Alerts" },
  use: { nl: "Gebruik", en: "Room use" },
  start: { nl: "Van", en: "From" },
  end: { nl: "Tot en met", en: "To" },
  show: { nl: "Toon", en: "Show" },
  csv: { nl: "CSV downloaden", en: "Download CSV" },
  live: { nl: "live", en: "live" },
  reconnecting: { nl: "verbinding verbroken, opnieuw verbinden…", en: "link lost, reconnecting…" },
  badToken: { nl: "Dit token mag deze pagina niet zien. Open de link met een facilitair-token.", en: "This token may not see this page. Open the link with a facilities token." },
  status: {
    occupied: { nl: "Bezet", en: "Occupied" }, booked: { nl: "Geboekt", en: "Booked" },
    free: { nl: "Vrij", en: "Free" }, stale: { nl: "Geen gegevens", en: "Stale" },
  },
  phase: { nl: "Fase", en: "Phase" },
  next: { nl: "Volgende boeking", en: "Next booking" },
  none: { nl: "geen", en: "none" },
  door: { nl: "Deur", en: "Door" },
  locked: { nl: "op slot", en: "locked" }, unlocked: { nl: "ontgrendeld", en: "unlocked" },
  open: { nl: "open", en: "open" }, shut: { nl: "dicht", en: "shut" }, assumed: { nl: "aangenomen", en: "assumed" },
  alarms: { nl: "Alarmen", en: "Alarms" },
  devices: { nl: "Apparaten", en: "Devices" },
  sensors: { nl: "Lucht", en: "Air" },
  lastSeen: { nl: "gezien", en: "seen" },
  updated: { nl: "bijgewerkt", en: "updated" },
  ago: { nl: "s geleden", en: "s ago" },
  thisRoom: { nl: "deze ruimte", en: "this room" },
  noAlerts: { nl: "Geen open meldingen.", en: "No open alerts." },
  raised: { nl: "Sinds", en: "Since" }, message: { nl: "Melding", en: "Alert" }, state: { nl: "Status", en: "State" },
  active: { nl: "actief", en: "active" }, cleared: { nl: "opgelost", en: "cleared" },
  ack: { nl: "Gezien", en: "Acknowledge" }, ackBy: { nl: "gezien door", en: "seen by" },
  booked: { nl: "Geboekte uren", en: "Booked hours" }, used: { nl: "Gebruikte uren", en: "Used hours" },
  usedShare: { nl: "Gebruikt van geboekt", en: "Used of booked" }, noShow: { nl: "No-shows", en: "No-shows" },
  reused: { nl: "Vrijgegeven, hergebruikt", en: "Released, re-used" }, avg: { nl: "Gem. sessie", en: "Avg. session" },
  proposals: { nl: "Voorstellen gevalideerd", en: "Proposals validated" }, sessions: { nl: "Sessies", en: "Sessions" },
  walkins: { nl: "Inloopuren", en: "Walk-in hours" },
  perWeekday: { nl: "Uren per weekdag (geboekt / gebruikt)", en: "Hours per weekday (booked / used)" },
  heat: { nl: "Bezetting per weekdag en uur", en: "Utilisation by weekday and hour" },
  empty: { nl: "Geen gegevens in deze periode.", en: "No data in this period." },
  min: { nl: "min", en: "min" },
  weekdays: { nl: ["ma", "di", "wo", "do", "vr", "za", "zo"], en: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] },
};

const $ = (id) => document.getElementById(id);
const select = $("lang");
let overview = null;
let useReport = null;

function labels() {
  $("rooms-title").textContent = t(TEXT.rooms);
  $("alerts-title").textContent = t(TEXT.alerts);
  $("use-title").textContent = t(TEXT.use);
  $("start-label").textContent = t(TEXT.start);
  $("end-label").textContent = t(TEXT.end);
  $("show").textContent = t(TEXT.show);
  $("csv").textContent = t(TEXT.csv);
}

// -- rooms -------------------------------------------------------------------------------------------------

function doorText(door) {
  if (!door) return "—";
  const lock = door.locked ? t(TEXT.locked) : t(TEXT.unlocked);
  const open = door.open === null || door.open === undefined ? t(TEXT.assumed) : door.open ? t(TEXT.open) : t(TEXT.shut);
  return `${lock}, ${open}`;
}

/** An alarm in words; a reader's alarms name the reader (the door's badge reader, the keypad). */
function alarmText(alarm) {
  const named = (alarm.kind === "reader_offline" || alarm.kind === "lockout") && alarm.reader;
  const text = named ? `${word("alarm", alarm.kind)} (${alarm.reader})` : word("alarm", alarm.kind);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function roomCard(room) {
  const sensors = [];
  if (room.sensors.co2 !== undefined) sensors.push(`CO₂ ${Math.round(room.sensors.co2)} ppm`);
  if (room.sensors.temperature !== undefined) sensors.push(`${room.sensors.temperature.toFixed(1)} °C`);
  const next = room.next_booking ? `${day(room.next_booking.start)} ${clock(room.next_booking.start)}–${clock(room.next_booking.end)}` : t(TEXT.none);
  // a door alarm is also an alert (key "alarm:..."): the card lists it once, in the alarm's words
  const others = room.alerts.filter((a) => !String(a.key || "").startsWith("alarm:"));
  const alarms = [...room.alarms.map(alarmText), ...others.map((a) => a.message)];
  return h("article", { class: "room", "data-testid": "room-card", "data-room": room.id, "data-status": room.status },
    h("h3", {}, h("span", {}, room.name, room.local ? h("span", { class: "muted" }, ` (${t(TEXT.thisRoom)})`) : null),
      h("span", { class: "badge", "data-testid": "room-status" }, t(TEXT.status[room.status]) || room.status)),
    room.status === "stale" ? h("p", { class: "muted" }, room.status_reason) : null,
    h("dl", {},
      h("dt", {}, t(TEXT.phase)), h("dd", { "data-testid": "room-phase" }, word("phase", room.phase)),
      h("dt", {}, t(TEXT.next)), h("dd", {}, next),
      h("dt", {}, t(TEXT.door)), h("dd", {}, doorText(room.door)),
      sensors.length ? [h("dt", {}, t(TEXT.sensors)), h("dd", { "data-testid": "room-sensors" }, sensors.join(" · "))] : null,
      h("dt", {}, t(TEXT.updated)), h("dd", { class: "muted" }, room.age_seconds === null ? "—" : `${Math.round(room.age_seconds)} ${t(TEXT.ago)}`)),
    // alarms get the card's whole width below the facts, one per line, so a long one stays readable
    alarms.length ? h("div", { class: "alarms", "data-testid": "room-alarms" }, h("strong", {}, t(TEXT.alarms)),
      h("ul", {}, alarms.map((a) => h("li", { class: "alarm" }, a)))) : null,
    room.devices.length ? h("details", {}, h("summary", {}, `${t(TEXT.devices)} (${room.devices.filter((d) => d.availability === "offline").length} offline)`),
      h("ul", { class: "devices" }, room.devices.map((d) => h("li", {},
        h("span", { class: `dot ${d.availability}` }), `${d.name}: ${word("availability", d.availability)}`,
        d.last_seen ? h("span", { class: "muted" }, ` · ${t(TEXT.lastSeen)} ${clock(d.last_seen)}`) : null)))) : null);
}

function renderRooms() {
  if (!overview) return;
  $("rooms").replaceChildren(...overview.rooms.map(roomCard));
  renderAlerts(overview.alerts);
}

// -- alerts ------------------------------------------------------------------------------------------------

async function acknowledge(id, button) {
  button.disabled = true;
  try {
    await api(`/api/v1/facilities/alerts/${id}/ack`, { method: "POST" });
    overview = await api("/api/v1/facilities/rooms");
    renderRooms();
  } catch (err) {
    button.disabled = false;
    $("rooms-error").textContent = err.message;
  }
}

function renderAlerts(alerts) {
  if (!alerts.length) {
    $("alerts").replaceChildren(h("p", { class: "muted" }, t(TEXT.noAlerts)));
    return;
  }
  $("alerts").replaceChildren(h("table", {},
    h("tr", {}, h("th", {}, t(TEXT.raised)), h("th", {}, t(TEXT.message)), h("th", {}, t(TEXT.state)), h("th", {})),
    alerts.map((a) => {
      const button = h("button", { "data-testid": "ack" }, t(TEXT.ack));
      button.addEventListener("click", () => acknowledge(a.id, button));
      return h("tr", { class: a.state, "data-testid": "alert", "data-kind": a.kind },
        h("td", {}, `${day(a.raised_at)} ${clock(a.raised_at)}`),
        h("td", {}, a.message),
        h("td", {}, a.state === "active" ? t(TEXT.active) : `${t(TEXT.cleared)} ${clock(a.cleared_at)}`,
          a.acknowledged ? h("div", { class: "muted" }, `${t(TEXT.ackBy)} ${a.acknowledged_by} ${clock(a.acknowledged_at)}`) : null),
        h("td", {}, a.acknowledged ? null : button));
    })));
}

// -- live link ---------------------------------------------------------------------------------------------

function follow() {
  let delay = RECONNECT_MIN_MS;
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/facilities/ws?token=${encodeURIComponent(token())}`);
    socket.onopen = () => { delay = RECONNECT_MIN_MS; $("link").textContent = t(TEXT.live); $("link").className = "muted"; };
    socket.onmessage = (message) => { overview = JSON.parse(message.data); $("rooms-error").textContent = ""; renderRooms(); };
    socket.onclose = (event) => {
      if (event.code === 4401 || event.code === 4403) { $("rooms-error").textContent = t(TEXT.badToken); return; }
      $("link").textContent = t(TEXT.reconnecting);
      $("link").className = "link-down";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    };
  };
  connect();
}

// -- room use ----------------------------------------------------------------------------------------------

const SVG_NS = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const child of children.flat(Infinity)) if (child != null) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function weekdayBars(report) {
  const rows = report.per_weekday;
  const top = Math.max(1, ...rows.map((r) => Math.max(r.booked_hours, r.used_hours)));
  const W = 360, H = 180, left = 30, bottom = 20, band = (W - left) / 7, bar = band / 3;
  const y = (v) => H - bottom - (v / top) * (H - bottom - 10);
  return s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": t(TEXT.perWeekday), "data-testid": "weekday-bars" },
    s("text", { x: 0, y: 10 }, `${top.toFixed(0)} h`),
    s("line", { x1: left, x2: W, y1: H - bottom, y2: H - bottom, stroke: "#0004" }),
    rows.map((r, i) => {
      const x = left + i * band + bar / 2;
      return s("g", {},
        s("rect", { x, y: y(r.booked_hours), width: bar, height: H - bottom - y(r.booked_hours), fill: "#b9c7d6" }, s("title", {}, `${r.booked_hours} h`)),
        s("rect", { x: x + bar, y: y(r.used_hours), width: bar, height: H - bottom - y(r.used_hours), fill: "#0b6bcb" }, s("title", {}, `${r.used_hours} h`)),
        s("text", { x: x + bar, y: H - 5, "text-anchor": "middle" }, t(TEXT.weekdays)[i]));
    }));
}

function heatMap(report) {
  const cells = report.heatmap.utilisation;
  const cell = 18, left = 28, topPad = 16;
  const W = left + 24 * cell, H = topPad + 7 * cell + 4;
  const colour = (v) => (v === null ? "#f0f0f0" : `rgba(11, 107, 203, ${Math.max(0.06, Math.min(1, v))})`);
  return s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": t(TEXT.heat), "data-testid": "heatmap" },
    [0, 6, 12, 18].map((hr) => s("text", { x: left + hr * cell, y: 11 }, `${hr}:00`)),
    cells.map((row, d) => [
      s("text", { x: 0, y: topPad + d * cell + 13 }, t(TEXT.weekdays)[d]),
      row.map((v, hr) => s("rect", { x: left + hr * cell, y: topPad + d * cell, width: cell - 2, height: cell - 2, rx: 2, fill: colour(v) },
        s("title", {}, `${t(TEXT.weekdays)[d]} ${hr}:00 — ${v === null ? "—" : Math.round(v * 100) + " %"}`))),
    ]));
}

function figure(label, value, testid) {
  return h("div", { class: "figure", "data-testid": testid }, h("b", {}, value), label);
}

const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 100)} %`);

function renderUse() {
  if (!useReport) return;
  const m = useReport.summary;
  const parts = [];
  if (useReport.empty) parts.push(h("p", { class: "muted", "data-testid": "use-empty" }, t(TEXT.empty)));
  parts.push(h("div", { class: "figures" },
    figure(t(TEXT.booked), m.booked_hours, "fig-booked"),
    figure(t(TEXT.used), m.used_hours, "fig-used"),
    figure(t(TEXT.usedShare), pct(m.used_share_of_booked), "fig-share"),
    figure(t(TEXT.noShow), `${m.no_shows} (${pct(m.no_show_rate)})`, "fig-noshow"),
    figure(t(TEXT.reused), `${m.released_reused} (${m.released_reused_hours} h)`, "fig-reused"),
    figure(t(TEXT.walkins), m.walkin_hours, "fig-walkin"),
    figure(t(TEXT.sessions), m.sessions, "fig-sessions"),
    figure(t(TEXT.avg), m.average_session_minutes === null ? "—" : `${m.average_session_minutes} ${t(TEXT.min)}`, "fig-avg"),
    figure(t(TEXT.proposals), m.proposals_validated, "fig-proposals")));
  parts.push(h("div", { class: "plots" },
    h("figure", {}, h("figcaption", {}, t(TEXT.perWeekday)), weekdayBars(useReport)),
    h("figure", {}, h("figcaption", {}, t(TEXT.heat)), heatMap(useReport))));
  $("use").replaceChildren(...parts);
}

function periodQuery() {
  const params = new URLSearchParams();
  if ($("start").value) params.set("start", $("start").value);
  if ($("end").value) params.set("end", $("end").value);
  return params;
}

async function loadUse() {
  $("use-error").textContent = "";
  try {
    useReport = await api(`/api/v1/reports/utilisation?${periodQuery()}`);
    renderUse();
  } catch (err) {
    useReport = null;
    $("use").replaceChildren();
    $("use-error").textContent = err.message;
  }
}

async function downloadCsv() {
  const params = periodQuery();
  params.set("format", "csv");
  const response = await fetch(`/api/v1/reports/utilisation?${params}`, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) { $("use-error").textContent = (await response.json()).detail; return; }
  const link = h("a", { href: URL.createObjectURL(await response.blob()), download: "utilisation.csv" });
  document.body.append(link);
  link.click();
  link.remove();
}

// -- start -------------------------------------------------------------------------------------------------

const isoDay = (date) => date.toISOString().slice(0, 10);
$("end").value = isoDay(new Date());
$("start").value = isoDay(new Date(Date.now() - DEFAULT_DAYS * DAY_MS));
$("period").addEventListener("submit", (event) => { event.preventDefault(); loadUse(); });
$("csv").addEventListener("click", downloadCsv);
select.value = lang();
select.addEventListener("change", () => { setLang(select.value); labels(); renderRooms(); renderUse(); });
labels();
token();
api("/api/v1/booking/settings").then((s) => { setTimeZone(s.timezone); renderRooms(); renderUse(); }).catch(() => {}).finally(() => { follow(); loadUse(); });
