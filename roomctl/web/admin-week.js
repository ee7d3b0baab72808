// /admin, the week view of the room's bookings (like Skedda or MRBS): seven days by the hour, on the room's
// wall clock. A booking is a block in its day; a click on a free hour opens a form there to book it once or
// every week (a series). Mounted by admin.js; needs an admin token.
import { api, clock, day, h, roomInstant, roomNow, t, wallClock, word } from "/static/common.js";

const DAY_MS = 86400000;
const SLOT_MINUTES = 60;
const FIRST_HOUR = 7;
const LAST_HOUR = 22;
const DEFAULT_WEEKS = 10;
const WEEKDAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

const TEXT = {
  week: { nl: "Weekoverzicht", en: "Week view" },
  previous: { nl: "‹ Vorige week", en: "‹ Previous week" },
  next: { nl: "Volgende week ›", en: "Next week ›" },
  today: { nl: "Deze week", en: "This week" },
  help: { nl: "Klik op een vrij uur om het te boeken.", en: "Click a free hour to book it." },
  closed: { nl: "gesloten", en: "closed" },
  bookFor: { nl: "Boeken", en: "Book" },
  group: { nl: "Groep", en: "Group" },
  minutes: { nl: "Duur (min)", en: "Length (min)" },
  repeat: { nl: "Elke week herhalen", en: "Repeat every week" },
  weeks: { nl: "Aantal weken", en: "Weeks" },
  book: { nl: "Boeken", en: "Book" },
  cancel: { nl: "Annuleren", en: "Cancel" },
  booked: { nl: "Geboekt", en: "Booked" },
};

let shownMonday = null; // the week on screen survives admin.js re-mounting its sections after a change

/** Monday 00:00 (room wall clock) of the week holding ``date`` ("YYYY-MM-DD"), as "YYYY-MM-DD". */
function mondayOf(date) {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}

function addDays(date, days) {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function hhmm(minutes) {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

function minutesOf(time) {
  const [hh, mm] = time.split(":").map(Number);
  return hh * 60 + mm;
}

/** The open ranges [startMinute, endMinute] of a weekday from opening_hours ("08:00-12:00,13:00-18:00"). */
function openRanges(settings, weekday) {
  const hours = (settings.opening_hours || {})[WEEKDAY_KEYS[weekday]] || "";
  return hours.replace(/ /g, "").split(",").filter(Boolean).map((part) => part.split("-").map(minutesOf));
}

/**
 * The week view section. ``groups``: the room's groups; ``settings``: /api/v1/booking/settings;
 * ``onChange``: called after a booking was made (admin.js reloads its lists).
 */
export function weekSection(groups, settings, onChange) {
  let monday = shownMonday || mondayOf(wallClock(new Date(roomNow()).toISOString()).date);
  const grid = h("div", { class: "week-grid", "data-testid": "week-grid" });
  const title = h("span", { class: "week-title", "data-testid": "week-title" });
  const form = h("div", { class: "week-form", "data-testid": "week-form" });
  const section = h("section", { class: "week", "data-testid": "week" },
    h("h2", {}, t(TEXT.week)),
    h("div", { class: "row" },
      h("button", { onclick: () => { monday = addDays(monday, -7); draw(); }, "data-testid": "week-previous" }, t(TEXT.previous)),
      h("button", { onclick: () => { monday = mondayOf(wallClock(new Date(roomNow()).toISOString()).date); draw(); } }, t(TEXT.today)),
      h("button", { onclick: () => { monday = addDays(monday, 7); draw(); }, "data-testid": "week-next" }, t(TEXT.next)),
      title),
    h("p", { class: "muted" }, t(TEXT.help)),
    form, grid);

  function openForm(date, minute) {
    const group = h("select", { "data-testid": "week-group" }, groups.map((g) => h("option", { value: g.id }, g.name)));
    const length = h("input", { type: "number", min: 15, max: 600, step: 15, value: SLOT_MINUTES, "data-testid": "week-minutes" });
    const repeat = h("input", { type: "checkbox", "data-testid": "week-repeat" });
    const weeks = h("input", { type: "number", min: 1, max: 104, value: DEFAULT_WEEKS, "data-testid": "week-weeks" });
    const error = h("div", { class: "error", role: "alert", "data-testid": "week-error" });
    const start = `${date}T${hhmm(minute)}`;
    const submit = async (e) => {
      e.preventDefault();
      error.replaceChildren();
      const minutes = parseInt(length.value, 10);
      try {
        if (repeat.checked) {
          const weekday = WEEKDAY_KEYS[(new Date(`${date}T12:00:00Z`).getUTCDay() + 6) % 7];
          await api("/api/v1/series", { method: "POST", body: {
            group_id: parseInt(group.value, 10), slots: [{ weekday, start: hhmm(minute) }], duration_minutes: minutes,
            first_date: date, weeks: parseInt(weeks.value, 10), allow_partial: true } });
        } else {
          const startIso = roomInstant(start);
          const endIso = new Date(new Date(startIso).getTime() + minutes * 60000).toISOString();
          await api("/api/v1/bookings", { method: "POST", body: { group_id: parseInt(group.value, 10), start: startIso, end: endIso } });
        }
        form.replaceChildren();
        if (onChange) onChange();
        else await draw();
      } catch (err) {
        error.textContent = err.message;
      }
    };
    form.replaceChildren(h("form", { onsubmit: submit },
      h("strong", { "data-testid": "week-form-when" }, `${t(TEXT.bookFor)}: ${day(roomInstant(start))} ${hhmm(minute)}`),
      h("label", {}, t(TEXT.group), group), h("label", {}, t(TEXT.minutes), length),
      h("label", { class: "row tap" }, repeat, t(TEXT.repeat)), h("label", {}, t(TEXT.weeks), weeks),
      h("button", { class: "primary", "data-testid": "week-book" }, t(TEXT.book)),
      h("button", { type: "button", onclick: () => form.replaceChildren() }, t(TEXT.cancel))), error);
  }

  async function draw() {
    shownMonday = monday;
    const start = roomInstant(`${monday}T00:00`);
    const end = roomInstant(`${addDays(monday, 7)}T00:00`);
    const bookings = await api(`/api/v1/bookings?start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}`);
    title.textContent = `${day(start, { day: "numeric", month: "long" })} – ${day(new Date(new Date(end).getTime() - DAY_MS).toISOString(), { day: "numeric", month: "long", year: "numeric" })}`;
    const hours = [];
    for (let hour = FIRST_HOUR; hour < LAST_HOUR; hour += 1) hours.push(hour);
    const rows = LAST_HOUR - FIRST_HOUR;
    grid.style.gridTemplateRows = `auto repeat(${rows}, var(--week-row))`;
    const cells = [h("div", { class: "corner" })];
    for (let d = 0; d < 7; d += 1) {
      const date = addDays(monday, d);
      cells.push(h("div", { class: "day-head", style: `grid-column:${d + 2}` }, day(roomInstant(`${date}T12:00`), { weekday: "short", day: "numeric", month: "short" })));
    }
    hours.forEach((hour, i) => cells.push(h("div", { class: "hour-label", style: `grid-row:${i + 2}` }, hhmm(hour * 60))));
    for (let d = 0; d < 7; d += 1) {
      const date = addDays(monday, d);
      const open = openRanges(settings, d);
      hours.forEach((hour, i) => {
        const minute = hour * 60;
        const isOpen = open.some(([a, b]) => minute >= a && minute + SLOT_MINUTES <= b);
        const cellStart = new Date(roomInstant(`${date}T${hhmm(minute)}`)).getTime();
        const taken = bookings.some((b) => {
          const s = new Date(b.start).getTime(), e = new Date(b.end).getTime();
          return s < cellStart + SLOT_MINUTES * 60000 && e > cellStart;
        });
        const place = `grid-column:${d + 2};grid-row:${i + 2}`;
        if (!isOpen) cells.push(h("div", { class: "slot closed", style: place, title: t(TEXT.closed) }));
        else if (cellStart + SLOT_MINUTES * 60000 <= roomNow()) cells.push(h("div", { class: "slot past", style: place }));
        else if (taken) cells.push(h("div", { class: "slot taken", style: place }));
        else cells.push(h("button", { class: "slot free", style: place, "data-testid": `slot-${date}-${hhmm(minute)}`,
          "aria-label": `${t(TEXT.bookFor)} ${day(roomInstant(`${date}T12:00`))} ${hhmm(minute)}`, onclick: () => openForm(date, minute) }));
      });
    }
    for (const b of bookings) {
      const from = wallClock(b.start), to = wallClock(b.end);
      const d = Math.round((new Date(`${from.date}T12:00:00Z`) - new Date(`${monday}T12:00:00Z`)) / DAY_MS);
      if (d < 0 || d > 6) continue;
      const top = Math.max(minutesOf(from.time) - FIRST_HOUR * 60, 0);
      const bottom = to.date === from.date ? Math.min(minutesOf(to.time) - FIRST_HOUR * 60, rows * 60) : rows * 60;
      if (bottom <= 0 || top >= rows * 60) continue;
      cells.push(h("div", {
        class: `booking status-${b.status}`, "data-testid": "week-booking",
        style: `grid-column:${d + 2};grid-row:${2 + Math.floor(top / 60)};margin-top:calc(var(--week-row) * ${(top % 60) / 60});height:calc(var(--week-row) * ${(bottom - top) / 60} - 2px)`,
        title: `${b.group} ${clock(b.start)}–${clock(b.end)} · ${word("booking", b.status)}`,
      }, h("span", { class: "when" }, `${clock(b.start)}–${clock(b.end)}`), h("strong", {}, b.group)));
    }
    grid.replaceChildren(...cells);
  }

  draw().catch((err) => grid.replaceChildren(h("p", { class: "error" }, err.message)));
  return section;
}
