"""Sessions as rows: a cookie's key finds its session until it ends or lies idle 30 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.actions.sessions import (
    device_label,
    end_other_sessions,
    end_session,
    renew,
    start_session,
)
from server.auth import SESSION_DAYS, secret_hash, session_of
from server.models import Session
from server.people import sessions_of as sessions_since
from tests.conftest import NOT_LIVE

PIXEL = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
WINDOWS_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (PIXEL, "Chrome Mobile on Android"),
        (IPHONE, "Mobile Safari on iOS"),
        (WINDOWS_FIREFOX, "Firefox on Windows"),
        ("python-httpx/0.28.1", ""),
        ("", ""),
        ("x" * 10_000, ""),
    ],
)
def test_a_browser_is_named_as_people_name_it(user_agent: str, label: str) -> None:
    assert device_label(user_agent) == label


async def test_a_key_finds_its_session_and_the_table_holds_only_its_hash(
    weber_and_jan: dict[str, Any],
) -> None:
    weber = weber_and_jan["weber"]
    key = await start_session(weber, PIXEL)
    found = await session_of(key)
    assert found is not None and found.user.id == weber.id
    row = await Session.get(id=found.session_id)
    assert row.key_hash == secret_hash(key) != key and row.device == "Chrome Mobile on Android"
    assert await session_of(key + "x") is None
    for junk in (None, "", 42, ["key"]):
        assert await session_of(junk) is None


async def test_a_session_idle_for_30_days_is_over_and_use_renews_it_hourly(
    weber_and_jan: dict[str, Any],
) -> None:
    weber = weber_and_jan["weber"]
    key = await start_session(weber, PIXEL)
    found = await session_of(key)
    assert found is not None
    now = datetime.now(UTC)

    async def use() -> None:  # what every request or socket of the session does
        signed_in = await session_of(key)
        assert signed_in is not None
        await renew(signed_in)

    await Session.filter(id=found.session_id).update(last_seen_at=now - timedelta(minutes=30))
    await use()
    row = await Session.get(id=found.session_id)
    assert now - row.last_seen_at > timedelta(minutes=29), (
        "renewed within the hour: a write per hit"
    )
    await Session.filter(id=found.session_id).update(last_seen_at=now - timedelta(hours=2))
    await use()
    assert now - (await Session.get(id=found.session_id)).last_seen_at < timedelta(minutes=1)
    idle = now - timedelta(days=SESSION_DAYS, minutes=1)
    await Session.filter(id=found.session_id).update(last_seen_at=idle)
    assert await session_of(key) is None
    assert await sessions_of(weber) == []
    await start_session(weber, PIXEL)  # signing in clears sessions that are over
    assert not await Session.filter(id=found.session_id).exists()


async def test_people_end_only_their_own_sessions(weber_and_jan: dict[str, Any]) -> None:
    weber, jan = weber_and_jan["weber"], weber_and_jan["jan"]
    weber_phone = await session_of(await start_session(weber, PIXEL))
    weber_pc = await session_of(await start_session(weber, WINDOWS_FIREFOX))
    jan_phone = await session_of(await start_session(jan, IPHONE))
    assert weber_phone and weber_pc and jan_phone
    assert not await end_session(NOT_LIVE, jan, weber_phone.session_id)
    assert await end_other_sessions(NOT_LIVE, jan, jan_phone.session_id) == 0
    assert len(await sessions_of(weber)) == 2
    assert await end_other_sessions(NOT_LIVE, weber, weber_pc.session_id) == 1
    assert [s.id for s in await sessions_of(weber)] == [weber_pc.session_id]
    assert await end_session(NOT_LIVE, weber, weber_pc.session_id)
    assert await sessions_of(weber) == [] and len(await sessions_of(jan)) == 1


async def sessions_of(user: Any) -> list[Session]:
    """The user's live sessions, as Settings lists them."""
    return await sessions_since(user, datetime.now(UTC) - timedelta(days=SESSION_DAYS))
