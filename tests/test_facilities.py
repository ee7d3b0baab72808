"""Facilities on one room: analytics, the learning-time report, roles, and /metrics, over a known week."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roomctl.api.app import create_app
from roomctl.api.tokens import create_token
from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.runtime import build_room
from tests.facilities_helpers import Week, seed_week

NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
WEEK = {"start": "2026-03-02", "end": "2026-03-08"}


class Client:
    """A TestClient on a room with a seeded week, and a token per role (some bound to members)."""

    def __init__(self, http: TestClient, room: Any, week: Week) -> None:
        self.http = http
        self.room = room
        self.week = week
        self.tokens: dict[str, str] = {}

    def token(self, name: str, role: str, member_id: int | None = None) -> None:
        self.tokens[name] = create_token(self.room.db, role, label=name, now=NOW, member_id=member_id)[1]

    def get(self, who: str, path: str, **params: Any) -> Any:
        return self.http.get(path, params=params, headers={"Authorization": f"Bearer {self.tokens[who]}"})


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    room = build_room(settings, clock=ManualClock(NOW))
    week = seed_week(room.db, NOW)
    with TestClient(create_app(room)) as http:
        c = Client(http, room, week)
        anna, bram, eva, femke = week.members
        for name, role, member in (
            ("admin", "admin", None),
            ("facilities", "facilities", None),
            ("kiosk", "kiosk", None),
            ("tablet", "facilitator", None),
            ("eva", "facilitator", eva),
            ("femke", "facilitator", femke),
            ("anna", "member", anna),
            ("bram", "member", bram),
            ("unbound", "member", None),
        ):
            c.token(name, role, member)
        yield c


def test_utilisation_figures_of_a_known_week(client: Client) -> None:
    response = client.get("facilities", "/api/v1/reports/utilisation", **WEEK)
    assert response.status_code == 200, response.text
    report = response.json()
    summary = report["summary"]
    assert report["empty"] is False
    assert report["period"]["start"] == "2026-03-02T00:00:00+01:00"
    assert report["period"]["end"] == "2026-03-09T00:00:00+01:00"
    assert summary["booked_hours"] == 5.0  # Mon 2 + Wed 2 (released, still booked) + Fri 1; cancelled Thu not
    assert summary["used_hours"] == 3.5  # 105 + 60 + 45 minutes of sessions
    assert summary["walkin_hours"] == 1.0
    assert summary["bookings"] == 3 and summary["walkins"] == 1 and summary["sessions"] == 3
    assert summary["no_shows"] == 1 and summary["no_show_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert summary["released_reused"] == 1 and summary["released_reused_hours"] == 1.0
    assert summary["average_session_minutes"] == 70.0
    assert summary["proposals_validated"] == 1  # the draft and the later verdict do not count
    assert summary["used_share_of_booked"] == 0.7
    heat = report["heatmap"]
    monday, wednesday = 0, 2
    assert heat["used_hours"][monday][9] == pytest.approx(55 / 60, abs=1e-3)
    assert heat["utilisation"][monday][10] == pytest.approx(50 / 60, abs=1e-3)  # one Monday 10:00 in the week
    assert heat["utilisation"][wednesday][14] == pytest.approx(0.5, abs=1e-3)
    assert heat["utilisation"][monday][3] == 0.0
    assert report["per_weekday"][monday]["booked_hours"] == 2.0
    # aggregate only: no names of people or groups, no proposal titles
    text = response.text
    for private in ("Anna", "Bram", "Team Balie", "Minder wachttijd"):
        assert private not in text


def test_utilisation_csv_export(client: Client) -> None:
    response = client.get("admin", "/api/v1/reports/utilisation", format="csv", **WEEK)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    summary_part, heat_part = response.text.split("\n\n")
    summary = dict(csv.reader(io.StringIO(summary_part)))
    assert summary["used_hours"] == "3.5" and summary["no_shows"] == "1" and summary["proposals_validated"] == "1"
    rows = list(csv.DictReader(io.StringIO(heat_part)))
    assert len(rows) == 7 * 24
    monday_ten = next(r for r in rows if r["weekday"] == "mon" and r["hour"] == "10")
    assert float(monday_ten["utilisation"]) == pytest.approx(50 / 60, abs=1e-3)


def test_periods_empty_long_and_invalid(client: Client) -> None:
    empty = client.get("facilities", "/api/v1/reports/utilisation", start="2020-01-01", end="2020-01-31").json()
    assert empty["empty"] is True
    assert empty["summary"]["used_hours"] == 0 and empty["summary"]["no_show_rate"] is None
    assert empty["summary"]["average_session_minutes"] is None
    ten_years = client.get("facilities", "/api/v1/reports/utilisation", start="2016-03-09", end="2026-03-08")
    assert ten_years.status_code == 200
    assert ten_years.json()["summary"]["used_hours"] == 3.5
    assert ten_years.json()["heatmap"]["utilisation"][0][9] < 0.01  # one used Monday in ~520
    for params, words in (
        ({"start": "2010-01-01", "end": "2026-01-01"}, "at most"),
        ({"start": "2026-03-08", "end": "2026-03-01"}, "after its start"),
        ({"start": "yesterday"}, "not a date"),
        ({"start": "2026-02-30"}, "not a date"),
    ):
        response = client.get("facilities", "/api/v1/reports/utilisation", **params)
        assert response.status_code == 422, params
        assert words in response.json()["detail"]
    csv_empty = client.get("facilities", "/api/v1/reports/utilisation", start="2020-01-01", end="2020-01-31", format="csv")
    assert csv_empty.status_code == 200 and "used_hours,0.0" in csv_empty.text


def test_learning_time_for_a_member(client: Client) -> None:
    anna, *_ = client.week.members
    report = client.get("anna", f"/api/v1/reports/learning-time/members/{anna}", **WEEK).json()
    # Mon: seen 09:05 until the end 10:50 = 105; Fri: seen 09:10 until 09:45 = 35
    assert report["used_minutes"] == 140
    assert report["offered_minutes"] == 300  # Mon 120 + Wed 120 (released: offered, not used) + Fri 60
    assert report["used_share"] == pytest.approx(140 / 300, abs=1e-4)
    assert report["sessions"] == 2
    (group,) = report["groups"]
    assert group["name"] == "Team Balie" and group["proposals_validated"] == 1
    assert [p["title"] for p in group["proposals"]] == ["Minder wachttijd aan de balie"]
    assert client.get("anna", "/api/v1/reports/learning-time/me", **WEEK).json()["used_minutes"] == 140
    assert client.get("bram", "/api/v1/reports/learning-time/me", **WEEK).json()["used_minutes"] == 75
    # nothing about what anyone did or said: no transcript, no steps, no session times
    for key in ("transcript", "text", "steps", "started_at", "first_seen_at"):
        assert key not in str(report)


def test_learning_time_for_a_group(client: Client) -> None:
    group = client.week.group
    eva_view = client.get("eva", f"/api/v1/reports/learning-time/groups/{group}", **WEEK).json()
    assert eva_view["session_minutes"] == 150  # 105 + 45
    assert eva_view["member_minutes"] == 215  # 140 + 75
    assert eva_view["offered_minutes"] == 300 and eva_view["member_minutes_offered"] == 600
    assert eva_view["proposals_validated"] == 1 and eva_view["proposals"][0]["title"] == "Minder wachttijd aan de balie"
    assert {m["name"]: m["used_minutes"] for m in eva_view["members"]} == {"Anna": 140, "Bram": 75}
    anna_view = client.get("anna", f"/api/v1/reports/learning-time/groups/{group}", **WEEK).json()
    assert "members" not in anna_view, "a member sees the group's totals, not the others' minutes"
    assert anna_view["member_minutes"] == 215
    empty = client.get("admin", f"/api/v1/reports/learning-time/groups/{group}", start="2020-01-01", end="2020-12-31").json()
    assert empty["empty"] is True and empty["used_share"] is None and empty["proposals"] == []


def test_learning_time_access(client: Client) -> None:
    anna, bram, _eva, femke = client.week.members
    group, other = client.week.group, client.week.other_group
    member_path = "/api/v1/reports/learning-time/members/{}"
    group_path = "/api/v1/reports/learning-time/groups/{}"
    allowed = [
        ("anna", member_path.format(anna)),
        ("eva", member_path.format(anna)),  # Eva facilitates Anna's group
        ("eva", group_path.format(group)),
        ("admin", member_path.format(femke)),
        ("femke", member_path.format(femke)),  # facilitator of a group she is in herself
        ("bram", group_path.format(group)),
    ]
    for who, path in allowed:
        assert client.get(who, path).status_code == 200, (who, path)
    refused = [
        ("anna", member_path.format(bram)),
        ("bram", group_path.format(other)),
        ("femke", member_path.format(anna)),
        ("femke", group_path.format(group)),
        ("tablet", member_path.format(anna)),  # a facilitator token bound to nobody
        ("unbound", member_path.format(anna)),
        ("facilities", member_path.format(anna)),
        ("facilities", group_path.format(group)),
        ("facilities", "/api/v1/reports/learning-time/subjects"),
        ("kiosk", member_path.format(anna)),
    ]
    for who, path in refused:  # a role that may not read reports: 403; a token that does not hold them: 404
        expected = 403 if who in ("facilities", "kiosk") else 404
        assert client.get(who, path).status_code == expected, (who, path)
    assert client.get("admin", member_path.format(999)).status_code == 404
    assert client.get("unbound", "/api/v1/reports/learning-time/me").status_code == 404
    subjects = client.get("eva", "/api/v1/reports/learning-time/subjects").json()
    assert [g["name"] for g in subjects["groups"]] == ["Team Balie"]
    assert {m["name"] for m in subjects["members"]} == {"Anna", "Bram"}
    mine = client.get("anna", "/api/v1/reports/learning-time/subjects").json()
    assert [m["name"] for m in mine["members"]] == ["Anna"]


def test_facilities_staff_never_see_transcripts_proposals_or_attendance(client: Client) -> None:
    session_id = client.room.db.execute("select min(id) from sessions").fetchone()[0]
    proposal_id = client.room.db.execute("select min(id) from proposals").fetchone()[0]
    for path in (
        f"/api/v1/sessions/{session_id}/transcript",
        f"/api/v1/sessions/{session_id}/proposals",
        f"/api/v1/proposals/{proposal_id}",
        f"/api/v1/groups/{client.week.group}/portfolio.md",
        "/api/v1/session",  # who is present now
        f"/api/v1/reports/learning-time/members/{client.week.members[0]}",
    ):
        assert client.get("facilities", path).status_code == 403, path
    rooms = client.get("facilities", "/api/v1/facilities/rooms")
    assert rooms.status_code == 200
    assert "present" not in rooms.text and "Anna" not in rooms.text


def test_metrics_expose_the_figures(client: Client) -> None:
    text = client.http.get("/metrics").text
    assert 'roomctl_room_used_hours{room="room1",site="hq",window="30d"} 3.5' in text
    assert 'roomctl_room_no_show_ratio{room="room1",site="hq",window="30d"} 0.3333' in text
    assert 'roomctl_room_proposals_validated{room="room1",site="hq",window="30d"} 1.0' in text
    assert 'roomctl_room_used_hours{room="room1",site="hq",window="7d"} 1.75' in text  # Wed and Fri, not Monday
    assert 'roomctl_site_rooms{status="booked"}' in text or 'roomctl_site_rooms{status="free"}' in text


def test_cli_creates_member_bound_tokens(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from roomctl.api.tokens import verify_token
    from roomctl.booking.repository import BookingRepository
    from roomctl.cli import cli
    from roomctl.store import open_database

    config = tmp_path / "roomctl.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    db = open_database(tmp_path / "data" / "roomctl.db")
    member = BookingRepository(db).add_member("Anna", now=NOW).id
    runner = CliRunner()
    made = runner.invoke(cli, ["token", "create", "-c", str(config), "--role", "member", "--member", str(member)])
    assert made.exit_code == 0, made.output
    principal = verify_token(db, made.stdout.strip().splitlines()[0], now=NOW)
    assert principal is not None and principal.role == "member" and principal.member_id == member
    unbound = runner.invoke(cli, ["token", "create", "-c", str(config), "--role", "member"])
    assert unbound.exit_code != 0 and "--member" in unbound.output
    unknown = runner.invoke(cli, ["token", "create", "-c", str(config), "--role", "member", "--member", "999"])
    assert unknown.exit_code != 0


def test_facilities_settings_refuse_inconsistent_values(make_settings: Any) -> None:
    from roomctl.errors import ConfigError

    for values, words in (
        ({"heartbeat_seconds": 300, "stale_after_seconds": 120}, "heartbeat_seconds"),
        ({"temperature_min": 30, "temperature_max": 20}, "temperature_min"),
        ({"webhook_url": "ftp://example"}, "webhook_url"),
        ({"co2_limit_ppm": -5}, "co2_limit_ppm"),
    ):
        with pytest.raises(ConfigError) as refused:
            make_settings(facilities=values)
        assert words in refused.value.detail
