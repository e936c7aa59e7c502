"""Scale-out: two server processes on one database and one Redis broker act as one server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import csrf_of
from tests.live import LiveServer
from tests.live_helpers import (
    CUSTOMER,
    STAFF,
    WAIT_SECONDS,
    WsClient,
    api_for,
    browser_session,
    cookie_header,
)

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
ADMIN = "admin@nordlicht.example"


@pytest.fixture
def two_servers(database_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    if not REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must set TEST_REDIS_URL so the scale-out test runs")
        pytest.skip("TEST_REDIS_URL is not set")
    env = {"BROKER_URL": REDIS_URL, "RATELIMIT_URL": REDIS_URL}
    one = LiveServer(database_url, tmp_path / "one", env_extra=env)
    two = LiveServer(database_url, tmp_path / "two", env_extra=env)
    one.data_dir.mkdir()
    two.data_dir.mkdir()
    one.run_cli("demo", "--no-serve")
    one.start()
    two.start()
    try:
        yield one, two
    finally:
        one.stop()
        two.stop()


def test_messages_sent_to_one_process_reach_subscribers_of_the_other_in_one_order(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    one, two = two_servers

    async def scenario() -> None:
        customer = await api_for(one, CUSTOMER)
        staff = await api_for(two, STAFF)
        a = await WsClient.open(one, token=customer.token)
        b = await WsClient.open(two, token=staff.token)
        try:
            thread = (await customer.start_thread("Zwei Prozesse, ein Gespräch"))["id"]
            await a.subscribe(thread, since=None)
            await b.subscribe(thread, since=None)

            async def burst(ws: WsClient, prefix: str) -> None:
                for i in range(10):
                    await ws.send_message(thread, f"{prefix}{i}")

            await asyncio.gather(burst(a, "A"), burst(b, "B"))
            seen_a = await a.events(thread, 20)
            seen_b = await b.events(thread, 20)
            await a.quiet()
            assert a.unclaimed("event") == [], "no duplicates"
            stored = [m["body"] for m in await customer.messages(thread)]
        finally:
            await a.close()
            await b.close()
            await customer.aclose()
            await staff.aclose()
        bodies_a = [e["message"]["body"] for e in seen_a]
        bodies_b = [e["message"]["body"] for e in seen_b]
        expected = sorted([f"A{i}" for i in range(10)] + [f"B{i}" for i in range(10)])
        assert sorted(bodies_a) == expected
        assert bodies_a == bodies_b, "both processes deliver one and the same order"
        assert stored[-20:] == bodies_a, "the order delivered is the order stored"
        seqs = [e["seq"] for e in seen_a]
        assert seqs == list(range(seqs[0], seqs[0] + 20)), "no gaps, no duplicates"

    asyncio.run(scenario())


def test_signing_out_on_one_process_closes_that_sessions_socket_on_the_other(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    one, two = two_servers

    async def scenario() -> None:
        session = await asyncio.to_thread(browser_session, two, CUSTOMER)
        try:
            ws = await WsClient.open(two, cookies=cookie_header(session), origin=two.url)
            r = await asyncio.to_thread(
                httpx.post, one.url + "/logout", cookies=dict(session.cookies),
                data={"csrftoken": csrf_of(session)}, headers={"origin": one.url},
            )  # fmt: skip
            assert r.status_code == 303, r.text
            await asyncio.wait_for(ws.wait_closed(), WAIT_SECONDS)
            assert ws.close_code == 4401
        finally:
            session.close()

    asyncio.run(scenario())


def test_demoting_on_one_process_closes_the_employees_socket_on_the_other(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    one, two = two_servers

    async def scenario() -> None:
        staff = await api_for(two, STAFF)
        admin = await asyncio.to_thread(browser_session, one, ADMIN)
        try:
            ws = await WsClient.open(two, token=staff.token)
            assert ws.hello["staff"] is True
            r = await asyncio.to_thread(
                admin.post, f"/admin/users/{staff.id}/role",
                data={"role": "customer", "csrftoken": csrf_of(admin)},
            )  # fmt: skip
            assert r.status_code == 303, r.text
            await asyncio.wait_for(ws.wait_closed(), WAIT_SECONDS)
            assert ws.close_code == 4401
            again = await WsClient.open(two, token=staff.token)
            assert again.hello["staff"] is False, "it comes back with the rights it has now"
            await again.close()
        finally:
            admin.close()
            await staff.aclose()

    asyncio.run(scenario())
