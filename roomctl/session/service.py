"""Running sessions: started by the first granted tap, steered from the tablet, persisted on every change.

After a restart the open session is read back and resumes at the same step with the right remaining time:
the state stores when the step started, so the time the service was down counts as time spent (a break whose
time ran out meanwhile moves on at once).

Transitions: a group's first granted tap starts a session (idle → arrival); the tablet's commands
(:data:`COMMANDS`); step timers (a warning :data:`~roomctl.session.machine.WARNING_SECONDS` before the end; at
the end a break moves on, other steps show overtime); and the player's reports (the end of a clip, see
:mod:`roomctl.session.machine` for which steps it ends).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from roomctl.access.events import AccessGranted
from roomctl.booking.repository import BookingRepository
from roomctl.booking.service import BookingService
from roomctl.core.room import Room
from roomctl.errors import NotFoundError, StateError, ValidationError
from roomctl.session.choices import SessionChoices
from roomctl.session.cycles import CycleStore
from roomctl.session.events import (
    ClipReport,
    PhaseChanged,
    SessionCommand,
    SessionEnded,
    SessionStarted,
    StepChanged,
    StepTimer,
)
from roomctl.session.kader import KaderStore
from roomctl.session.machine import WARNING_SECONDS, PlanStep, SessionState, auto_advances, plan_from_videoframe
from roomctl.session.pairing import TabletPairing
from roomctl.session.videoframes import Videoframe, VideoframeLibrary
from roomctl.session.vitality import BREAK_KINDS, MAX_BREAK_MINUTES, vitality_step
from roomctl.speech.events import StopRecording
from roomctl.store.db import crash_safe_write

log = logging.getLogger(__name__)

MACHINE_COMMANDS = frozenset({"next", "previous", "goto", "pause", "resume", "extend", "end", "insert_break"})
"""Commands that move the session through its plan."""
CLIP_COMMANDS = frozenset({"play", "pause_clip", "restart_clip"})
"""Commands for the current step's clip."""
QUESTION_COMMANDS = frozenset({"show_question", "hide_question"})
"""Commands that show or hide a kader question on the current step."""
CHOICE_COMMANDS = frozenset({"situation", "problem", "choose", "note"})
"""Commands that record what the group chooses (stored with the session)."""
COMMANDS = MACHINE_COMMANDS | CLIP_COMMANDS | QUESTION_COMMANDS | CHOICE_COMMANDS | {"start"}
"""Every command the session service takes."""
MAX_EXTEND_MINUTES = 60
"""Most minutes one ``extend`` adds."""
REPORT_STATES = frozenset({"playing", "paused", "ended", "error"})
"""What a player report's ``state`` can be."""


GROUP_OF_SESSION_SQL = "select group_id from sessions where id = ?"
"""The group a session (running or past) was held by: :meth:`SessionService.group_of_session` and the routes'
group scope (:data:`roomctl.session.api.session_group`) ask the same."""


def empty_material() -> dict[str, Any]:
    """What :meth:`SessionService.material` answers for a session nothing was chosen in (a fresh dict each time)."""
    return {"work_situation": "", "problem": "", "kader_notes": []}


class SessionService:
    """Owns the running session."""

    name = "session"

    def __init__(self, room: Room) -> None:
        self.room = room
        self.repo = BookingRepository(room.db)
        self.library = VideoframeLibrary(room.settings.storage.data_dir)
        self.kader = KaderStore(room.db, now=room.clock.now)
        self.choices = SessionChoices(room.db, self.kader, room.clock.now)
        self.cycles = CycleStore(room.db, self.kader, room.settings.room.tz, room.clock.now)
        self.pairing = TabletPairing(room, lambda: self.session_id, lambda: (self.group_id, self.booking_id))  # trust: bind tablets
        self.session_id: int | None = None
        self.booking_id: int | None = None
        self.state: SessionState | None = None
        self.group_id: int | None = None
        self.clip_progress: dict[str, Any] | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._videoframe: asyncio.Future[Videoframe] | None = None
        self._screen = room.screen.claim("session", owner=self.name)
        self._phase = room.status.claim("phase", owner=self.name)
        room.on(AccessGranted, self._on_granted)
        room.on(SessionCommand, self.on_command)
        room.on(StepTimer, self._on_timer)
        room.on(ClipReport, self.on_clip_report)

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Prepare the videoframe off the loop (first use generates its clips) and resume an open session."""
        self._videoframe = asyncio.ensure_future(asyncio.to_thread(self.library.default))
        self.pairing.start()
        rows = list(self.room.db.query("select * from sessions where ended_at is null order by id desc limit 1"))
        if rows:
            row = rows[0]
            self.session_id, self.group_id, self.booking_id = row["id"], row["group_id"], row["booking_id"]
            self.state = SessionState.from_json(json.loads(row["state"]))
            log.info("resumed session %s at step %d", self.session_id, self.state.index)
            self.room.post(SessionStarted(source="session", session_id=self.session_id, group_id=self.group_id,
                                          booking_id=self.booking_id))  # fmt: skip
            self._after_change(phase_changed=True)
            self.tick()
        else:
            self._publish()

    async def stop(self) -> None:
        """Cancel timers; the state is already persisted."""
        self._cancel_timers()
        self.pairing.stop()
        if self._videoframe is not None and not self._videoframe.done():
            await asyncio.gather(self._videoframe, return_exceptions=True)

    # -- starting -------------------------------------------------------------------------------------------

    async def _on_granted(self, event: AccessGranted) -> None:
        now = self.room.clock.now()
        if self.state is None and event.group_id is not None:
            await self.begin(event.group_id, event.booking_id, now)
        elif self.state is not None and event.group_id not in (None, self.group_id):
            log.info("member %s of group %s came in during group %s's session; it starts when this one ends",
                     event.member_id, event.group_id, self.group_id)  # fmt: skip
            return
        if self.session_id is not None and event.member_id is not None:
            with self.room.db.atomic():
                self.room.db.execute(
                    "insert or ignore into session_presence (session_id, member_id, first_seen_at) values (?, ?, ?)",
                    [self.session_id, event.member_id, now.isoformat()],
                )
            self._publish()

    async def begin(self, group_id: int, booking_id: int | None, now: datetime, videoframe_id: str | None = None) -> int:
        """Start a session for a group with the room's default videoframe (or ``videoframe_id``); returns its id.

        Raises:
            StateError: A session runs already, or the service has not started.
            NotFoundError: ``videoframe_id`` is not installed.
        """
        if self._videoframe is None:
            raise StateError("the session service has not started")
        if self.state is not None:
            raise StateError("a session is already running; end it on the tablet first")
        if videoframe_id is not None:
            videoframe = await asyncio.to_thread(self.library.get, videoframe_id)
        else:
            videoframe = await asyncio.shield(self._videoframe)
        state = SessionState(plan=tuple(plan_from_videoframe(videoframe))).goto(0, now)
        with self.room.db.atomic():
            table = self.room.db.table("sessions")
            table.insert(
                {
                    "booking_id": booking_id,
                    "group_id": group_id,
                    "videoframe_id": videoframe.id,
                    "videoframe_version": videoframe.version,
                    "started_at": now.isoformat(),
                    "ended_at": None,
                    "state": json.dumps(state.to_json()),
                    "updated_at": now.isoformat(),
                }
            )
            session_id = int(table.last_pk)  # type: ignore[arg-type]
            self.cycles.attach_session(group_id, session_id, now)  # the week's choices (issue 19)
        self.session_id, self.group_id, self.booking_id, self.state = session_id, group_id, booking_id, state
        self.clip_progress = None
        log.info("session %d started for group %d", session_id, group_id)
        self.room.post(SessionStarted(source="session", session_id=session_id, group_id=group_id, booking_id=booking_id))
        self.pairing.session_started(session_id, group_id, booking_id)  # trust: idle-paired tablets join this group
        self._after_change(phase_changed=True)
        return session_id

    async def _start_command(self, args: dict[str, Any]) -> dict[str, Any]:
        """``start``: from idle, a session for ``group_id`` (default: the group of the booking running now).

        ``videoframe`` names an installed videoframe (default: the shipped one).
        """
        if self.state is not None:
            raise StateError("a session is already running; use next to move on, or end it first")
        bookings = self.room.find_service(BookingService)
        booking = bookings.current(self.room.clock.now()) if bookings else None
        group_id = args.get("group_id", booking.group_id if booking else None)
        if group_id is None:
            raise StateError("no booking runs now; give group_id to start a session for a group")
        if not isinstance(group_id, int) or isinstance(group_id, bool):
            raise ValidationError("group_id must be a group's id (a whole number)", field="group_id")
        videoframe = args.get("videoframe")
        if videoframe is not None and not isinstance(videoframe, str):
            raise ValidationError("videoframe must be an installed videoframe's id", field="videoframe")
        self.repo.group(group_id)
        booking_id = booking.id if booking and booking.group_id == group_id else None
        await self.begin(group_id, booking_id, self.room.clock.now(), videoframe)
        return self.current() or {"phase": "idle"}

    # -- commands -------------------------------------------------------------------------------------------

    async def on_command(self, event: SessionCommand) -> dict[str, Any]:
        """Apply a tablet command; answers the new session view. Nothing changes when it is refused.

        Raises:
            StateError: No session runs, or the command does not fit the current step.
            ValidationError: Unknown command or bad arguments.
        """
        if event.command not in COMMANDS:
            raise ValidationError(f"unknown command {event.command!r}; use one of: {', '.join(sorted(COMMANDS))}")
        if event.command == "start":
            return await self._start_command(event.args)
        if self.state is None or self.session_id is None:
            raise StateError("no session is running; a group member starts one by tapping their badge")
        if event.command in CHOICE_COMMANDS:
            self.choices.apply(self.session_id, event.command, event.args)
            self._publish()
            return self.current() or {"phase": "idle"}
        now = self.room.clock.now()
        before = self.state
        args = event.args
        match event.command:
            case "next":
                after = before.next(now)
            case "previous":
                after = before.previous(now)
            case "goto":
                after = before.goto(self._int_arg(args, "index", 0, len(before.plan) - 1), now)
            case "pause":
                after = before.pause(now)
            case "resume":
                after = before.resume(now)
            case "insert_break":
                after = before.insert_step(self._break_arg(args), now)
            case "extend":
                minutes = self._int_arg(args, "minutes", 1, MAX_EXTEND_MINUTES)
                after = before.extend(minutes, now)
                self._with_booking(lambda service, booking_id: service.extend(booking_id, minutes, now))
            case "play":
                after = before.play_clip()
            case "pause_clip":
                after = before.pause_clip()
            case "restart_clip":
                after = before.restart_clip()
            case "show_question":
                after = before.show_question(self._question_arg(args))
            case "hide_question":
                after = before.hide_question(self._question_arg(args))
            case _:
                after = before.end(now)
                self._with_booking(lambda service, booking_id: service.end_early(booking_id, now))
        self.state = after
        if after.clip_restart != before.clip_restart:
            self.clip_progress = None
        self._after_change(phase_changed=after.index != before.index or after.ended)
        return self.current() or {"phase": "ended", "session_id": event.args.get("session_id")}

    def _with_booking(self, change: Callable[[BookingService, int], object]) -> None:
        """Extend or end the session's booking too, through :class:`BookingService`.

        A ``ConflictError`` (the room is not free after the booking) is passed on: the session then stays as
        it was. A booking that is no longer running (``StateError``, e.g. the session ran over its slot) is
        left as it is and the session goes on.
        """
        service = self.room.find_service(BookingService)
        if self.booking_id is None or service is None:
            return
        try:
            change(service, self.booking_id)
        except StateError as exc:
            log.info("booking %s not changed: %s", self.booking_id, exc.detail)

    def _question_arg(self, args: dict[str, Any]) -> str:
        question = args.get("question")
        if not isinstance(question, str):
            raise ValidationError("question must be a kader question id such as q3", field="question")
        self.kader.get(question)
        return question

    def _break_arg(self, args: dict[str, Any]) -> PlanStep:
        kind = args.get("kind", "movement")
        if kind not in BREAK_KINDS:
            raise ValidationError(f"kind must be one of {', '.join(sorted(BREAK_KINDS))}", field="kind")
        minutes = self._int_arg({"minutes": args.get("minutes", BREAK_KINDS[kind].minutes)}, "minutes", 1, MAX_BREAK_MINUTES)
        assert self.state is not None
        return vitality_step(kind, minutes, len(self.state.plan))

    @staticmethod
    def _int_arg(args: dict[str, Any], name: str, low: int, high: int) -> int:
        value = args.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValidationError(f"{name} must be a whole number from {low} to {high}", field=name)
        return value

    # -- clips and timers -----------------------------------------------------------------------------------

    def on_clip_report(self, event: ClipReport) -> dict[str, Any]:
        """A player report: keeps the position, and acts on the end (or failure) of the clip on screen.

        Reports about another step, clip or start (an out-of-date ``restart``) are dropped: answered with
        ``accepted: false`` and nothing changes.

        Raises:
            ValidationError: ``state`` is not one of :data:`REPORT_STATES`.
        """
        if event.state not in REPORT_STATES:
            raise ValidationError(f"state must be one of {', '.join(sorted(REPORT_STATES))}", field="state")
        state = self.state
        if state is None or not state.is_current_clip(event.step, event.clip, event.restart):
            return {"accepted": False, "reason": "the report is not about the clip on screen now"}
        self.clip_progress = {
            "state": event.state, "position_ms": event.position_ms, "length_ms": event.length_ms,
            "error": event.error, "restart": event.restart,
        }  # fmt: skip
        if event.state in ("ended", "error"):
            if event.state == "error":
                log.warning("the player could not play %s: %s", event.clip, event.error)
            self.state = state.clip_finished(self.room.clock.now())
            self._after_change(phase_changed=self.state.index != state.index or self.state.ended)
        else:
            self._publish()
        return {"accepted": True, "clip_state": self.state.clip_state if self.state else None}

    def _on_timer(self, event: StepTimer) -> None:
        if self.state is None or event.session_id != self.session_id or event.index != self.state.index:
            return
        self.tick()

    def tick(self) -> None:
        """Check the step against the clock: a break whose time is up moves on; others re-publish.

        Timers call this (warning, end); so can anyone who moved the clock.
        """
        if self.state is None or self.state.ended:
            return
        now = self.room.clock.now()
        if self.state.paused_at is None and self.state.remaining(now) <= 0 and auto_advances(self.state.step):
            before = self.state
            self.state = before.next(now)
            log.info("session %s: break over, on to step %d", self.session_id, self.state.index)
            self._after_change(phase_changed=True)
            return
        self._publish()

    # -- helpers --------------------------------------------------------------------------------------------

    def _persist(self) -> None:
        """Store the state: every step change without waiting for the disk (see ``crash_safe_write``), the end fully."""
        assert self.state is not None and self.session_id is not None
        now = self.room.clock.now()
        db = self.room.db
        with db.atomic() if self.state.ended else crash_safe_write(db):
            db.execute(
                "update sessions set state = ?, updated_at = ?, ended_at = ? where id = ?",
                [
                    json.dumps(self.state.to_json()),
                    now.isoformat(),
                    self.state.ended_at.isoformat() if self.state.ended_at else None,
                    self.session_id,
                ],
            )

    def _after_change(self, *, phase_changed: bool) -> None:
        assert self.state is not None
        self._persist()
        self._schedule_timers()
        session_id, group_id, booking_id = self.session_id, self.group_id, self.booking_id
        assert session_id is not None and group_id is not None
        if phase_changed:
            step = self.state.step
            self.room.post(PhaseChanged(source="session", phase=self.state.phase, scene=step.scene, session_id=session_id))
            if not self.state.ended:
                self.room.post(
                    StepChanged(
                        source="session", session_id=session_id, group_id=group_id, booking_id=booking_id,
                        index=self.state.index, step_id=step.id, kind=step.kind,
                        question_id=step.questions[0] if step.questions else None,
                    )
                )  # fmt: skip
        if self.state.ended:
            log.info("session %s ended", session_id)
            self._cancel_timers()
            self.state, self.session_id, self.group_id, self.booking_id = None, None, None, None
            self.clip_progress = None
            self.room.post(StopRecording(source="session", reason="the session ended"))
            self.room.post(PhaseChanged(source="session", phase="idle", scene="leave", session_id=session_id))
            self.room.post(SessionEnded(source="session", session_id=session_id, group_id=group_id, booking_id=booking_id))
            self.pairing.session_ended(session_id)
        self._publish()

    def _cancel_timers(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    def _schedule_timers(self) -> None:
        self._cancel_timers()
        if self.state is None or self.state.ended or self.state.paused_at is not None or self.session_id is None:
            return
        remaining = self.state.remaining(self.room.clock.now())
        for moment, delay in (("warning", remaining - WARNING_SECONDS), ("end", remaining)):
            if delay > 0:
                event = StepTimer(source="timer", session_id=self.session_id, index=self.state.index, moment=moment)
                self._timers.append(self.room.post_later(delay, event))

    def present(self) -> list[dict[str, Any]]:
        """Members seen at the door during the running session."""
        if self.session_id is None:
            return []
        rows = self.room.db.query(
            "select m.id, m.name from session_presence p join members m on m.id = p.member_id "
            "where p.session_id = ? order by p.first_seen_at",
            [self.session_id],
        )
        return [{"id": r["id"], "name": r["name"]} for r in rows]

    def _publish(self) -> None:
        if self.state is None or self.session_id is None:
            self._screen.set(None)
            self._phase.set({"name": "idle", "session_id": None})
            return
        view = self.state.view(self.room.clock.now())
        choices = self.choices.view(self.session_id)
        kader = self.kader.list()  # one read for the step's, the chosen and all questions
        known = {q.id: q for q in kader}
        view["step"]["question_texts"] = self.choices.question_texts(self.state.questions, choices["notes"], known)
        group = self.repo.group(self.group_id) if self.group_id else None
        view.update(
            {
                "id": self.session_id,
                "group": group.name if group else None,
                "present": self.present(),
                "work_situation": choices["work_situation"],
                "problem": choices["problem"],
                "chosen": self.choices.question_texts(tuple(choices["chosen"]), choices["notes"], known),
                "notes": choices["notes"],
                "clip_progress": self.clip_progress,
                "kader": [{"id": q.id, "nl": q.nl, "en": q.en} for q in kader],
            }
        )
        self._screen.set(view)
        self._phase.set({"name": self.state.phase, "session_id": self.session_id})

    def current(self) -> dict[str, Any] | None:
        """The running session's view, or ``None``."""
        view: dict[str, Any] | None = self._screen.get()
        return view

    def group_of_session(self, session_id: int) -> int | None:
        """The group that held session ``session_id`` (running or past); ``None`` for an unknown session."""
        row = self.room.db.execute(GROUP_OF_SESSION_SQL, [session_id]).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def material(self, session_id: int) -> dict[str, Any]:
        """What the group chose on the tablet in session ``session_id`` (empty for an unknown session).

        ``work_situation``, ``problem`` and ``kader_notes``: (question in the room's language, note).
        """
        try:
            return self.choices.material(session_id, self.room.settings.room.language)
        except NotFoundError:
            return empty_material()

    def present_ids(self) -> tuple[int, ...]:
        """Ids of the members seen at the door during the running session (for recording consent)."""
        return tuple(m["id"] for m in self.present())
