"""Networked readers prove who they are: a reader token speaks for one named reader, floods never lock the door's own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roomctl.access.events import Tap
from roomctl.access.guard import HOLD_WINDOW_SECONDS, NETWORK_LOCKOUT_FACTOR
from roomctl.api.app import create_app
from roomctl.api.tokens import create_token
from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.demo import DEMO_MEMBERS, seed
from roomctl.runtime import build_room
from tests.conftest import role_tokens

START = datetime(2027, 3, 1, 9, 5, tzinfo=UTC)
TAPS = 4


@pytest.fixture
def door(make_settings: Any) -> Iterator[tuple[TestClient, Any, dict[str, str], ManualClock]]:
    settings: Settings = make_settings(door={"lockout_denied_taps": TAPS})
    clock = ManualClock(START)
    room = build_room(settings, clock)
    seed(room)
    with TestClient(create_app(room)) as client:
        tokens = role_tokens(room)
        tokens["lobby"] = create_token(room.db, "reader", label="lobby", now=clock.now(), reader="lobby")[1]
        yield client, room, tokens, clock


def _tap(client: TestClient, token: str, uid: str, **extra: Any) -> Any:
    return client.post("/api/v1/door/taps", json={"uid": uid, **extra}, headers={"Authorization": f"Bearer {token}"})


def test_a_reader_tokens_taps_are_its_own_readers_and_answer_no_name(door: Any) -> None:
    client, room, tokens, _clock = door
    granted = _tap(client, tokens["lobby"], DEMO_MEMBERS[0][1])
    assert granted.status_code == 200, granted.text
    assert granted.json() == {"granted": True, "reason": "member", "reader": "net:lobby"}
    assert DEMO_MEMBERS[0][0] not in granted.text
    before = room.db.execute("select count(*) from audit").fetchone()[0]
    other = _tap(client, tokens["lobby"], DEMO_MEMBERS[1][1], reader="kelder")
    assert other.status_code == 422 and other.json()["field"] == "reader"
    as_door = _tap(client, tokens["admin"], DEMO_MEMBERS[1][1], reader=room.settings.reader.name)
    assert as_door.status_code == 422 and "door's own reader" in as_door.json()["detail"]
    assert room.db.execute("select count(*) from audit").fetchone()[0] == before, "refused taps change nothing"
    readers = {r[0] for r in room.db.execute("select reader from audit where kind = 'tap'")}
    assert readers == {"net:lobby"}


async def _physical_tap(room: Any, uid: str) -> Any:
    return await room.dispatch(Tap(source="simulated", uid=uid, reader=room.settings.reader.name))


def test_a_network_flood_under_many_names_trips_the_network_lockout_but_never_the_door(door: Any) -> None:
    client, room, tokens, clock = door
    flood = TAPS * NETWORK_LOCKOUT_FACTOR
    for i in range(flood):  # every reader name used once: per-reader lockout alone would never trip
        answer = _tap(client, tokens["admin"], f"04EE00{i:02X}AABBCC", reader=f"made-up-{i}").json()
        assert answer["reason"] == "unknown", answer
    locked = _tap(client, tokens["lobby"], DEMO_MEMBERS[0][1]).json()
    assert (locked["granted"], locked["reason"]) == (False, "locked_out"), "all networked readers are locked out"
    clock.advance(HOLD_WINDOW_SECONDS + 1)
    decision = client.portal.call(_physical_tap, room, DEMO_MEMBERS[0][1])  # type: ignore[attr-defined]
    assert decision.granted and decision.reason.value == "member", "the door's own reader keeps deciding"
    alarms = client.get("/api/v1/alarms", headers={"Authorization": f"Bearer {tokens['admin']}"}).json()
    assert ("lockout", "network", True) in {(a["kind"], a["reader"], a["active"]) for a in alarms}
    assert all(a["reader"] != room.settings.reader.name for a in alarms)


def test_token_cli_binds_readers_and_groups_and_lists_expiry_and_binding(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from roomctl.cli import cli
    from roomctl.store import open_database

    config = tmp_path / "roomctl.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    runner = CliRunner()
    made = runner.invoke(cli, ["token", "create", "-c", str(config), "--role", "reader", "--reader", "lobby",
                               "--expires-hours", "24"])  # fmt: skip
    assert made.exit_code == 0, made.output
    unbound = runner.invoke(cli, ["token", "create", "-c", str(config), "--role", "reader"])
    assert unbound.exit_code != 0 and "--reader" in unbound.output
    mimic = runner.invoke(cli, ["token", "create", "-c", str(config), "--role", "reader", "--reader", "door"])
    assert mimic.exit_code != 0 and "door's own reader" in mimic.output
    listed = runner.invoke(cli, ["token", "list", "-c", str(config)])
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if " reader " in line)
    assert "reader=lobby" in row and "active" in row and "never" not in row
    db = open_database(tmp_path / "data" / "roomctl.db")
    trail = [r[0] for r in db.execute("select action from admin_audit")]
    assert trail == ["token create"], "the CLI's token changes are audited too"
