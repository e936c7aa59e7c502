"""The connections pushes go out on: they reach public addresses only.

Checking where an endpoint's name points and then letting the HTTP client look the name up
again leaves a window: the second answer may be 127.0.0.1 or the cloud's metadata service
(DNS rebinding). aiohttp connects to exactly the addresses its resolver returns, so the check
sits in the resolver of the session that sends pushes: what is checked is what is connected
to. (An IP literal never reaches a resolver; push/endpoints.check_shape refuses those.)
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from push.endpoints import is_public


class NonPublicAddress(OSError):
    """A push service's name resolved to an address push must not connect to."""


class PublicResolver(AbstractResolver):
    """aiohttp's own resolver, refusing a name with any non-public address among its answers."""

    def __init__(
        self, trusted: tuple[str, int] | None = None, inner: AbstractResolver | None = None
    ) -> None:
        self._trusted = trusted  # the test suite's local push service (host, port), if any
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        if (host, port) == self._trusted:
            return answers
        for answer in answers:
            if not is_public(answer["host"]):
                # An OSError, so aiohttp reports it as a failed lookup (ClientConnectorError).
                raise NonPublicAddress(
                    f"{host!r} resolves to the non-public address {answer['host']}"
                )
        return answers

    async def close(self) -> None:
        await self._inner.close()


def open_session(test_prefix: str = "") -> aiohttp.ClientSession:
    """Open the HTTP session pushes are sent on (call it on the loop that will use it).

    With PUSH_TEST_ENDPOINT_PREFIX set, the host and port it names are trusted, so the test
    suite's local push service can be reached however its host is written.
    """
    trusted = None
    if test_prefix:
        parts = urlsplit(test_prefix)
        default_port = 443 if parts.scheme == "https" else 80
        trusted = (parts.hostname or "", parts.port or default_port)
    connector = aiohttp.TCPConnector(resolver=PublicResolver(trusted))
    return aiohttp.ClientSession(connector=connector, trust_env=False)  # no proxy from env
