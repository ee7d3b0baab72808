"""Every route states who may call it, and answers only the right role."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from roomctl.api.app import create_app, walk_routes
from roomctl.api.roles import Role
from roomctl.api.security import PublicMarker, RoleGuard, declared_access
from roomctl.config import Settings
from roomctl.core.clock import RunningClock
from roomctl.runtime import CAPABILITIES, build_room, capability_name
from tests.conftest import role_tokens

PATH_PARAM = re.compile(r"{([^}:]+)(:[^}]+)?}")


def _fill(path: str) -> str:
    return PATH_PARAM.sub("1", path)


@pytest.fixture
def client_and_tokens(settings: Settings, clock: RunningClock) -> Any:
    room = build_room(settings, clock)
    app = create_app(room)
    with TestClient(app) as client:
        yield app, client, role_tokens(room)


def test_every_route_declares_its_access(client_and_tokens: Any) -> None:
    app, _, _ = client_and_tokens
    undeclared = []
    paths = []
    for path, route in walk_routes(app):
        paths.append(path)
        if isinstance(route, APIRoute | APIWebSocketRoute):
            declared = declared_access(route.dependant)
            if len(declared) != 1:
                undeclared.append(f"{getattr(route, 'methods', {'WS'})} {path}: {declared}")
        elif path not in {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}:
            undeclared.append(f"{path}: not an API route (mounts cannot declare access)")
    assert {"/healthz", "/metrics", "/ws", "/api/v1/door/taps", "/api/v1/session/commands"} <= set(paths)
    assert not undeclared, "routes without exactly one access declaration:\n" + "\n".join(undeclared)


def test_every_endpoint_and_dependency_runs_on_the_rooms_loop(client_and_tokens: Any) -> None:
    # FastAPI runs plain functions in its thread pool: beside the loop, on the room's one sqlite connection,
    # two threads break each other's savepoints ("no such savepoint: sqlite_utils_query" in CI).
    app, _, _ = client_and_tokens
    threaded = []

    def on_the_loop(call: Any) -> bool:
        if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
            return True
        if inspect.isroutine(call) or inspect.isclass(call):
            return False
        method = type(call).__call__  # an instance used as a dependency (the role guards)
        return inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)

    def walk(dependant: Any, path: str) -> None:
        call = dependant.call
        if call is not None and not on_the_loop(call):
            threaded.append(f"{path}: {getattr(call, '__qualname__', call)}")
        for sub in dependant.dependencies:
            walk(sub, path)

    for path, route in walk_routes(app):
        if isinstance(route, APIRoute | APIWebSocketRoute):
            walk(route.dependant, path)
    assert not threaded, "functions FastAPI would run in its thread pool:\n" + "\n".join(threaded)


def test_guarded_routes_refuse_missing_and_wrong_tokens(client_and_tokens: Any) -> None:
    app, client, tokens = client_and_tokens
    checked = 0
    for full_path, route in walk_routes(app):
        if not isinstance(route, APIRoute):
            continue
        (guard,) = declared_access(route.dependant)
        if isinstance(guard, PublicMarker):
            continue
        assert isinstance(guard, RoleGuard)
        path = _fill(full_path)
        for method in route.methods:
            anonymous = client.request(method, path, json={})
            assert anonymous.status_code == 401, f"{method} {full_path} without a token gave {anonymous.status_code}"
            assert anonymous.headers["content-type"].startswith("application/problem+json")
            for role in Role:
                response = client.request(method, path, json={}, headers={"Authorization": f"Bearer {tokens[role.value]}"})
                if role in guard.roles:
                    assert response.status_code not in (401, 403), f"{method} {full_path} refused allowed role {role}"
                else:
                    assert response.status_code == 403, f"{method} {full_path} let {role} through: {response.status_code}"
            checked += 1
    assert checked >= 10


def test_revoked_and_malformed_tokens_are_refused(client_and_tokens: Any) -> None:
    app, client, tokens = client_and_tokens

    from roomctl.api.tokens import revoke_token, verify_token

    room = app.state.room
    principal = verify_token(room.db, tokens["admin"], now=room.clock.now())
    assert principal is not None
    assert client.get("/api/v1/members", headers={"Authorization": f"Bearer {tokens['admin']}"}).status_code == 200
    revoke_token(room.db, principal.token_id, now=room.clock.now())
    assert client.get("/api/v1/members", headers={"Authorization": f"Bearer {tokens['admin']}"}).status_code == 401
    for bad in ("Bearer", "Bearer x", "Basic abc", "Bearer rct_" + "x" * 500):
        assert client.get("/api/v1/members", headers={"Authorization": bad}).status_code == 401


def test_a_guarded_post_looks_its_token_up_once(client_and_tokens: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The middleware checks the token before the body; the route's guard takes its principal, not a second query.
    _, client, tokens = client_and_tokens
    import roomctl.api.security as security

    looked_up: list[str] = []
    verify = security.verify_token

    def counting(db: Any, token: str, *, now: Any) -> Any:
        looked_up.append(token)
        return verify(db, token, now=now)

    monkeypatch.setattr(security, "verify_token", counting)
    headers = {"Authorization": f"Bearer {tokens['facilitator']}"}
    answer = client.post("/api/v1/session/commands", json={"command": "next"}, headers=headers)
    assert answer.status_code == 409, answer.text  # no session runs: the guard let it through, the command did not fit
    assert looked_up == [tokens["facilitator"]]
    looked_up.clear()
    refused = client.post("/api/v1/session/commands", json={"command": "next"},
                          headers={"Authorization": f"Bearer {tokens['kiosk']}"})  # fmt: skip
    assert refused.status_code == 403, "the guard still checks the role of the principal it was handed"
    assert looked_up == [tokens["kiosk"]]


def test_only_hashes_are_stored(client_and_tokens: Any) -> None:
    app, _, tokens = client_and_tokens
    dump = "\n".join(app.state.room.db.conn.iterdump())
    for value in tokens.values():
        assert value not in dump


def test_websocket_needs_a_screen_role(client_and_tokens: Any) -> None:
    _, client, tokens = client_and_tokens
    for token, code in ((None, 4401), ("rct_unknown", 4401), (tokens["reader"], 4403), (tokens["facilities"], 4403)):
        url = "/ws" if token is None else f"/ws?token={token}"
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(url) as ws:
            ws.receive_json()
        assert refused.value.code == code
    with client.websocket_connect(f"/ws?token={tokens['kiosk']}") as ws:
        state = ws.receive_json()
        assert state["room"]["name"]
        assert "version" in state


def test_problem_documents(client_and_tokens: Any) -> None:
    _, client, tokens = client_and_tokens
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    response = client.post("/api/v1/members", json={"name": ""}, headers=admin)
    assert response.status_code == 422
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert set(body) >= {"type", "title", "status", "detail"}
    assert "name" in body["detail"]
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["status"] == 404
    malformed = client.post("/api/v1/members", content=b"{not json", headers={**admin, "content-type": "application/json"})
    assert malformed.status_code == 422


# -- group scope: another group's token gets nothing ---------------------------------------------------------

SECRET_GROUP = "Groep Geheim"
SECRET_NOTE = "geheime-notitie-van-groep-a"


def _body_for(route: APIRoute, sample: dict[str, Any]) -> dict[str, Any]:
    fields: set[str] = set()
    for param in route.dependant.body_params:
        annotation = getattr(param.field_info, "annotation", None)
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            fields |= set(getattr(candidate, "model_fields", {}))
    return {k: v for k, v in sample.items() if k in fields}


@pytest.fixture
def two_groups(settings: Settings, clock: RunningClock) -> Any:
    """Group A (the demo group, its session running) and group B with its own facilitator, tablet and member."""
    from datetime import timedelta

    from roomctl.api.tokens import create_token
    from roomctl.booking.repository import BookingRepository
    from roomctl.demo import seed

    room = build_room(settings, clock)
    seed(room)
    repo = BookingRepository(room.db)
    now = room.clock.now()
    group_a = repo.groups()[0]
    room.db.execute("update groups set name = ? where id = ?", [SECRET_GROUP, group_a.id])
    b_members = [repo.add_member(f"B{i}", now=now).id for i in range(2)]
    b_facilitator = repo.add_member("B-facilitator", now=now).id
    group_b = repo.add_group("Groep B", b_members, facilitator_id=b_facilitator, now=now)
    later = now + timedelta(days=2)
    b_booking = repo.add_booking(group_b.id, later, later + timedelta(hours=1), now=now)
    app = create_app(room)
    with TestClient(app) as client:
        tokens = role_tokens(room)
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        started = client.post("/api/v1/session/commands", json={"command": "start", "args": {}}, headers=admin)
        assert started.status_code == 200, started.text
        session_a = started.json()["id"]
        noted = client.post("/api/v1/session/commands", headers=admin,
                            json={"command": "situation", "args": {"text": SECRET_NOTE}})  # fmt: skip
        assert noted.status_code == 200, noted.text
        with room.db.atomic():
            room.db.execute(
                "insert into proposal_requests (idempotency_key, session_id, group_id, kind, body_json, state, model, "
                "created_at) values ('k', ?, ?, 'ask', '{}', 'done', 'm', ?)", [session_a, group_a.id, now.isoformat()])
            room.db.execute(
                "insert into proposals (session_id, group_id, request_id, version, content_json, original_json, "
                "language, created_at) values (?, ?, 1, 1, ?, '{}', 'nl', ?)",
                [session_a, group_a.id, f'{{"title": "{SECRET_NOTE}"}}', now.isoformat()])  # fmt: skip
        from roomctl.proposal.service import ProposalService

        preview, _ = room.service(ProposalService).ask(session_a, group_id=group_a.id, transcript=SECRET_NOTE)
        assert preview["state"] == "preview"
        booking_a = repo.overlapping(now, now + timedelta(minutes=1))[0]
        ids = {
            "session_id": session_a, "proposal_id": 1, "booking_id": booking_a.id, "group_id": group_a.id,
            "member_id": group_a.member_ids[0], "series_id": 1, "preview_id": preview["preview_id"],
        }  # fmt: skip
        other = {
            "facilitator of B": create_token(room.db, "facilitator", label="b", now=now, member_id=b_facilitator)[1],
            "tablet of B": create_token(room.db, "facilitator", label="b", now=now, group_id=group_b.id,
                                        booking_id=b_booking.id)[1],
            "member of B": create_token(room.db, "member", label="b", now=now, member_id=b_members[0])[1],
        }
        yield app, client, room, ids, other, admin


def test_another_groups_token_gets_no_2xx_on_any_route(two_groups: Any) -> None:
    """Walk every route with tokens of group B, naming group A's objects everywhere; nothing of A answers 2xx."""
    app, client, _room, ids, other, admin = two_groups
    before = client.get("/api/v1/session", headers=admin).json()
    sample = {**ids, "command": "next", "args": {}, "transcript": "x", "verdict": "accept", "agreed": True,
              "start": "2026-01-01T00:00:00+00:00", "end": "2026-01-02T00:00:00+00:00", "minutes": 5}  # fmt: skip
    scoped = {"session_id", "proposal_id", "booking_id", "group_id", "member_id", "series_id", "preview_id"}
    walked = 0
    for full_path, route in walk_routes(app):
        if not isinstance(route, APIRoute):
            continue
        (guard,) = declared_access(route.dependant)
        if isinstance(guard, PublicMarker):
            continue
        names = {m.group(1) for m in PATH_PARAM.finditer(full_path)}
        path = PATH_PARAM.sub(lambda m: str(ids.get(m.group(1), 1)), full_path)
        query = {"group": ids["group_id"], "start": sample["start"], "end": sample["end"]}
        for method in route.methods:
            for who, token in other.items():
                response = client.request(method, path, params=query, json=_body_for(route, sample),
                                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                if not 200 <= response.status_code < 300:
                    continue
                text = response.text
                assert not names & scoped, f"{who}: {method} {full_path} answered {response.status_code}"
                assert not full_path.startswith("/api/v1/session"), f"{who}: {method} {full_path} answered 2xx"
                assert SECRET_GROUP not in text and SECRET_NOTE not in text, f"{who}: {method} {full_path} leaked A"
                assert f'"group_id":{ids["group_id"]}' not in text, f"{who}: {method} {full_path} leaked A's ids"
            walked += 1
    assert walked >= 30
    assert client.get("/api/v1/session", headers=admin).json() == before, "another group's calls changed A's session"


def test_another_group_cannot_change_the_room_during_a_session(two_groups: Any) -> None:
    """The lights and the projector belong to the group in session: B's facilitator gets 404 and nothing moves."""
    _, client, room, _, other, admin = two_groups
    from roomctl.devices.service import DevicesService

    engine = room.service(DevicesService).engine
    before = engine.current
    for who in ("facilitator of B", "tablet of B"):
        refused = client.post("/api/v1/scenes/arrival", headers={"Authorization": f"Bearer {other[who]}"})
        assert refused.status_code == 404, f"{who}: {refused.status_code} {refused.text}"
    assert engine.current is before, "another group's call started a scene"
    started = client.post("/api/v1/scenes/arrival", headers=admin)
    assert started.status_code == 202 and started.json()["name"] == "arrival"


def test_another_groups_object_answers_404_like_a_missing_one(two_groups: Any) -> None:
    _, client, _, ids, other, admin = two_groups
    tablet = {"Authorization": f"Bearer {other['tablet of B']}"}
    facilitator = {"Authorization": f"Bearer {other['facilitator of B']}"}
    for path in (f"/api/v1/sessions/{ids['session_id']}/proposals", f"/api/v1/proposals/{ids['proposal_id']}",
                 f"/api/v1/groups/{ids['group_id']}/portfolio.md", f"/api/v1/sessions/{ids['session_id']}/transcript"):
        theirs = client.get(path, headers=facilitator)
        missing = client.get(path.replace(str(ids["session_id"]), "999999").replace(
            f"/{ids['group_id']}/", "/999999/").replace(f"/{ids['proposal_id']}", "/999999"), headers=admin)
        assert theirs.status_code == 404 and missing.status_code == 404, path
        assert theirs.headers["content-type"] == "application/problem+json"
    assert client.post("/api/v1/session/commands", json={"command": "next"}, headers=tablet).status_code == 404
    ask = client.post(f"/api/v1/sessions/{ids['session_id']}/proposals", json={"transcript": "x"}, headers=tablet)
    assert ask.status_code == 404
    assert client.get(f"/api/v1/sessions/{ids['session_id']}/proposals", headers=admin).json()["requests"][0][
        "idempotency_key"] == "k", "nothing was queued"  # fmt: skip
    with client.websocket_connect(f"/ws?token={other['facilitator of B']}") as ws:
        view = ws.receive_json()
    assert "session" not in view and "pairing" not in view and view["room"]["name"]


def test_ids_out_of_range_answer_404(client_and_tokens: Any) -> None:
    _, client, tokens = client_and_tokens
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    for bad in ("-1", "0", "9" * 40, "1e3", "\uff19"):
        for path in (f"/api/v1/sessions/{bad}/proposals", f"/api/v1/proposals/{bad}", f"/api/v1/bookings/{bad}",
                     f"/api/v1/groups/{bad}/portfolio.md", f"/api/v1/series/{bad}", f"/api/v1/members/{bad}/badges"):
            response = client.request("POST" if path.endswith("badges") else "GET", path, headers=admin, json={"uid": "04A1B2C3"})
            assert response.status_code in (404, 422), (path, response.status_code)
            assert response.headers["content-type"] == "application/problem+json"


def test_pages_send_a_strict_content_security_policy(client_and_tokens: Any) -> None:
    _, client, tokens = client_and_tokens
    for page in ("/kiosk", "/tablet", "/admin", "/facilities", "/report"):
        response = client.get(page)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-eval" not in policy and "script-src 'self' 'unsafe-inline'" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    api = client.get("/api/v1/members", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert api.headers["x-content-type-options"] == "nosniff"


def test_admin_changes_are_audited_append_only(client_and_tokens: Any) -> None:
    import sqlite3

    from roomctl.api.tokens import verify_token

    app, client, tokens = client_and_tokens
    room = app.state.room
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    member = client.post("/api/v1/members", json={"name": "Audit Anna"}, headers=admin).json()
    assert client.post(f"/api/v1/members/{member['id']}/badges", json={"uid": "04A1B2C3"}, headers=admin).status_code == 201
    assert client.delete(f"/api/v1/members/{member['id']}", headers=admin).status_code == 204
    refused = client.post("/api/v1/members", json={"name": ""}, headers=admin)
    assert refused.status_code == 422
    trail = client.get("/api/v1/admin/audit", headers=admin).json()
    principal = verify_token(room.db, tokens["admin"], now=room.clock.now())
    assert principal is not None
    assert [(e["action"], e["target"]) for e in reversed(trail)] == [
        ("POST /api/v1/members", "/api/v1/members"),
        ("POST /api/v1/members/{member_id}/badges", f"/api/v1/members/{member['id']}/badges"),
        ("DELETE /api/v1/members/{member_id}", f"/api/v1/members/{member['id']}"),
    ], "successful changes only, each once"
    assert {(e["token_id"], e["token_label"], e["role"]) for e in trail} == {(principal.token_id, "test", "admin")}
    assert "Audit Anna" not in str(trail), "no bodies, no names"
    for statement in ("update admin_audit set role = 'x'", "delete from admin_audit"):
        with pytest.raises(sqlite3.DatabaseError):
            room.db.execute(statement)
    assert client.get("/api/v1/admin/audit", headers={"Authorization": f"Bearer {tokens['facilitator']}"}).status_code == 403


def test_no_two_capabilities_route_the_same_path(settings: Settings, clock: RunningClock, monkeypatch: pytest.MonkeyPatch) -> None:
    # create_app includes some capabilities' routers first (MATCHED_FIRST), and a router its sub-routers after
    # its own routes; that is safe only while the order changes no answer: every route's path goes to that
    # route, and to the same endpoint whichever order the routers are in.
    from starlette.routing import compile_path

    import roomctl.api.app as app_module

    room = build_room(settings, clock)

    def resolver(app: Any) -> Any:
        table = [(route.methods, compile_path(path)[0], route.endpoint)
                 for path, route in walk_routes(app) if isinstance(route, APIRoute)]  # fmt: skip
        return lambda method, path: next((e for methods, rx, e in table if method in methods and rx.match(path)), None)

    ordered = resolver(create_app(room))
    monkeypatch.setattr(app_module, "MATCHED_FIRST", ())
    as_listed = resolver(create_app(room))
    monkeypatch.setattr(app_module, "MATCHED_FIRST", tuple(reversed([capability_name(c) for c in CAPABILITIES])))
    reversed_order = resolver(create_app(room))
    checked = 0
    for path, route in walk_routes(create_app(room)):
        if isinstance(route, APIRoute):
            for method in route.methods:
                sample = _fill(path)
                assert ordered(method, sample) is route.endpoint, f"{method} {sample} is taken by a route before it"
                assert ordered(method, sample) is as_listed(method, sample) is reversed_order(method, sample), (
                    f"{method} {sample} goes to another endpoint when the routers are included in another order"
                )
                checked += 1
    assert checked > 50
