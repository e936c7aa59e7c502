"""Which browser origins may open a socket: the server's own always, ALLOWED_ORIGINS besides.

docs/protocol.md promises the server's own origin is allowed; setting ALLOWED_ORIGINS (for a
front end on another host) must not take that away from people using the server's own pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from server.settings import Settings
from tests.live import DemoTemplates, LiveServer
from tests.live_helpers import CUSTOMER, Scene, WsClient, browser_session, cookie_header

OTHER_FRONT_END = "https://talk.example.com"


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://dk.example", "dk.example", True),  # its own origin
        ("https://dk.example", "dk.example", True),  # behind a TLS proxy
        (OTHER_FRONT_END, "dk.example", True),  # listed
        ("https://evil.example", "dk.example", False),
        ("http://dk.example.evil.example", "dk.example", False),
        ("null", "dk.example", False),
        ("http://dk.example", None, False),
        (None, "dk.example", True),  # not a browser: authenticates by token
    ],
)
def test_with_allowed_origins_set_the_servers_own_origin_is_still_allowed(
    origin: str | None, host: str | None, allowed: bool
) -> None:
    settings = Settings(allowed_origins=(OTHER_FRONT_END,))
    assert settings.origin_allowed(origin, host) is allowed


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, demo_templates: DemoTemplates
) -> Iterator[LiveServer]:
    """A real server with the demo company that also serves a front end on another host."""
    folder: Path = tmp_path_factory.mktemp("origins")
    live = LiveServer(
        f"sqlite://{folder / 'demo.sqlite3'}", folder,
        env_extra={"ALLOWED_ORIGINS": OTHER_FRONT_END},
    )  # fmt: skip
    demo_templates.load_into(live)
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
async def scene(server: LiveServer) -> AsyncIterator[Scene]:
    async with Scene(server) as s:
        yield s


async def test_a_browser_on_the_servers_own_pages_opens_its_socket_with_allowed_origins_set(
    scene: Scene,
) -> None:
    session = await asyncio.to_thread(browser_session, scene.server, CUSTOMER)
    try:
        cookies = cookie_header(session)
        own = await scene.browser_socket(session)  # Origin: the server's own URL
        listed = await scene.browser_socket(session, origin=OTHER_FRONT_END)
    finally:
        session.close()
    for ws in (own, listed):
        await ws.sync()
    with pytest.raises(InvalidStatus) as refused:
        foreign = await WsClient.open(
            scene.server, cookies=cookies, origin="https://evil.example", fmt="html"
        )
        await foreign.close()
    assert refused.value.response.status_code == 403
