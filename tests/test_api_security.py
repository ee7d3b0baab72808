"""Every route states who may call it, and answers only the right role."""

from __future__ import annotations

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
from roomctl.runtime import build_room
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
    principal = verify_token(room.db, tokens["admin"])
    assert principal is not None
    assert client.get("/api/v1/members", headers={"Authorization": f"Bearer {tokens['admin']}"}).status_code == 200
    revoke_token(room.db, principal.token_id, now=room.clock.now())
    assert client.get("/api/v1/members", headers={"Authorization": f"Bearer {tokens['admin']}"}).status_code == 401
    for bad in ("Bearer", "Bearer x", "Basic abc", "Bearer rct_" + "x" * 500):
        assert client.get("/api/v1/members", headers={"Authorization": bad}).status_code == 401


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
