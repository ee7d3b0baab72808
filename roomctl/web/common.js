// Shared by the room's pages: the token, API calls, the screen-state WebSocket, and the two languages.
// Plain ES module, no build step, nothing loaded from the internet.

const TOKEN_KEY = "roomctl.token";
const LANG_KEY = "roomctl.lang";
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;

let roomClockOffsetMs = 0;

/** The room's time now (ms since the epoch): this device's clock corrected by the room's last `now`. */
export function roomNow() {
  return Date.now() + roomClockOffsetMs;
}

/** Take the room's time from an API answer's `now` (ISO 8601): pages count from it, not the device's clock. */
export function syncRoomClock(iso) {
  if (iso) roomClockOffsetMs = Date.parse(iso) - Date.now();
}

/** The page's token: from the URL fragment (#token=...) once, then from localStorage. */
export function token() {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromHash = params.get("token");
  if (fromHash) {
    localStorage.setItem(TOKEN_KEY + location.pathname, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem(TOKEN_KEY + location.pathname) || "";
}

export function setToken(value) {
  localStorage.setItem(TOKEN_KEY + location.pathname, value);
}

/** The chosen language: ?lang=en, else the stored choice, else Dutch. */
export function lang() {
  const fromQuery = new URLSearchParams(location.search).get("lang");
  if (fromQuery === "nl" || fromQuery === "en") localStorage.setItem(LANG_KEY, fromQuery);
  return localStorage.getItem(LANG_KEY) || "nl";
}

export function setLang(value) {
  localStorage.setItem(LANG_KEY, value);
}

/** Pick the text for the current language from {nl, en} (or a plain string). */
export function t(texts) {
  if (texts == null) return "";
  if (typeof texts === "string") return texts;
  return texts[lang()] ?? texts.nl ?? "";
}

export class ApiError extends Error {
  constructor(problem) {
    super(problem.detail || problem.title || "error");
    this.problem = problem;
    this.status = problem.status;
  }
}

/** Call the API with the page's token; a problem+json answer becomes an ApiError. */
export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const response = await fetch(path, {
    method,
    headers: {
      Authorization: `Bearer ${token()}`,
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(typeof data === "object" ? data : { status: response.status, detail: data });
  return data;
}

/**
 * The screen state after one /ws message: a whole state ({version, part: ...}) replaces it; a delta
 * ({version, delta: {part: value | null}}) replaces the parts it names and removes those that are null.
 */
export function applyScreenMessage(state, message) {
  if (!message.delta) return message;
  const next = { ...state, version: message.version };
  for (const [part, value] of Object.entries(message.delta)) {
    if (value === null) delete next[part];
    else next[part] = value;
  }
  return next;
}

/**
 * Follow the room's screen state over /ws, reconnecting by itself with backoff. The server sends the whole
 * state first and then only the parts that change (?delta=true).
 * onState(snapshot) is called with every state; onLink(true|false) when the link comes and goes.
 */
export function followScreen(onState, onLink = () => {}) {
  let delay = RECONNECT_MIN_MS;
  let socket;
  let stopped = false;
  let state = {};
  function connect() {
    if (stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws?delta=true&token=${encodeURIComponent(token())}`);
    socket.onopen = () => {
      delay = RECONNECT_MIN_MS;
      onLink(true);
    };
    socket.onmessage = (message) => {
      const data = JSON.parse(message.data);
      syncRoomClock(data.now);
      state = applyScreenMessage(state, data);
      onState(state);
    };
    socket.onclose = () => {
      if (stopped) return;
      onLink(false);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    };
  }
  connect();
  /* Stop following (no reconnect). */
  return () => {
    stopped = true;
    if (socket) socket.close();
  };
}

/** Seconds left on the session's step, counted on from the server's view. */
export function remainingSeconds(session) {
  if (!session) return 0;
  if (session.paused || !session.ends_at) return session.remaining_seconds;
  return (new Date(session.ends_at) - roomNow()) / 1000;
}

/** "warning" in the last minute of a step, "overtime" after its planned end, else "". */
export function timerMood(session, remaining) {
  if (!session || session.paused) return "";
  if (remaining < 0) return "overtime";
  if (remaining <= (session.warning_seconds || 60)) return "warning";
  return "";
}

// -- the room's time zone: every page shows times on the room's wall clock, whatever the browser's zone is ------

let roomZone; // IANA name, from the screen state (room.timezone) or /api/v1/booking/settings; until then the browser's

/** Use the room's time zone for every time shown from now on (ignored when empty). */
export function setTimeZone(zone) {
  if (zone) roomZone = zone;
}

/** The room's time zone (undefined until a page learnt it). */
export function timeZone() {
  return roomZone;
}

export function locale() {
  return lang() === "en" ? "en-GB" : "nl-NL";
}

/** Wall-clock time of an ISO instant in the room's zone. */
export function clock(iso, options = { hour: "2-digit", minute: "2-digit" }) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString(locale(), { ...options, timeZone: roomZone });
}

export function day(iso, options = { weekday: "long", day: "numeric", month: "long" }) {
  if (!iso) return "";
  return new Date(iso).toLocaleDateString(locale(), { ...options, timeZone: roomZone });
}

/** The offset (ms) of the room's zone from UTC at instant ``ms``. */
export function zoneOffset(ms) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: roomZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second) - ms;
}

/** "2027-03-01T09:00" on the room's wall clock → ISO 8601 instant (UTC). */
export function roomInstant(wall) {
  const [d, tm] = wall.split("T");
  const [y, mo, da] = d.split("-").map(Number);
  const [hh, mi] = tm.split(":").map(Number);
  const guess = Date.UTC(y, mo - 1, da, hh, mi);
  return new Date(guess - zoneOffset(guess - zoneOffset(guess))).toISOString();
}

/** The room's wall clock at an instant: {date: "2027-03-01", time: "09:00", weekday: 0..6 (Monday 0)}. */
export function wallClock(iso) {
  const ms = new Date(iso).getTime();
  const local = new Date(ms + zoneOffset(ms));
  const date = local.toISOString().slice(0, 10);
  return { date, time: local.toISOString().slice(11, 16), weekday: (local.getUTCDay() + 6) % 7 };
}

// -- states in words: no page shows a raw identifier ---------------------------------------------------------

export const WORDS = {
  phase: {
    idle: { nl: "Geen sessie", en: "No session" }, arrival: { nl: "Aankomst", en: "Arrival" },
    analysis: { nl: "Analyse", en: "Analysis" }, problem: { nl: "Probleemstelling", en: "Problem statement" },
    brainstorm: { nl: "Brainstorm", en: "Brainstorm" }, proposal: { nl: "Verbetervoorstel", en: "Improvement proposal" },
    validation: { nl: "Validatie", en: "Validation" }, break: { nl: "Pauze", en: "Break" }, custom: { nl: "Eigen stap", en: "Own step" },
    wrapup: { nl: "Afronding", en: "Wrap-up" }, ended: { nl: "Afgelopen", en: "Ended" },
  },
  booking: {
    booked: { nl: "geboekt", en: "booked" }, checked_in: { nl: "ingecheckt", en: "checked in" },
    released: { nl: "vrijgegeven", en: "released" }, cancelled: { nl: "geannuleerd", en: "cancelled" },
    ended: { nl: "afgelopen", en: "ended" }, moving: { nl: "wordt verplaatst", en: "being moved" },
    single: { nl: "los", en: "single" }, series: { nl: "reeks", en: "series" }, walkin: { nl: "inloop", en: "walk-in" },
  },
  recording: {
    idle: { nl: "geen opname", en: "not recording" }, consent: { nl: "toestemming gevraagd", en: "asking for consent" },
    recording: { nl: "opname loopt", en: "recording" }, finishing: { nl: "uitschrijven…", en: "transcribing…" },
    error: { nl: "opname niet mogelijk", en: "recording not possible" },
  },
  proposal: {
    waiting: { nl: "wacht", en: "waiting" }, writing: { nl: "wordt geschreven", en: "being written" },
    ready: { nl: "te beoordelen", en: "to be judged" }, revising: { nl: "wordt herschreven", en: "being revised" },
    accepted: { nl: "aangenomen", en: "accepted" }, rejected: { nl: "afgewezen", en: "rejected" }, failed: { nl: "mislukt", en: "failed" },
  },
  availability: {
    online: { nl: "online", en: "online" }, offline: { nl: "offline", en: "offline" },
    assumed: { nl: "aangenomen (geen terugmelding)", en: "assumed (no feedback)" }, unknown: { nl: "nog niet gezien", en: "not seen yet" },
  },
  scene: {
    arrival: { nl: "Aankomst", en: "Arrival" }, clip: { nl: "Video", en: "Video" }, brainstorm: { nl: "Brainstorm", en: "Brainstorm" },
    break: { nl: "Pauze", en: "Break" }, leave: { nl: "Vertrek (alles uit)", en: "Leaving (all off)" },
    focus: { nl: "Focus", en: "Focus" }, presentation: { nl: "Presentatie", en: "Presentation" },
  },
  sceneStatus: {
    running: { nl: "wordt ingesteld…", en: "being set…" }, complete: { nl: "alle apparaten bevestigd", en: "every device confirmed" },
    incomplete: { nl: "niet alle apparaten bevestigd", en: "not every device confirmed" }, superseded: { nl: "vervangen", en: "replaced" },
  },
  alarm: {
    held_open: { nl: "deur te lang open", en: "door held open" }, forced: { nl: "deur geforceerd", en: "door forced" },
    lockout: { nl: "lezer geblokkeerd na mislukte pogingen", en: "reader locked after failed tries" },
    reader_offline: { nl: "lezer offline", en: "reader offline" },
  },
};

/** What a device is doing, in words: "aan, 80 %", "open 60 %", "CO₂ 480 ppm". */
export function deviceState(device) {
  const state = device.state || {};
  const parts = [];
  if (state.on === true) parts.push(t({ nl: "aan", en: "on" }));
  if (state.on === false) parts.push(t({ nl: "uit", en: "off" }));
  if (typeof state.brightness === "number" && state.on !== false) parts.push(`${state.brightness} %`);
  if (typeof state.position === "number") parts.push(state.position === 0 ? t({ nl: "dicht", en: "closed" }) : `${t({ nl: "open", en: "open" })} ${state.position} %`);
  if (state.value !== undefined && state.value !== null) {
    const units = { co2: " ppm", temperature: " °C", humidity: " %" };
    if (device.kind === "presence") parts.push(state.value ? t({ nl: "iemand aanwezig", en: "someone present" }) : t({ nl: "niemand", en: "nobody" }));
    else parts.push(`${typeof state.value === "number" ? Math.round(state.value * 10) / 10 : state.value}${units[device.kind] || ""}`);
  }
  return parts.join(", ") || word("availability", device.availability);
}

/** A state or status identifier in words (``word("booking", "checked_in")`` → "ingecheckt"); unknown ids lose their underscores. */
export function word(group, id) {
  if (id === null || id === undefined || id === "") return "—";
  const known = (WORDS[group] || {})[id];
  return known ? t(known) : String(id).replace(/_/g, " ");
}

/** mm:ss from seconds (negative shows as +mm:ss over time). */
export function countdown(seconds) {
  const over = seconds < 0;
  const s = Math.abs(Math.round(seconds));
  const text = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  return over ? `+${text}` : text;
}

/** Create an element: h("div", {class: "x"}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Make `nodes` the children of `parent`, in order, without moving a node that is already one of them.
 *
 * `replaceChildren` takes every child out of the document and back in; a field being typed in loses its focus on
 * the way, and the rest of what is typed goes nowhere. Here only the nodes that change are inserted or removed.
 */
export function placeChildren(parent, nodes) {
  const wanted = new Set(nodes);
  for (const child of [...parent.childNodes]) if (!wanted.has(child)) child.remove();
  nodes.forEach((node, i) => {
    const here = parent.childNodes[i] ?? null;
    if (here !== node) parent.insertBefore(node, here);
  });
}
