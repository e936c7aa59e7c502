"""Helpers for end-to-end tests against a real server: people, the JSON API and sockets.

Used by tests/test_live_*.py with the `live_server` fixture from conftest.py. Every wait is
bounded by a timeout, and every client talks to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import uuid
from typing import Any

import httpx2 as httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from tests.conftest import DEMO_PASSWORD, login
from tests.live import LiveServer

WAIT_SECONDS = 10.0  # a frame that takes longer than this on a loaded CI machine is lost
QUIET_SECONDS = 0.3  # how long "nothing else arrives" is watched after a ping round trip

CUSTOMER = "weber@example.org"
CUSTOMER_2 = "tom@example.org"
CUSTOMER_3 = "lena@example.org"
STAFF = "jan@nordlicht.example"
STAFF_2 = "mira@nordlicht.example"
INTERNAL_TITLE = "Rollout of the new smart meters in district north"


def new_client_id() -> str:
    return uuid.uuid4().hex


def random_id(chars: int = 12) -> str:
    """Return an id that exists nowhere, shaped like a real one (12 URL-safe characters)."""
    return secrets.token_urlsafe(chars)[:chars]


def without(frame: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Return a frame without some fields (those that echo what the client sent)."""
    return {k: v for k, v in frame.items() if k not in keys}


# -- HTTP -------------------------------------------------------------------------------------


class Api:
    """A JSON API client for one person, authenticated by a bearer token."""

    def __init__(self, server: LiveServer, token: str, user: dict[str, Any]) -> None:
        self.server = server
        self.token = token
        self.user = user
        self.http = httpx.AsyncClient(
            base_url=server.url,
            headers={"Authorization": "Bearer " + token},
            timeout=WAIT_SECONDS,
            trust_env=False,
        )

    @property
    def id(self) -> str:
        return str(self.user["id"])

    async def aclose(self) -> None:
        await self.http.aclose()

    async def start_thread(
        self,
        title: str = "Meter reading looks wrong",
        visibility: str = "public",
        kind: str = "discussion",
    ) -> dict[str, Any]:
        """Open a new thread with one message; return its JSON. A discussion by default: its
        status follows no reply, so the events these tests count are the messages alone (a
        question's status moves with staff replies: tests/test_desk.py)."""
        r = await self.http.post(
            "/api/v1/threads",
            json={"title": title, "body": "First message of " + title, "client_id": new_client_id(),
                  "visibility": visibility, "kind": kind},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        return dict(r.json()["thread"])

    async def post(
        self, thread: str, body: str, client_id: str | None = None, audience: str | None = None
    ) -> httpx.Response:
        data: dict[str, Any] = {"body": body, "client_id": client_id or new_client_id()}
        if audience is not None:
            data["audience"] = audience
        return await self.http.post(f"/api/v1/threads/{thread}/messages", json=data)

    async def messages(self, thread: str) -> list[dict[str, Any]]:
        """Return every message of a thread this person can see, oldest first."""
        found: list[dict[str, Any]] = []
        before = ""
        for _ in range(100):  # 100 pages of 100: far more than any test writes
            r = await self.http.get(
                f"/api/v1/threads/{thread}/messages",
                params={"limit": 100, **({"before": before} if before else {})},
            )
            assert r.status_code == 200, r.text
            page = r.json()
            found.extend(page["messages"])
            if not page["next_before"]:
                break
            before = page["next_before"]
        found.reverse()
        return found

    async def thread_row(self, thread: str) -> dict[str, Any]:
        """Return the thread as GET /api/v1/threads lists it for this person."""
        r = await self.http.get("/api/v1/threads", params={"limit": 100})
        assert r.status_code == 200, r.text
        rows = [t for t in r.json()["threads"] if t["id"] == thread]
        assert len(rows) == 1, f"thread {thread!r} is not listed once: {rows!r}"
        return dict(rows[0])

    async def internal_thread(self) -> dict[str, Any]:
        """Return the demo company's internal thread (staff only)."""
        r = await self.http.get("/api/v1/threads", params={"limit": 100})
        assert r.status_code == 200, r.text
        rows = [t for t in r.json()["threads"] if t["title"] == INTERNAL_TITLE]
        assert len(rows) == 1, f"no internal demo thread in {r.json()!r}"
        return dict(rows[0])


async def api_for(server: LiveServer, email: str) -> Api:
    """Sign in over the JSON API and return a client holding the token."""
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_SECONDS, trust_env=False) as c:
        r = await c.post("/api/v1/tokens", json={"email": email, "password": DEMO_PASSWORD})
    assert r.status_code == 201, r.text
    data = r.json()
    return Api(server, data["token"], data["user"])


def browser_session(server: LiveServer, email: str) -> httpx.Client:
    """Sign in through the HTML form like a browser; the client keeps the cookies."""
    c = httpx.Client(base_url=server.url, timeout=WAIT_SECONDS, trust_env=False)
    login(c, email, DEMO_PASSWORD)
    return c


def cookie_header(session: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in session.cookies.items())


# -- WebSocket ------------------------------------------------------------------------------


class WsClient:
    """One socket: collects every frame and lets a test wait for the next one of a type."""

    _pings = itertools.count(1)

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []  # every frame, in arrival order
        self._pending: list[tuple[int, dict[str, Any]]] = []  # not yet taken by a wait
        self._arrived = asyncio.Event()
        self.closed = False
        self._reader = asyncio.create_task(self._read())
        self.hello: dict[str, Any] = {}

    @classmethod
    async def open(
        cls,
        server: LiveServer,
        *,
        token: str | None = None,
        cookies: str | None = None,
        origin: str | None = None,
        fmt: str = "json",
        language: str = "en",
        lists: bool = False,
    ) -> WsClient:
        """Open a socket and wait for `hello`; handshake errors propagate.

        `lists` asks for `activity` notices of every visible thread (`?list=1`).
        """
        headers = {"Accept-Language": language}
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        if cookies is not None:
            headers["Cookie"] = cookies
        query = "&".join(
            part for part, wanted in (("format=json", fmt == "json"), ("list=1", lists)) if wanted
        )
        url = server.ws_url + ("?" + query if query else "")
        ws = await connect(
            url,
            origin=Origin(origin) if origin is not None else None,
            additional_headers=headers,
            proxy=None,
            compression=None,
            open_timeout=WAIT_SECONDS,
            close_timeout=2,
            max_size=4 * 1024 * 1024,
        )
        client = cls(ws)
        try:
            client.hello = await client.next_of_type("hello")
        except BaseException:
            await client.close()
            raise
        return client

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                assert isinstance(raw, str), f"the server sent a binary frame: {raw!r:.80}"
                frame = json.loads(raw)
                self._pending.append((len(self.received), frame))
                self.received.append(frame)
                self._arrived.set()
        except ConnectionClosed:
            pass  # the close code is on self.ws
        finally:
            self.closed = True
            self._arrived.set()

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(self._reader, WAIT_SECONDS)

    async def wait_closed(self) -> None:
        """Wait until the server has closed the socket."""
        await asyncio.shield(self._reader)

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    async def send_json(self, data: Any) -> None:
        """Send a frame as browsers do: UTF-8, non-ASCII characters unescaped."""
        await self.ws.send(json.dumps(data, ensure_ascii=False))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    # -- waiting ----------------------------------------------------------------------------

    def _take(self, kind: str, match: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        for i, (n, frame) in enumerate(self._pending):
            if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
                del self._pending[i]
                return n, frame
        return None

    async def _wait_for(
        self, kind: str, timeout: float, match: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._arrived.clear()
            found = self._take(kind, match)
            if found is not None:
                return found
            if self._reader.done():
                raise AssertionError(
                    f"socket closed ({self.close_code}) while waiting for {kind!r} {match!r}; "
                    f"unclaimed: {[f for _, f in self._pending]!r:.2000}"
                )
            remaining = deadline - loop.time()
            try:
                await asyncio.wait_for(self._arrived.wait(), max(remaining, 0))
            except TimeoutError:
                raise AssertionError(
                    f"no {kind!r} frame {match!r} within {timeout} s; "
                    f"unclaimed: {[f for _, f in self._pending]!r:.2000}"
                ) from None

    async def next_of_type(
        self, kind: str, timeout: float = WAIT_SECONDS, **match: Any
    ) -> dict[str, Any]:
        """Take the oldest unclaimed frame of this type (and these field values), waiting."""
        return (await self._wait_for(kind, timeout, match))[1]

    async def events(
        self, thread: str, count: int, timeout: float = WAIT_SECONDS
    ) -> list[dict[str, Any]]:
        """Take the next `count` events of a thread, in arrival order."""
        return [await self.next_of_type("event", timeout, thread=thread) for _ in range(count)]

    async def subscribe(
        self, thread: str, since: int | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Subscribe; return the events that came before `subscribed`, and `subscribed`."""
        start = self.mark()
        await self.send_json({"type": "subscribe", "thread": thread, "since": since})
        n, done = await self._wait_for("subscribed", WAIT_SECONDS, {"thread": thread})
        replay = [
            f for i, f in self._pending
            if start <= i < n and f.get("type") == "event" and f.get("thread") == thread
        ]  # fmt: skip
        self._pending = [(i, f) for i, f in self._pending if not any(f is r for r in replay)]
        return replay, done

    async def sync(self) -> None:
        """Ping and wait for the pong: every earlier frame of ours has been handled."""
        t = next(self._pings)
        await self.send_json({"type": "ping", "t": t})
        await self.next_of_type("pong", t=t)

    async def quiet(self) -> None:
        """Sync, then give stray frames a moment to show up (for 'nothing arrives' checks)."""
        await self.sync()
        await asyncio.sleep(QUIET_SECONDS)

    def mark(self) -> int:
        return len(self.received)

    def since(self, mark: int, *kinds: str) -> list[dict[str, Any]]:
        """Return the frames received after a mark (of these types, if given)."""
        return [f for f in self.received[mark:] if not kinds or f.get("type") in kinds]

    def unclaimed(self, *kinds: str) -> list[dict[str, Any]]:
        """Return the frames no wait has taken yet (of these types, if given)."""
        return [f for _, f in self._pending if not kinds or f.get("type") in kinds]

    async def send_message(
        self,
        thread: str,
        body: str,
        client_id: str | None = None,
        audience: str | None = None,
    ) -> dict[str, Any]:
        """Send a message and return its ack."""
        cid = client_id or new_client_id()
        frame: dict[str, Any] = {"type": "send", "thread": thread, "client_id": cid, "body": body}
        if audience is not None:
            frame["audience"] = audience
        await self.send_json(frame)
        return await self.next_of_type("ack", client_id=cid)


class Scene:
    """The people and sockets of one test; closes them all at the end."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.apis: list[Api] = []
        self.sockets: list[WsClient] = []

    async def __aenter__(self) -> Scene:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for ws in self.sockets:
            await ws.close()
        for api in self.apis:
            await api.aclose()

    async def person(self, email: str) -> Api:
        """Sign someone in over the JSON API."""
        api = await api_for(self.server, email)
        self.apis.append(api)
        return api

    async def socket(self, who: Api, *, fmt: str = "json", lists: bool = False) -> WsClient:
        """Open a token-authenticated socket for someone."""
        ws = await WsClient.open(self.server, token=who.token, fmt=fmt, lists=lists)
        self.sockets.append(ws)
        return ws

    async def browser_socket(
        self, session: httpx.Client, *, origin: str | None = None, language: str = "en"
    ) -> WsClient:
        """Open a socket like a browser: session cookie and the page's Origin."""
        ws = await WsClient.open(
            self.server, cookies=cookie_header(session), origin=origin or self.server.url,
            fmt="html", language=language,
        )  # fmt: skip
        self.sockets.append(ws)
        return ws
