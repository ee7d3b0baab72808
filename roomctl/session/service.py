"""Running sessions: started by the first granted tap, steered from the tablet, persisted on every change.

After a restart the open session is read back and resumes at the same step with the right remaining time:
the state stores when the step started, so the time the service was down counts as time spent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any

from roomctl.access.events import AccessGranted
from roomctl.booking.repository import BookingRepository
from roomctl.core.room import Room
from roomctl.errors import NotFoundError, StateError, ValidationError
from roomctl.session.events import PhaseChanged, SessionCommand, StepTimer
from roomctl.session.kader import KaderStore
from roomctl.session.machine import WARNING_SECONDS, SessionState, plan_from_videoframe
from roomctl.session.videoframes import Videoframe, VideoframeLibrary

log = logging.getLogger(__name__)

COMMANDS = frozenset({"next", "previous", "goto", "pause", "resume", "extend", "end"})
"""Commands that move the session; clip commands are handled by the player part."""
MAX_EXTEND_MINUTES = 60


class SessionService:
    """Owns the running session."""

    name = "session"

    def __init__(self, room: Room) -> None:
        self.room = room
        self.repo = BookingRepository(room.db)
        self.library = VideoframeLibrary(room.settings.storage.data_dir)
        self.kader = KaderStore(room.db)
        self.session_id: int | None = None
        self.state: SessionState | None = None
        self.group_id: int | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._videoframe: asyncio.Future[Videoframe] | None = None
        room.on(AccessGranted, self._on_granted)
        room.on(SessionCommand, self.on_command)
        room.on(StepTimer, self._on_timer)

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Prepare the videoframe off the loop (first use generates its clips) and resume an open session."""
        self._videoframe = asyncio.ensure_future(asyncio.to_thread(self.library.default))
        rows = list(self.room.db.query("select * from sessions where ended_at is null order by id desc limit 1"))
        if rows:
            row = rows[0]
            self.session_id, self.group_id = row["id"], row["group_id"]
            self.state = SessionState.from_json(json.loads(row["state"]))
            log.info("resumed session %s at step %d", self.session_id, self.state.index)
            self._after_change(phase_changed=True)
        else:
            self._publish()

    async def stop(self) -> None:
        """Cancel timers; the state is already persisted."""
        self._cancel_timers()
        if self._videoframe is not None and not self._videoframe.done():
            await asyncio.gather(self._videoframe, return_exceptions=True)

    # -- handlers -------------------------------------------------------------------------------------------

    async def _on_granted(self, event: AccessGranted) -> None:
        now = self.room.clock.now()
        if self.state is None and event.group_id is not None:
            await self.begin(event.group_id, event.booking_id, now)
        if self.session_id is not None and event.member_id is not None:
            with self.room.db.atomic():
                self.room.db.execute(
                    "insert or ignore into session_presence (session_id, member_id, first_seen_at) values (?, ?, ?)",
                    [self.session_id, event.member_id, now.isoformat()],
                )
            self._publish()

    async def begin(self, group_id: int, booking_id: int | None, now: datetime) -> int:
        """Start a session for a group with the room's videoframe; returns its id."""
        if self._videoframe is None:
            raise StateError("the session service has not started")
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
        self.session_id, self.group_id, self.state = session_id, group_id, state
        log.info("session %d started for group %d", session_id, group_id)
        self._after_change(phase_changed=True)
        return session_id

    def on_command(self, event: SessionCommand) -> dict[str, Any]:
        """Apply a tablet command; answers the new session view.

        Raises:
            StateError: No session runs, or the command does not fit the current step.
            ValidationError: Unknown command or bad arguments.
        """
        if event.command not in COMMANDS:
            raise ValidationError(f"unknown command {event.command!r}; use one of: {', '.join(sorted(COMMANDS))}")
        if self.state is None:
            raise StateError("no session is running; a group member starts one by tapping their badge")
        now = self.room.clock.now()
        before = self.state
        match event.command:
            case "next":
                after = before.next(now)
            case "previous":
                after = before.previous(now)
            case "goto":
                after = before.goto(self._int_arg(event.args, "index", 0, len(before.plan) - 1), now)
            case "pause":
                after = before.pause(now)
            case "resume":
                after = before.resume(now)
            case "extend":
                after = before.extend(self._int_arg(event.args, "minutes", 1, MAX_EXTEND_MINUTES), now)
            case _:
                after = before.end(now)
        self.state = after
        self._after_change(phase_changed=after.index != before.index or after.ended)
        view: dict[str, Any] = self.room.screen.get("session") or {"phase": "ended"}
        return view

    def _on_timer(self, event: StepTimer) -> None:
        if self.state is None or event.session_id != self.session_id or event.index != self.state.index:
            return
        self._publish()

    # -- helpers --------------------------------------------------------------------------------------------

    @staticmethod
    def _int_arg(args: dict[str, Any], name: str, low: int, high: int) -> int:
        value = args.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValidationError(f"{name} must be a whole number from {low} to {high}")
        return value

    def _persist(self) -> None:
        assert self.state is not None and self.session_id is not None
        now = self.room.clock.now()
        with self.room.db.atomic():
            self.room.db.execute(
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
        session_id = self.session_id
        if phase_changed:
            step = self.state.step
            self.room.post(PhaseChanged(source="session", phase=self.state.phase, scene=step.scene, session_id=session_id))
        if self.state.ended:
            log.info("session %s ended", session_id)
            self._cancel_timers()
            self.state, self.session_id, self.group_id = None, None, None
            self.room.post(PhaseChanged(source="session", phase="idle", scene="leave", session_id=session_id))
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
            self.room.screen.set("session", None)
            self.room.status.set("phase", {"name": "idle", "session_id": None})
            return
        view = self.state.view(self.room.clock.now())
        view["step"]["question_texts"] = self._question_texts(self.state.step.questions)
        group = self.repo.group(self.group_id) if self.group_id else None
        view.update({"id": self.session_id, "group": group.name if group else None, "present": self.present()})
        self.room.screen.set("session", view)
        self.room.status.set("phase", {"name": self.state.phase, "session_id": self.session_id})

    def _question_texts(self, ids: tuple[str, ...]) -> list[dict[str, str]]:
        texts = []
        for question_id in ids:
            try:
                question = self.kader.get(question_id)
            except NotFoundError:
                log.warning("step names unknown kader question %s", question_id)
                continue
            texts.append({"id": question.id, "nl": question.nl, "en": question.en})
        return texts

    def current(self) -> dict[str, Any] | None:
        """The running session's view, or ``None``."""
        view: dict[str, Any] | None = self.room.screen.get("session")
        return view
