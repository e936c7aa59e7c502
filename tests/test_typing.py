"""End to end: who hears that someone is typing. Staff writing a staff note are news for staff
only; everyone else's typing reaches everyone in the thread. Real `websockets` clients against
a real server (docs/protocol.md, `typing`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.live import LiveServer
from tests.live_helpers import CUSTOMER, STAFF, STAFF_2, Scene


@pytest.fixture
async def scene(live_server: LiveServer) -> AsyncIterator[Scene]:
    async with Scene(live_server) as s:
        yield s


async def test_staff_typing_a_note_is_told_to_staff_and_never_to_the_customer(
    scene: Scene,
) -> None:
    customer, jan, mira = [await scene.person(e) for e in (CUSTOMER, STAFF, STAFF_2)]
    thread = (await customer.start_thread("Typing a note"))["id"]
    sockets = [await scene.socket(p) for p in (customer, jan, mira)]
    for ws in sockets:
        await ws.subscribe(thread, None)
    customer_ws, jan_ws, mira_ws = sockets

    await jan_ws.send_json({"type": "typing", "thread": thread, "audience": "staff"})
    notice = await mira_ws.next_of_type("typing", thread=thread)
    assert notice == {"type": "typing", "thread": thread, "user": jan.id,
                      "name": jan.user["name"], "staff": True}  # fmt: skip

    # Mira then types a reply to everyone. Notices on one thread arrive in the order they were
    # published, so had Jan's reached the customer, it would have come before Mira's.
    await mira_ws.send_json({"type": "typing", "thread": thread})
    await customer_ws.next_of_type("typing", thread=thread, user=mira.id)
    assert [f["user"] for f in customer_ws.since(0, "typing")] == [mira.id]
    await jan_ws.next_of_type("typing", thread=thread, user=mira.id)


async def test_a_customer_may_not_type_to_staff_only_and_an_unknown_audience_is_refused(
    scene: Scene,
) -> None:
    customer, jan = await scene.person(CUSTOMER), await scene.person(STAFF)
    thread = (await customer.start_thread("Typing to whom"))["id"]
    customer_ws, jan_ws = await scene.socket(customer), await scene.socket(jan)
    for ws in (customer_ws, jan_ws):
        await ws.subscribe(thread, None)

    await customer_ws.send_json({"type": "typing", "thread": thread, "audience": "staff"})
    error = await customer_ws.next_of_type("error", thread=thread)
    assert error == {"type": "error", "code": "forbidden", "thread": thread,
                     "message": "only staff can write staff notes"}  # fmt: skip

    await jan_ws.send_json({"type": "typing", "thread": thread, "audience": "everyone"})
    error = await jan_ws.next_of_type("error", thread=thread)
    assert error["code"] == "invalid_audience"
    assert error["message"] == "audience must be 'all' or 'staff', not 'everyone'"

    await jan_ws.quiet()
    await customer_ws.quiet()
    assert customer_ws.since(0, "typing") == jan_ws.since(0, "typing") == []

    # Refusals cost nothing: the customer's own typing still reaches staff at once.
    await customer_ws.send_json({"type": "typing", "thread": thread, "audience": "all"})
    await jan_ws.next_of_type("typing", thread=thread, user=customer.id)
