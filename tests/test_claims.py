""" "I'm answering": an employee claims a customer's thread so colleagues don't pile in.

Exactly one of two simultaneous claims wins (SQLite and PostgreSQL); a public reply ends the
claim, a staff note does not; a lapsed claim can be taken over; customers never see a claim
by page, socket, replay or JSON API, and cannot make one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.claims import claim_thread, release_thread
from server.actions.messages import send_message
from server.actions.threads import start_thread, update_thread
from server.db import close_database, open_database
from server.errors import Conflict, Forbidden, NotFound
from server.events.claims import ClaimState
from server.models import Audience, Role, Thread
from tests.conftest import NOT_LIVE, PASSWORD, login, make_settings
from tests.test_staff_controls import bearer

pytestmark = pytest.mark.usefixtures("fast_passwords")

WEBER, JAN, MIRA = "weber@example.org", "jan@nordlicht.example", "mira@nordlicht.example"
MINUTES = 20.0


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """A customer's open question and two employees, on each configured database."""
    await open_database(make_settings(database_url, tmp_path))
    try:
        weber = await create_user(WEBER, "Gisela Weber", PASSWORD)
        jan = await create_user(JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "Field service")
        mira = await create_user(MIRA, "Mira Yilmaz", PASSWORD, Role.EMPLOYEE, "Billing")
        thread, _, _ = await start_thread(NOT_LIVE, weber, "Meter", "Wrong number?", "w-1")
        yield {"weber": weber, "jan": jan, "mira": mira, "thread": thread.id}
    finally:
        await close_database()


async def holder(thread_id: str) -> str | None:
    return (await Thread.get(id=thread_id)).claimed_by_id


async def test_two_employees_claiming_at_the_same_moment_one_wins_the_other_is_told_who(
    desk: dict[str, Any],
) -> None:
    jan, mira, thread = desk["jan"], desk["mira"], desk["thread"]
    for _ in range(5):  # several rounds: the order the two reach the database varies
        results = await asyncio.gather(
            claim_thread(NOT_LIVE, jan, thread, MINUTES),
            claim_thread(NOT_LIVE, mira, thread, MINUTES),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, ClaimState)]
        lost = [r for r in results if isinstance(r, Conflict)]
        assert len(won) == 1 and len(lost) == 1, results
        assert await holder(thread) == won[0].user_id
        assert f"{won[0].name} is answering this thread already" == lost[0].message
        winner = jan if won[0].user_id == jan.id else mira
        await release_thread(NOT_LIVE, winner, thread)
        assert await holder(thread) is None


async def test_a_public_reply_ends_the_claim_a_staff_note_does_not(desk: dict[str, Any]) -> None:
    jan, thread = desk["jan"], desk["thread"]
    await claim_thread(NOT_LIVE, jan, thread, MINUTES)
    await send_message(NOT_LIVE, jan, thread, "Checking the meter history", "n-1", Audience.STAFF)
    assert await holder(thread) == jan.id, "a note is not the answer"
    await send_message(NOT_LIVE, jan, thread, "Frau Weber, the number is right.", "r-1")
    assert await holder(thread) is None


async def test_claiming_again_extends_and_a_lapsed_claim_can_be_taken_over(
    desk: dict[str, Any],
) -> None:
    jan, mira, thread = desk["jan"], desk["mira"], desk["thread"]
    first = await claim_thread(NOT_LIVE, jan, thread, MINUTES)
    again = await claim_thread(NOT_LIVE, jan, thread, MINUTES)
    assert again.until and first.until and again.until >= first.until
    await release_thread(NOT_LIVE, mira, thread)  # not hers: nothing happens
    assert await holder(thread) == jan.id

    await claim_thread(NOT_LIVE, jan, thread, -1)  # as if Jan claimed it long ago
    taken = await claim_thread(NOT_LIVE, mira, thread, MINUTES)
    assert taken.user_id == mira.id and await holder(thread) == mira.id


async def test_bad_claims_get_a_clear_error_and_change_nothing(desk: dict[str, Any]) -> None:
    weber, jan, thread = desk["weber"], desk["jan"], desk["thread"]
    with pytest.raises(Forbidden):
        await claim_thread(NOT_LIVE, weber, thread, MINUTES)
    with pytest.raises(Forbidden):
        await release_thread(NOT_LIVE, weber, thread)
    with pytest.raises(NotFound):
        await claim_thread(NOT_LIVE, jan, "nope", MINUTES)
    await update_thread(NOT_LIVE, jan, thread, status="closed")
    with pytest.raises(Conflict):
        await claim_thread(NOT_LIVE, jan, thread, MINUTES)
    assert await holder(thread) is None


# -- over HTTP and the socket --------------------------------------------------------------


@pytest.fixture
def scene(client: TestClient) -> Iterator[dict[str, Any]]:
    people = ((WEBER, "Gisela Weber", Role.CUSTOMER), (JAN, "Jan Petersen", Role.EMPLOYEE),
              (MIRA, "Mira Yilmaz", Role.EMPLOYEE))  # fmt: skip
    for email, name, role in people:
        client.portal.call(create_user, email, name, PASSWORD, role, "Field")  # type: ignore[union-attr]
    tokens = {email: {**bearer(client, email), "Accept-Language": "en"} for email, _, _ in people}
    r = client.post("/api/v1/threads", headers=tokens[WEBER],
                    json={"title": "Meter", "body": "Hello", "client_id": "w-1"})  # fmt: skip
    yield {"thread": r.json()["thread"]["id"], "tokens": tokens}


def event_names(ws: Any) -> list[tuple[str, str]]:
    """(name, frame text) of every event the socket has for us now (a pong comes after)."""
    ws.send_json({"type": "ping", "t": "sync"})
    found: list[tuple[str, str]] = []
    for _ in range(50):
        frame = ws.receive_text()
        if '"type":"pong"' in frame:
            return found
        if '"type":"event"' in frame:
            name = frame.split('"name":"', 1)[1].split('"', 1)[0]
            found.append((name, frame))
    raise AssertionError("no pong")


def test_staff_see_the_claim_live_and_on_replay_customers_never_by_any_path(
    client: TestClient, scene: dict[str, Any]
) -> None:
    thread, tokens = scene["thread"], scene["tokens"]
    with (
        client.websocket_connect("/ws", headers=tokens[WEBER]) as weber,
        client.websocket_connect("/ws", headers=tokens[MIRA]) as mira,
    ):
        for ws in (weber, mira):
            assert ws.receive_json()["type"] == "hello"
            ws.send_json({"type": "subscribe", "thread": thread, "since": None})
            event_names(ws)
        r = client.post(f"/api/v1/threads/{thread}/claim", headers=tokens[JAN])
        assert r.status_code == 200, r.text
        assert r.json()["claim"]["name"] == "Jan Petersen"
        seen = event_names(mira)
        assert [n for n, _ in seen] == ["claim.changed", "answering.changed"]
        assert "Jan Petersen is answering" in seen[0][1]
        assert "Jan Petersen" not in seen[1][1] and "is answering" not in seen[1][1]
        # A customer learns that an employee answers, never who.
        told = event_names(weber)
        assert [n for n, _ in told] == ["answering.changed"], told
        assert "An employee is answering" in told[0][1] and "Jan" not in told[0][1]

        # Mira tries too: told who has it, nothing changes.
        r = client.post(f"/api/v1/threads/{thread}/claim", headers=tokens[MIRA])
        assert r.status_code == 409 and "Jan Petersen" in r.json()["error"]["message"], r.text
        assert event_names(mira) == []

        for ws in (weber, mira):  # replay from the start
            ws.send_json({"type": "unsubscribe", "thread": thread})
            ws.send_json({"type": "subscribe", "thread": thread, "since": 0})
        assert "claim.changed" in [n for n, _ in event_names(mira)]
        replayed = event_names(weber)
        assert all(n != "claim.changed" and "Jan" not in f for n, f in replayed)

    for path in (
        f"/api/v1/threads/{thread}",
        f"/api/v1/threads/{thread}/messages",
        "/api/v1/threads",
    ):
        body = client.get(path, headers=tokens[WEBER]).text
        assert "claim" not in body and "Jan Petersen" not in body, path
    r = client.post(f"/api/v1/threads/{thread}/claim", headers=tokens[WEBER])
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = client.delete(f"/api/v1/threads/{thread}/claim", headers=tokens[WEBER])
    assert r.status_code == 403

    login(client, WEBER)
    page = client.get(f"/threads/{thread}").text
    assert 'id="claim"' not in page and "Jan Petersen" not in page and "claim-warning" not in page
    assert "An employee is answering" in page
    client.cookies.clear()
    login(client, MIRA)
    page = client.get(f"/threads/{thread}").text
    assert 'id="claim"' in page and "Jan Petersen is answering" in page


def test_the_thread_page_claims_and_releases_with_one_tap(
    client: TestClient, scene: dict[str, Any]
) -> None:
    thread, tokens = scene["thread"], scene["tokens"]
    login(client, JAN)
    page = client.get(f"/threads/{thread}").text
    assert "I&#39;m answering" in page or "I'm answering" in page
    hx = {"HX-Request": "true", "x-csrftoken": client.cookies["dreiklang_csrf"]}
    r = client.post(f"/threads/{thread}/claim", headers=hx)
    assert r.status_code == 200 and "Jan Petersen is answering" in r.text, r.text
    r = client.post(f"/api/v1/threads/{thread}/claim", headers=tokens[MIRA])
    assert r.status_code == 409
    r = client.post(f"/threads/{thread}/release", headers=hx)
    assert r.status_code == 200 and "is answering" not in r.text
    r = client.post(f"/api/v1/threads/{thread}/claim", headers=tokens[MIRA])
    assert r.status_code == 200, r.text
