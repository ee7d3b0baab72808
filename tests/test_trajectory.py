"""The personal trajectory: composed by the member, progress in minutes against the agreed time (a week over
it says so), proposals they took part in, suggested learning needs, a member in two groups, and the
Talentontwikkelgesprek report that holds only minutes and proposal titles. Only the member sees it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roomctl.api.app import create_app
from roomctl.api.tokens import create_token, verify_token
from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.core.room import Room
from roomctl.demo import seed
from roomctl.errors import NotFoundError, StateError, ValidationError
from roomctl.runtime import build_room
from roomctl.session.service import SessionService
from roomctl.trajectory.service import TrajectoryService
from tests.conftest import role_tokens
from tests.session_helpers import START, arrive, command, group_id, member_ids, running_room
from tests.weeks_helpers import accept, draft_proposal

REPORT_KEYS = {"member", "starts_on", "ends_on", "weeks", "used_minutes", "agreed_minutes", "proposals"}


def trajectories(room: Room) -> TrajectoryService:
    service: TrajectoryService = room.service(TrajectoryService)
    return service


async def attended(room: Room, clock: ManualClock, member: int | None, minutes: float) -> int:
    """A session of the demo group that ``member`` attends from its start (``None``: nobody taps in)."""
    session_id = await room.service(SessionService).begin(group_id(room), None, clock.now())
    if member is not None:
        await arrive(room, member)
    clock.advance(minutes * 60)
    await command(room, "end")
    return session_id


async def test_a_member_composes_a_trajectory_and_sees_minutes_against_agreed(settings: Settings) -> None:
    clock = ManualClock(START)  # Monday 2 March 2026, 10:00 in Amsterdam
    async with running_room(settings, clock) as room:
        anna = member_ids(room)[0]
        service = trajectories(room)
        assert service.view(anna)["trajectory"] is None
        with pytest.raises(NotFoundError, match="not composed"):
            service.report(anna)
        view = service.save(anna, {"starts_on": "2026-03-04", "weeks": 20, "minutes_per_week": 60,
                                   "questions": ["q6", "q2"], "wishes": "Een e-learning over   feedback"})  # fmt: skip
        saved = view["trajectory"]
        assert saved["starts_on"] == "2026-03-02", "a trajectory starts on the Monday of its first week"
        assert saved["questions"] == ["q2", "q6"] and saved["wishes"] == "Een e-learning over feedback"
        assert saved["ends_on"] == "2026-07-20"

        first = await attended(room, clock, anna, 60)
        proposal = draft_proposal(room, first, "Feedbackrondes invoeren", learning_needs=["Feedback geven", "Coachen"])
        accept(room, proposal)
        clock.advance(3600)
        await attended(room, clock, anna, 30)  # week 1: 90 minutes used, 60 agreed
        clock.advance(86400)
        other = await attended(room, clock, None, 45)  # a session Anna missed
        accept(room, draft_proposal(room, other, "Zonder Anna", learning_needs=["Plannen", "coachen"]))
        clock.set(START + timedelta(weeks=1))
        await attended(room, clock, anna, 45)  # week 2

        view = service.view(anna)
        progress = view["progress"]
        assert [(w["week"], w["used_minutes"], w["agreed_minutes"]) for w in progress["weeks"]] == [
            ("2026-W10", 90, 60), ("2026-W11", 45, 60)]  # fmt: skip
        assert progress["used_minutes"] == 135 and progress["agreed_minutes"] == 120
        assert progress["agreed_total_minutes"] == 20 * 60
        assert progress["weeks"][0]["over_minutes"] == 30 and progress["weeks"][1]["over_minutes"] == 0
        assert "2026-W10 (+30 min)" in progress["notice"]["nl"] and "leidinggevende" in progress["notice"]["nl"]
        assert [p["title"] for p in progress["proposals"]] == ["Feedbackrondes invoeren"]
        assert view["suggested_needs"] == ["Plannen", "coachen", "Feedback geven"], "newest proposal first, no repeats"
        assert not any(k in str(view) for k in ("percent", "score", "completion"))

        service.save(anna, {"learning_needs": ["Coachen", " Feedback  geven "]})
        assert service.view(anna)["suggested_needs"] == ["Plannen"], "needs already chosen are not suggested again"

        report = service.report(anna)
        assert set(report) == REPORT_KEYS
        assert report["proposals"] == ["Feedbackrondes invoeren"]
        assert report["used_minutes"] == 135 and report["agreed_minutes"] == 120
        assert all(set(w) == {"week", "used_minutes", "agreed_minutes"} for w in report["weeks"])
        text = str(report)
        for private in ("feedback geven", "Coachen", "e-learning", "rooster", "Balie", "q2"):
            assert private.lower() not in text.lower(), f"{private!r} must not be in the report"


async def test_a_member_in_two_groups_chooses_the_group_and_bad_input_changes_nothing(settings: Settings) -> None:
    clock = ManualClock(START)
    async with running_room(settings, clock) as room:
        repo = BookingRepository(room.db)
        anna = member_ids(room)[0]
        service = trajectories(room)
        service.save(anna, {"weeks": 10, "minutes_per_week": 90})
        second = repo.add_group("Tweede groep", [anna], now=clock.now())
        with pytest.raises(ValidationError, match="choose the group"):
            service.store.save(anna, {"group_id": None}, START.date())
        with pytest.raises(ValidationError, match="one of your groups"):
            service.save(anna, {"group_id": 999})
        for bad in ({"weeks": 0}, {"weeks": 500}, {"minutes_per_week": -5}, {"starts_on": "morgen"},
                    {"questions": ["q42"]}, {"learning_needs": "alles"}, {"wishes": "x" * 2000}):  # fmt: skip
            with pytest.raises((ValidationError, NotFoundError)):
                service.save(anna, bad)
        stored = service.view(anna)["trajectory"]
        assert stored["weeks"] == 10 and stored["minutes_per_week"] == 90 and stored["group_id"] == group_id(room)
        assert service.save(anna, {"group_id": second.id})["trajectory"]["group_id"] == second.id
        loner = repo.add_member("Los Lid", now=clock.now())
        with pytest.raises(StateError, match="not in a group"):
            service.save(loner.id, {"weeks": 4})


@pytest.fixture
def client(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    room = build_room(settings)
    seed(room)
    tokens = role_tokens(room)
    repo = BookingRepository(room.db)
    anna, bert = [m.id for m in repo.members()][:2]
    now = room.clock.now()
    tokens["anna"] = create_token(room.db, "member", label="anna", now=now, member_id=anna)[1]
    tokens["bert"] = create_token(room.db, "member", label="bert", now=now, member_id=bert)[1]
    with TestClient(create_app(room)) as test_client:
        yield test_client, tokens


def call(client: tuple[TestClient, dict[str, str]], method: str, path: str, who: str, **kwargs: Any) -> Any:
    test_client, tokens = client
    return test_client.request(method, path, headers={"Authorization": f"Bearer {tokens[who]}"}, **kwargs)


def test_only_the_member_sees_their_trajectory_over_http(client: tuple[TestClient, dict[str, str]]) -> None:
    saved = call(client, "PUT", "/api/v1/trajectory/me", "anna", json={"weeks": 12, "minutes_per_week": 120, "questions": ["q1"]})
    assert saved.status_code == 200, saved.text
    assert call(client, "GET", "/api/v1/trajectory/me", "anna").json()["trajectory"]["weeks"] == 12
    assert call(client, "GET", "/api/v1/trajectory/me", "bert").json()["trajectory"] is None, "Bert sees only his own"
    for role in ("admin", "facilitator", "facilities", "kiosk"):
        assert call(client, "GET", "/api/v1/trajectory/me", role).status_code == 403
    assert call(client, "GET", "/api/v1/trajectory/me", "member").status_code == 404  # a member token bound to no one
    bad = call(client, "PUT", "/api/v1/trajectory/me", "anna", json={"weeks": 0})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert set(call(client, "GET", "/api/v1/trajectory/me/report", "anna").json()) == REPORT_KEYS

    member_id = call(client, "GET", "/api/v1/trajectory/me", "anna").json()["member"]["id"]
    link = call(client, "POST", f"/api/v1/members/{member_id}/trajectory-link", "admin")
    assert link.status_code == 201 and link.headers["cache-control"] == "no-store"
    url = link.json()["url"]
    assert "/trajectory#token=" in url
    room = client[0].app.state.room  # type: ignore[attr-defined]
    principal = verify_token(room.db, url.split("#token=")[1], now=room.clock.now())
    assert principal is not None and principal.member_id == member_id and principal.role.value == "member"
    assert call(client, "POST", f"/api/v1/members/{member_id}/trajectory-link", "facilitator").status_code == 403
    page = client[0].get("/trajectory")
    assert page.status_code == 200 and "traject" in page.text.lower()
