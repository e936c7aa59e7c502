"""The push endpoint guard: a subscription must not make the server call into a private network."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from push.endpoints import (
    DEFAULT_PUSH_HOSTS,
    EndpointRefused,
    check_resolves_public,
    check_shape,
    host_allowed,
)

TEST_PREFIX = "http://127.0.0.1:8123/push/"


def refused(endpoint: str, allowed: tuple[str, ...] = DEFAULT_PUSH_HOSTS, prefix: str = "") -> str:
    """Return why check_shape refuses the endpoint (failing if it does not)."""
    with pytest.raises(EndpointRefused) as info:
        check_shape(endpoint, allowed, prefix)
    return str(info.value)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/x",
        "https://fcm.googleapis.com:443/fcm/send/x",
        "https://FCM.googleapis.com./fcm/send/x",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGuQyavXutnMH",
        "https://x.notify.windows.com/w/?token=AwYAAAB",
        "https://wns2-par02p.notify.windows.com/w/?token=AwYAAAB",
        "https://notify.windows.com/w/?token=AwYAAAB",
    ],
)
def test_the_guard_accepts_the_push_services_browsers_use(endpoint: str) -> None:
    check_shape(endpoint, DEFAULT_PUSH_HOSTS)


def test_a_deployment_can_allow_another_push_service() -> None:
    check_shape("https://push.example.net/x", (*DEFAULT_PUSH_HOSTS, "push.example.net"))
    refused("https://push.example.net/x")


@pytest.mark.parametrize(
    "endpoint", ["http://fcm.googleapis.com/fcm/send/x", "ftp://fcm.googleapis.com/x", "fcm/x"]
)
def test_the_guard_refuses_anything_but_https(endpoint: str) -> None:
    assert "must use https" in refused(endpoint)


@pytest.mark.parametrize("port", [80, 8443, 444, 22])
def test_the_guard_refuses_ports_other_than_443(port: int) -> None:
    assert "port 443" in refused(f"https://fcm.googleapis.com:{port}/fcm/send/x")


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1/push/x",
        "https://10.0.0.1/push/x",
        "https://192.168.1.10/push/x",
        "https://172.16.0.1/push/x",
        "https://169.254.169.254/latest/meta-data",  # the cloud metadata service
        "https://8.8.8.8/push/x",  # even a public address: push services have names
        "https://[::1]/push/x",
        "https://[fe80::1]/push/x",
        "https://[fe80::1%25eth0]/push/x",
        "https://[fd00::1]/push/x",
        "https://[::ffff:127.0.0.1]/push/x",
        "https://[2001:4860:4860::8888]/push/x",
    ],
)
def test_the_guard_refuses_ip_literals(endpoint: str) -> None:
    assert "not the address" in refused(endpoint)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://localhost/push/x",
        "https://evil.example/fcm/send/x",
        "https://fcm.googleapis.com.evil.example/fcm/send/x",
        "https://evilfcm.googleapis.com/fcm/send/x",
        "https://googleapis.com/fcm/send/x",
        "https://xnotify.windows.com/w/",
        "https://notify.windows.com.evil.example/w/",
        "https://2130706433/push/x",  # 127.0.0.1 as one number, which some resolvers accept
    ],
)
def test_the_guard_refuses_hosts_not_on_the_allowlist(endpoint: str) -> None:
    assert "not a known push service" in refused(endpoint)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://user:secret@fcm.googleapis.com/fcm/send/x",
        "https://user@fcm.googleapis.com/fcm/send/x",
        "https://fcm.googleapis.com@evil.example/fcm/send/x",
    ],
)
def test_the_guard_refuses_credentials_in_the_url(endpoint: str) -> None:
    assert "credentials" in refused(endpoint)


@pytest.mark.parametrize(
    "endpoint",
    ["https://fcm.googleapis.com:99999/fcm/send/x", "https://[::1/push/x", "https://[nonsense]/x"],
)
def test_the_guard_refuses_malformed_urls_with_its_own_error(endpoint: str) -> None:
    # A plain ValueError would escape callers that catch EndpointRefused (a job would crash).
    assert "not a valid URL" in refused(endpoint)


def test_the_guard_refuses_endpoints_longer_than_1024_characters() -> None:
    assert "longer than 1024" in refused("https://fcm.googleapis.com/fcm/send/" + "x" * 1000)


def test_a_leading_dot_allows_subdomains_and_the_domain_itself_only() -> None:
    allowed = (".notify.windows.com",)
    for host in ("x.notify.windows.com", "a.b.notify.windows.com", "notify.windows.com"):
        assert host_allowed(host, allowed), host
    for host in ("xnotify.windows.com", "notify.windows.com.evil.example", "windows.com"):
        assert not host_allowed(host, allowed), host
    assert not host_allowed("x.fcm.googleapis.com", DEFAULT_PUSH_HOSTS)


# -- the test prefix ----------------------------------------------------------------------------


def test_the_test_prefix_admits_the_local_push_service_and_nothing_else() -> None:
    check_shape(TEST_PREFIX + "abc", DEFAULT_PUSH_HOSTS, TEST_PREFIX)
    for endpoint in (
        "http://127.0.0.1:8124/push/abc",  # another port
        "http://127.0.0.1:8123/admin",  # another path on the same server
        "http://127.0.0.1:81234/push/abc",
        "http://10.0.0.1:8123/push/abc",
        "https://evil.example/push/abc",
    ):
        refused(endpoint, prefix=TEST_PREFIX)


def test_without_a_test_prefix_loopback_private_and_link_local_endpoints_are_refused() -> None:
    for endpoint in (
        TEST_PREFIX + "abc",
        "https://127.0.0.1/push/abc",
        "https://192.168.0.1/push/abc",
        "https://[fe80::1]/push/abc",
    ):
        refused(endpoint)
        refused(endpoint, prefix="")


# -- where a name resolves to -------------------------------------------------------------------


def resolving(monkeypatch: pytest.MonkeyPatch, addresses: list[str]) -> list[str]:
    """Make every name resolve to these addresses; return the list of names looked up."""
    looked_up: list[str] = []

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        looked_up.append(host)
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return looked_up


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.1.2.3"],
        ["172.20.0.5"],
        ["192.168.178.1"],
        ["169.254.169.254"],
        ["100.64.0.1"],  # carrier-grade NAT
        ["0.0.0.0"],
        ["::1"],
        ["fe80::1%eth0"],
        ["fd12:3456::1"],
        ["::ffff:10.0.0.1"],
        ["142.250.74.106", "10.0.0.7"],  # one private answer is enough to refuse
        # Public to Python's ipaddress, yet they wrap any IPv4 address, private ones too:
        ["64:ff9b::7f00:1"],  # NAT64 of 127.0.0.1
        ["64:ff9b::a9fe:a9fe"],  # NAT64 of 169.254.169.254
        ["64:ff9b:1::a00:1"],  # local-use NAT64
        ["2002:a00:1::1"],  # 6to4 of 10.0.0.1
        ["2002:808:808::1"],  # 6to4, even of a public address: a relay decides where it goes
        ["::127.0.0.1"],  # IPv4-compatible (deprecated)
        ["2001:0:4136:e378:8000:63bf:3fff:fdd2"],  # Teredo
        ["192.88.99.1"],  # 6to4 relay anycast
        ["fec0::1"],  # site-local (deprecated)
        ["224.0.0.251"],  # multicast (mDNS)
        ["239.255.255.250"],  # multicast (SSDP)
        ["ff02::1"],  # multicast, all nodes
        ["ff0e::1"],  # multicast, global scope
        ["240.0.0.1"],  # reserved
        ["255.255.255.255"],
    ],
)
async def test_a_host_that_resolves_to_a_non_public_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, addresses: list[str]
) -> None:
    looked_up = resolving(monkeypatch, addresses)
    with pytest.raises(EndpointRefused, match="non-public address"):
        await check_resolves_public("https://fcm.googleapis.com/fcm/send/x")
    assert looked_up == ["fcm.googleapis.com"]


async def test_a_host_that_resolves_to_public_addresses_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolving(monkeypatch, ["142.250.74.106", "2a00:1450:4001:80e::200a"])
    await check_resolves_public("https://fcm.googleapis.com/fcm/send/x")


async def test_a_host_that_does_not_resolve_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    resolving(monkeypatch, [])
    with pytest.raises(EndpointRefused, match="cannot resolve"):
        await check_resolves_public("https://fcm.googleapis.com/fcm/send/x")


async def test_a_host_name_idna_cannot_encode_is_refused_before_any_lookup() -> None:
    # A 64-character label passes the allowlist (".notify.windows.com") but not IDNA.
    endpoint = "https://" + "a" * 64 + ".notify.windows.com/w/"
    check_shape(endpoint, DEFAULT_PUSH_HOSTS)
    with pytest.raises(EndpointRefused, match="cannot resolve"):
        await check_resolves_public(endpoint)


async def test_the_test_prefix_skips_the_lookup_and_the_default_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up = resolving(monkeypatch, ["127.0.0.1"])
    await check_resolves_public(TEST_PREFIX + "abc", TEST_PREFIX)
    assert looked_up == []
    with pytest.raises(EndpointRefused):
        await check_resolves_public("https://fcm.googleapis.com/fcm/send/x", TEST_PREFIX)
    with pytest.raises(EndpointRefused):
        await check_resolves_public("https://fcm.googleapis.com/fcm/send/x", "")
    assert looked_up == ["fcm.googleapis.com", "fcm.googleapis.com"]
