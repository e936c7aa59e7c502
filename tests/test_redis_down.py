"""While Redis is away the server keeps serving: new sockets open and resume from the database,
live events arrive through the sweep, /healthz says "degraded", and everything is live again
when Redis returns. The Redis here is a private one the test stops and starts (never the
machine's shared server)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import free_port
from tests.live import DemoTemplates, LiveServer
from tests.live_helpers import CUSTOMER, STAFF, WAIT_SECONDS, WsClient, api_for

REDIS_SERVER = shutil.which("redis-server")
START_SECONDS = 10.0


class PrivateRedis:
    """A redis-server of this test's own on a free port, stoppable and restartable."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 1):
                    return
            except OSError:
                assert time.monotonic() < deadline, "the private redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if REDIS_SERVER is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs redis-server to test a Redis outage")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(
    redis: PrivateRedis, sqlite_url: str, tmp_path: Path, demo_templates: DemoTemplates
) -> Iterator[LiveServer]:
    live = LiveServer(sqlite_url, tmp_path, env_extra={"BROKER_URL": redis.url})
    demo_templates.load_into(live)
    live.start()
    try:
        yield live
    finally:
        live.stop()


async def health_becomes(server: LiveServer, status: str) -> dict[str, str]:
    """Wait until /healthz reports this status (always with HTTP 200); return its answer."""
    deadline = time.monotonic() + WAIT_SECONDS
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as http:
        while True:
            r = await http.get("/healthz")
            assert r.status_code == 200, r.text
            if r.json()["status"] == status:
                return dict(r.json())
            assert time.monotonic() < deadline, f"/healthz never said {status!r}: {r.json()!r}"
            await asyncio.sleep(0.1)


def test_while_redis_is_down_new_sockets_open_resume_and_receive_and_all_is_live_when_it_returns(
    redis: PrivateRedis, server: LiveServer
) -> None:
    async def scenario() -> None:
        customer = await api_for(server, CUSTOMER)
        staff = await api_for(server, STAFF)
        thread = (await customer.start_thread("Redis macht Pause"))["id"]
        before = await WsClient.open(server, token=staff.token)
        sockets = [before]
        try:
            _, subscribed = await before.subscribe(thread, since=None)
            seq = subscribed["seq"]
            await health_becomes(server, "ok")

            await asyncio.to_thread(redis.stop)
            r = await customer.post(thread, "während Redis fehlt")
            assert r.status_code == 201, r.text
            health = await health_becomes(server, "degraded")
            assert "Redis" in health["reason"], health
            [event] = await before.events(thread, 1)  # an old socket: through the sweep
            assert event["message"]["body"] == "während Redis fehlt"

            late = await WsClient.open(server, token=customer.token)  # was: HTTP 500
            sockets.append(late)
            replay, _ = await late.subscribe(thread, since=seq)
            assert [e["message"]["body"] for e in replay] == ["während Redis fehlt"]
            r = await staff.post(thread, "noch ohne Redis")
            assert r.status_code == 201, r.text
            [event] = await late.events(thread, 1)  # a new socket: through the sweep
            assert event["message"]["body"] == "noch ohne Redis"
            [event] = await before.events(thread, 1)

            await asyncio.to_thread(redis.start)
            await health_becomes(server, "ok")
            # Typing travels only through the broker (nothing in the database to sweep): it
            # arrives once the channels the late socket subscribed to during the outage are.
            await before.send_json({"type": "typing", "thread": thread})
            notice = await late.next_of_type("typing", thread=thread)
            assert notice["user"] == staff.id
        finally:
            for ws in sockets:
                await ws.close()
            await customer.aclose()
            await staff.aclose()

    asyncio.run(scenario())
