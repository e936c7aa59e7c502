"""DNS rebinding: a push service's name that points somewhere public when the endpoint is checked
and at the server's own network when the push is sent. The session that sends pushes
(push/resolver.py) checks the addresses it connects to, so the second answer is refused."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from push import sender
from push.endpoints import check_resolves_public
from push.resolver import NonPublicAddress, PublicResolver, open_session
from push.sender import Device, Outcome
from push.vapid import VapidKeys, load_or_create
from tests.pushservice import HOST, PushService

REBINDING = "push.rebinding.example"  # never looked up for real: the tests answer for it
PUBLIC = "142.250.74.106"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> VapidKeys:
    return load_or_create(tmp_path_factory.mktemp("vapid"), "", "mailto:ops@example.org")


@pytest.fixture(scope="module")
def service() -> Iterator[PushService]:
    with PushService() as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with open_session() as s:
        yield s


def answering(monkeypatch: pytest.MonkeyPatch, *answers: list[str]) -> list[str]:
    """Make REBINDING resolve to each list of addresses in turn (the last one from then on);
    other names resolve as usual. Return the list of REBINDING's lookups."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != REBINDING:
            return real(host, port, *args, **kwargs)
        addresses = answers[min(len(lookups), len(answers) - 1)]
        lookups.append(host)
        port = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return lookups


async def test_a_name_that_turns_to_loopback_after_the_check_gets_no_push(
    monkeypatch: pytest.MonkeyPatch,
    session: aiohttp.ClientSession,
    keys: VapidKeys,
    service: PushService,
) -> None:
    sub = service.subscribe(keys.public_key)
    # The local push service, reached by a name instead of 127.0.0.1.
    endpoint = sub.endpoint.replace(f"//{HOST}:", f"//{REBINDING}:")
    lookups = answering(monkeypatch, [PUBLIC], [HOST])
    await check_resolves_public(endpoint)  # what the check sees: a public address
    attempts = service.stats()["attempts"]
    result = await sender.send(
        session, keys, Device(endpoint, sub.p256dh, sub.auth), b'{"title":"x"}', 60, "normal"
    )
    assert (result.outcome, result.status) == (Outcome.REJECTED, None)
    assert result.detail == f"'{REBINDING}' resolves to the non-public address {HOST}"
    assert lookups == [REBINDING, REBINDING]  # checked once, and again as it connected
    assert service.stats()["attempts"] == attempts
    assert service.messages(sub) == []


async def test_the_test_prefix_trusts_its_own_host_and_port_only(
    monkeypatch: pytest.MonkeyPatch, keys: VapidKeys, service: PushService
) -> None:
    sub = service.subscribe(keys.public_key)
    device = Device(sub.endpoint.replace(f"//{HOST}:", f"//{REBINDING}:"), sub.p256dh, sub.auth)
    answering(monkeypatch, [HOST])
    prefix = service.endpoint_prefix.replace(f"//{HOST}:", f"//{REBINDING}:")
    attempts = service.stats()["attempts"]
    async with open_session(prefix) as trusting:
        result = await sender.send(trusting, keys, device, b'{"title":"x"}', 60, "normal")
    # It reached the service (which refuses a JWT for another name than its own: 403).
    assert (result.status, service.stats()["attempts"]) == (403, attempts + 1)
    async with open_session(prefix.replace(f":{service.port}/", ":1/")) as other_port:
        result = await sender.send(other_port, keys, device, b'{"title":"x"}', 60, "normal")
    assert (result.outcome, result.status) == (Outcome.REJECTED, None)
    assert "non-public address" in result.detail
    assert service.stats()["attempts"] == attempts + 1


class Answers(PublicResolver):
    """The guard around a resolver that gives fixed answers."""

    def __init__(self, *addresses: str, trusted: tuple[str, int] | None = None) -> None:
        outer = self

        class Fixed(aiohttp.abc.AbstractResolver):
            async def resolve(self, host: str, port: int = 0, family: Any = 0) -> Any:
                return [
                    {"hostname": host, "host": a, "port": port, "family": socket.AF_INET,
                     "proto": 0, "flags": 0}
                    for a in addresses
                ]  # fmt: skip

            async def close(self) -> None:
                outer.closed = True

        self.closed = False
        super().__init__(trusted, Fixed())


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.0.0.7", "169.254.169.254", "::1", "fe80::1%eth0", "fd00::1",
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata service, 169.254.169.254
        "64:ff9b:1::7f00:1", "2002:7f00:1::1", "ff02::1", "224.0.0.251", "::ffff:10.0.0.1",
    ],
)  # fmt: skip
async def test_the_resolver_refuses_a_name_with_any_non_public_answer(address: str) -> None:
    resolver = Answers(PUBLIC, address)
    with pytest.raises(NonPublicAddress, match="non-public address"):
        await resolver.resolve("fcm.googleapis.com", 443)
    await resolver.close()
    assert resolver.closed


async def test_the_resolver_passes_public_answers_through() -> None:
    answers = await Answers(PUBLIC, "2a00:1450:4001:80e::200a").resolve("fcm.googleapis.com", 443)
    assert [a["host"] for a in answers] == [PUBLIC, "2a00:1450:4001:80e::200a"]
    trusted = Answers(HOST, trusted=("push.test", 8123))
    assert [a["host"] for a in await trusted.resolve("push.test", 8123)] == [HOST]
    with pytest.raises(NonPublicAddress):
        await trusted.resolve("push.test", 8124)
