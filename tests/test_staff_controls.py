"""Staff controls reach staff only: the HTML a customer receives — the thread page, a live
WebSocket frame, a replay — holds no staff form, and no edit or delete controls of other
people's messages on the page; staff's HTML has the status form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.models import Role
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.usefixtures("fast_passwords")

WEBER, TOM, JAN = "weber@example.org", "tom@example.org", "jan@nordlicht.example"
STAFF_FORM = "staff-ctl"  # the status form as staff get it
OWN_FORM = 'class="status-form own"'
MENU = "Message actions"


@pytest.fixture
def scene(client: TestClient) -> Iterator[dict[str, Any]]:
    """Weber (customer) asks, Tom (customer) and Jan (staff) answer."""
    people = ((WEBER, "Gisela Weber", Role.CUSTOMER), (TOM, "Tom Becker", Role.CUSTOMER),
              (JAN, "Jan Petersen", Role.EMPLOYEE))  # fmt: skip
    for email, name, role in people:
        client.portal.call(create_user, email, name, PASSWORD, role, "Field")  # type: ignore[union-attr]
    tokens = {email: bearer(client, email) for email, _, _ in people}
    r = client.post("/api/v1/threads", headers=tokens[WEBER],
                    json={"title": "Meter", "body": "Hello", "client_id": "w-1"})  # fmt: skip
    thread = r.json()["thread"]["id"]
    for email, cid in ((TOM, "t-1"), (JAN, "j-1")):
        r = client.post(f"/api/v1/threads/{thread}/messages", headers=tokens[email],
                        json={"body": f"Answer {cid}", "client_id": cid})  # fmt: skip
        assert r.status_code == 201, r.text
    yield {"thread": thread, "tokens": tokens}


def bearer(client: TestClient, email: str) -> dict[str, str]:
    r = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def page_of(client: TestClient, email: str, thread: str) -> str:
    client.cookies.clear()
    login(client, email)
    r = client.get(f"/threads/{thread}")
    assert r.status_code == 200, r.text
    return r.text


def html_events(ws: Any) -> list[str]:
    """The fragments of every event frame the socket has for us now (a pong comes after)."""
    ws.send_json({"type": "ping", "t": "sync"})
    found: list[str] = []
    for _ in range(50):
        frame = ws.receive_json()
        if frame["type"] == "pong":
            return found
        if frame["type"] == "event":
            found.append(frame["html"])
    raise AssertionError("no pong")


def test_a_customers_thread_page_has_no_staff_form_and_no_controls_of_others_messages(
    client: TestClient, scene: dict[str, Any]
) -> None:
    tom = page_of(client, TOM, scene["thread"])
    assert STAFF_FORM not in tom and OWN_FORM not in tom and 'name="status"' not in tom
    assert tom.count(MENU) == 1, "only his own message has the actions menu"
    assert tom.count("/edit") == tom.count("/delete") == 1

    weber = page_of(client, WEBER, scene["thread"])
    assert STAFF_FORM not in weber and OWN_FORM in weber, "her own thread: her status form"
    assert weber.count(MENU) == 1

    jan = page_of(client, JAN, scene["thread"])
    assert STAFF_FORM in jan and OWN_FORM not in jan
    assert jan.count(MENU) == 1


def test_live_and_replayed_frames_carry_the_staff_form_to_staff_only(
    client: TestClient, scene: dict[str, Any]
) -> None:
    thread, tokens = scene["thread"], scene["tokens"]
    headers = {email: {**h, "Accept-Language": "en"} for email, h in tokens.items()}
    with (
        client.websocket_connect("/ws", headers=headers[TOM]) as tom,
        client.websocket_connect("/ws", headers=headers[WEBER]) as weber,
        client.websocket_connect("/ws", headers=headers[JAN]) as jan,
    ):
        for ws in (tom, weber, jan):
            assert ws.receive_json()["type"] == "hello"
            ws.send_json({"type": "subscribe", "thread": thread, "since": None})
            html_events(ws)
        r = client.patch(f"/api/v1/threads/{thread}", headers=tokens[JAN],
                         json={"status": "resolved"})  # fmt: skip
        assert r.status_code == 200, r.text
        [live_tom], [live_weber], [live_jan] = (html_events(ws) for ws in (tom, weber, jan))
        assert 'id="thread-head"' in live_tom
        assert STAFF_FORM not in live_tom and STAFF_FORM not in live_weber
        # One fragment serves every customer: it has the author's own form, which the browser
        # shows to her alone ([data-author=<me>] .own), never the staff form.
        assert OWN_FORM in live_tom and OWN_FORM in live_weber
        assert STAFF_FORM in live_jan and OWN_FORM not in live_jan

        for ws in (tom, jan):
            ws.send_json({"type": "unsubscribe", "thread": thread})
            ws.send_json({"type": "subscribe", "thread": thread, "since": 0})
        replay_tom, replay_jan = html_events(tom), html_events(jan)
        heads_tom = [h for h in replay_tom if 'id="thread-head"' in h]
        heads_jan = [h for h in replay_jan if 'id="thread-head"' in h]
        assert heads_tom and heads_jan
        assert not any(STAFF_FORM in h for h in replay_tom)
        assert all(STAFF_FORM in h for h in heads_jan)
