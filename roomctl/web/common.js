// Shared by the room's pages: the token, API calls, the screen-state WebSocket, and the two languages.
// Plain ES module, no build step, nothing loaded from the internet.

const TOKEN_KEY = "roomctl.token";
const LANG_KEY = "roomctl.lang";
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;

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
      state = applyScreenMessage(state, JSON.parse(message.data));
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
  return (new Date(session.ends_at) - Date.now()) / 1000;
}

/** "warning" in the last minute of a step, "overtime" after its planned end, else "". */
export function timerMood(session, remaining) {
  if (!session || session.paused) return "";
  if (remaining < 0) return "overtime";
  if (remaining <= (session.warning_seconds || 60)) return "warning";
  return "";
}

/** Local time of an ISO instant in the room's language. */
export function clock(iso, options = { hour: "2-digit", minute: "2-digit" }) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString(lang() === "en" ? "en-GB" : "nl-NL", options);
}

export function day(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleDateString(lang() === "en" ? "en-GB" : "nl-NL", { weekday: "long", day: "numeric", month: "long" });
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
