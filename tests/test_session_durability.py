"""A kill -9 loses nothing that was answered: the session's step (written without an fsync) and audit entries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from roomctl.store import open_database
from roomctl.store.db import crash_safe_write

KILL_TIMEOUT_SECONDS = 60
COMMANDS = ("next", "next", "next", "previous", "next", "next", "previous", "next")

RUNNER = textwrap.dedent(
    """
    import asyncio, os, sys, time
    os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")
    from roomctl.access.events import Tap
    from roomctl.config import load_settings
    from roomctl.core.clock import ManualClock
    from roomctl.demo import seed
    from roomctl.runtime import build_room
    from roomctl.session.events import SessionCommand
    from roomctl.session.service import SessionService
    from tests.session_helpers import START, group_id

    async def main(data_dir, commands):
        settings = load_settings(None, {"storage": {"data_dir": data_dir}, "mqtt": {"enabled": False},
                                        "llm": {"enabled": False}})
        room = build_room(settings, ManualClock(START))
        seed(room)
        await room.start()
        service = room.service(SessionService)
        await service.begin(group_id(room), None, room.clock.now())
        index = 0
        for n, name in enumerate(commands):
            # a denied tap (an audit entry, synchronous=FULL) between tablet commands (no fsync)
            await room.dispatch(Tap(source="test", uid=f"04DEAD{n:08X}", reader="door"))
            view = await room.dispatch(SessionCommand(source="test", command=name, args={}))
            index = view["index"]
        audit = room.db.execute("select count(*) from audit").fetchone()[0]
        print("ANSWERED", service.session_id, index, audit, flush=True)
        time.sleep(600)

    asyncio.run(main(sys.argv[1], sys.argv[2].split(",")))
    """
)


def test_a_kill_after_the_answer_keeps_the_session_step_and_the_audit_trail(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(data), ",".join(COMMANDS)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    try:
        assert runner.stdout is not None
        line = runner.stdout.readline()
        assert line.startswith("ANSWERED"), f"the runner did not answer: {line!r} {runner.stderr.read() if runner.stderr else ''}"
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=KILL_TIMEOUT_SECONDS)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == -signal.SIGKILL
    session_id, index, audit = (int(v) for v in line.split()[1:])
    assert index == sum(1 if c == "next" else -1 for c in COMMANDS) and audit >= len(COMMANDS)

    db = open_database(data / "roomctl.db")
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    state, ended = db.execute("select state, ended_at from sessions where id = ?", [session_id]).fetchone()
    assert json.loads(state)["index"] == index, "the last answered step survived the kill"
    assert ended is None
    assert db.execute("select count(*) from audit").fetchone()[0] == audit
    db.conn.close()


def test_a_crash_safe_write_skips_only_the_fsync_and_joins_an_open_transaction(tmp_path: Path) -> None:
    db = open_database(tmp_path / "room.db")
    db.execute("create table probe (n integer)")
    with crash_safe_write(db):
        assert db.execute("pragma synchronous").fetchone()[0] == 1  # NORMAL
        db.execute("insert into probe values (1)")
    assert db.execute("pragma synchronous").fetchone()[0] == 2, "FULL again for every other write"
    try:
        with db.atomic():
            db.execute("insert into probe values (2)")
            with crash_safe_write(db):
                assert db.execute("pragma synchronous").fetchone()[0] == 2, "inside a FULL transaction it stays FULL"
                db.execute("insert into probe values (3)")
            raise RuntimeError("roll back the outer transaction")
    except RuntimeError:
        pass
    assert [r[0] for r in db.execute("select n from probe")] == [1], "the inner write went with the outer one"
    db.conn.close()
