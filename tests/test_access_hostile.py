"""10,000 random and hostile UIDs through ``on_tap`` and the tap API: exactly zero unlocks."""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from roomctl.access.events import Tap
from roomctl.access.service import AccessService
from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings
from roomctl.devices.broker import free_port
from tests.access_helpers import MASTER_UID, MEMBER_UID, audit_rows, room_sections
from tests.conftest import serving

SEED = 20261201
ON_TAP = 8_000
VIA_API = 2_000
API_CONCURRENCY = 25
OTHER_GROUP_UID = "04C0FFEE000001"
REVOKED_UID = "04A1B2C3D4E504"
FULLWIDTH_MEMBER = "".join(chr(ord(c) + 0xFEE0) for c in MEMBER_UID)
LOOKALIKES = {"0": "\u0660", "A": "\u0410", "B": "\u0412", "C": "\u0421", "E": "\u0415", "1": "\uff11"}


def hostile_uids(rng: random.Random, count: int) -> Iterator[Any]:
    """Random and hostile UIDs; none normalises to a badge that may open the door now."""
    granting = (MEMBER_UID, "04A1B2C3D4E501", "04A1B2C3D4E502", "04A1B2C3D4E503", "04A1B2C3D4E505", MASTER_UID)
    fixed: list[Any] = [
        "", " ", "::", "--", "0", "04", "04A1B2C", "04A1B2C3D", "' OR 1=1 --", "04A1B2C3D4E501' OR '1'='1",
        "04A1B2C3D4E501; drop table audit", "%", "_", "*", "04A1B2C3D4E501\x00", "\x00" * 14, "04A1B2C3D4E501" * 100,
        "A" * 10_000, "04A1B2C3D4E5\u200b01", FULLWIDTH_MEMBER, "04a1b2c3d4e5o1", "<script>alert(1)</script>",
        "${jndi:ldap://x}", "../../etc/passwd", "04A1B2C3D4E501\r\n\r\nX-Injected: 1", "\udcff" * 4, "🙂" * 7,
        OTHER_GROUP_UID, OTHER_GROUP_UID.lower(), REVOKED_UID, "04:a1:b2:c3:d4:e5:04", "0A0B0C0D00", "0A0B0C",
        None, 1234, 4.5, b"04A1B2C3D4E501", ["04A1B2C3D4E501"], {"uid": MEMBER_UID},
    ]
    produced = 0
    value: Any
    for value in fixed:
        yield value
        produced += 1
    while produced < count:
        kind = rng.randrange(7)
        if kind == 0:  # valid-looking random UIDs of every size: unknown badges
            value = rng.randbytes(rng.choice((4, 7, 10))).hex().upper()
        elif kind == 1:  # random hex of the wrong length
            value = rng.randbytes(rng.randrange(1, 40)).hex()[: rng.randrange(1, 80)]
        elif kind == 2:  # random bytes as text
            value = rng.randbytes(rng.randrange(1, 80)).decode("latin-1")
        elif kind == 3:  # random unicode
            value = "".join(chr(rng.randrange(0x80, 0x2FFFF)) for _ in range(rng.randrange(1, 30)))
        elif kind == 4:  # a member's UID with one character swapped for a lookalike or an invisible one
            uid = rng.choice(granting)
            at = rng.randrange(len(uid))
            value = uid[:at] + LOOKALIKES.get(uid[at], "\u200d") + uid[at + 1 :]
        elif kind == 5:  # other group's and revoked badges, in any spelling
            uid = rng.choice((OTHER_GROUP_UID, REVOKED_UID))
            sep = rng.choice(("", ":", "-", " "))
            value = sep.join(uid[i : i + 2] for i in range(0, len(uid), 2))
            value = value.lower() if rng.random() < 0.5 else value
        else:  # SQL and format-string fragments around a real UID
            value = rng.choice(("'", '"', ";", "%s", "{0}", "\\", "/*", "+")) + rng.choice(granting)
        assert not isinstance(value, str) or value.upper().replace(":", "").replace("-", "").replace(" ", "") not in granting
        yield value
        produced += 1


def _settings(make_settings: Callable[..., Settings], shm: Path) -> Settings:
    # the decisions are under test here, not fsync: keep the database on tmpfs
    return make_settings(
        **room_sections(
            storage={"data_dir": shm},
            server={"port": free_port()},
            door={"lockout_denied_taps": 100_000, "lockout_window_seconds": 1},
        )
    )


async def test_ten_thousand_hostile_uids_open_nothing(make_settings: Callable[..., Settings]) -> None:
    rng = random.Random(SEED)
    uids = list(hostile_uids(rng, ON_TAP + VIA_API))
    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        settings = _settings(make_settings, Path(shm))
        async with serving(settings) as live:
            room = live.room
            repo = BookingRepository(room.db)
            now = room.clock.now()
            outsider = repo.add_member("Olga Buiten", now=now)
            repo.enroll_badge(outsider.id, OTHER_GROUP_UID, now=now)
            repo.add_group("Andere groep", [outsider.id], now=now)
            repo.revoke_badge(REVOKED_UID, now=now)
            access = room.service(AccessService)
            relay_pin = access.door.relay.pin
            reasons: dict[str, int] = {}
            for i, uid in enumerate(uids[:ON_TAP]):
                decision = access.on_tap(Tap(source="test", uid=uid, reader=f"r{i}"))
                assert not decision.granted, f"{uid!r} opened the door"
                reasons[decision.reason.value] = reasons.get(decision.reason.value, 0) + 1
            async with httpx.AsyncClient(base_url=live.url, headers=live.headers("reader")) as client:

                async def post(i: int, uid: Any) -> None:
                    body = {"uid": uid, "reader": f"api{i}"} if isinstance(uid, str) else {"uid": uid}
                    # ensure_ascii: lone surrogates travel as \\udcff escapes, as a hostile client could send them
                    response = await client.post(
                        "/api/v1/door/taps", content=json.dumps(body), headers={"Content-Type": "application/json"}
                    )
                    assert response.status_code in (200, 422), response.text
                    if response.status_code == 200:
                        assert response.json()["granted"] is False, f"{uid!r} opened the door"
                        reason = response.json()["reason"]
                        reasons[reason] = reasons.get(reason, 0) + 1
                    else:
                        assert response.headers["content-type"].startswith("application/problem+json")

                api_uids = list(enumerate(uids[ON_TAP:]))
                for start in range(0, len(api_uids), API_CONCURRENCY):
                    await asyncio.gather(*(post(i, uid) for i, uid in api_uids[start : start + API_CONCURRENCY]))
            assert access.door.activations == 0
            assert [s.state for s in relay_pin.states] == [False], "the strike relay never moved"
            assert set(reasons) <= {"unknown", "malformed", "other_group", "revoked"}
            assert reasons["unknown"] > 500 and reasons["malformed"] > 5000
            assert reasons["other_group"] > 50 and reasons["revoked"] > 50
            # every decided tap is in the audit trail, no UID in clear
            taps = audit_rows(room, "tap")
            assert len(taps) == sum(reasons.values())
            assert not any(MEMBER_UID in str(row) for row in taps)
