"""Which push endpoints we may talk to: https on 443 at a known push service's public host.

The shape is checked when a subscription is saved and before every delivery; the addresses when
it is saved, and by the resolver of the connection that delivers (push/resolver.py), so what is
checked is what is connected to even when DNS answers differently the second time. A
subscription cannot make the server call into a private network (SSRF).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

# Push services of the browsers people use; a deployment can add more (PUSH_SERVICE_HOSTS).
DEFAULT_PUSH_HOSTS = (
    "fcm.googleapis.com",  # Chrome, Edge on Android, Samsung Internet
    "updates.push.services.mozilla.com",  # Firefox
    "push.services.mozilla.com",
    "web.push.apple.com",  # Safari, iOS home-screen apps
    ".notify.windows.com",  # Edge on Windows (a leading dot allows subdomains)
    "push.api.chrome.google.com",
)


class EndpointRefused(ValueError):
    """An endpoint we will not send to, with the reason."""


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower()
        if entry.startswith(".") and (host.endswith(entry) or host == entry[1:]):
            return True
        if host == entry:
            return True
    return False


# Addresses Python's ipaddress may call global that still lead somewhere private: a NAT64 or
# 6to4 address wraps any IPv4 address, 127.0.0.1 and 10.0.0.1 too, and gateways unwrap it.
NOT_PUBLIC_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "64:ff9b::/96",  # NAT64, the well-known prefix (RFC 6052)
        "64:ff9b:1::/48",  # NAT64, local use (RFC 8215)
        "2002::/16",  # 6to4 (RFC 3056)
        "2001::/32",  # Teredo (RFC 4380)
        "::/96",  # IPv4-compatible, deprecated (RFC 4291): ::127.0.0.1
        "fec0::/10",  # site-local, deprecated (RFC 3879)
        "192.88.99.0/24",  # 6to4 relay anycast, deprecated (RFC 7526)
    )
)


def is_public(address: str) -> bool:
    """Tell whether an address is one push may connect to: a global unicast address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 reaches 10.0.0.1
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return False
    if ip.is_private or ip.is_loopback or ip.is_link_local:
        return False
    return not any(ip in net for net in NOT_PUBLIC_NETWORKS if net.version == ip.version)


def check_shape(endpoint: str, allowed_hosts: tuple[str, ...], test_prefix: str = "") -> None:
    """Refuse endpoints that are not https:443 at an allowed host (no DNS lookup)."""
    if test_prefix and endpoint.startswith(test_prefix):
        return  # the test suite's local push service (PUSH_TEST_ENDPOINT_PREFIX)
    if len(endpoint) > 1024:
        raise EndpointRefused("the endpoint is longer than 1024 characters")
    try:  # urlsplit and .port raise ValueError for "https://[::1" or a port over 65535
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as err:
        raise EndpointRefused(f"{endpoint!r} is not a valid URL: {err}") from None
    if parts.scheme != "https":
        raise EndpointRefused(f"push endpoints must use https, not {parts.scheme!r}")
    if port not in (None, 443):
        raise EndpointRefused(f"push endpoints must use port 443, not {port!r}")
    if parts.username or parts.password:
        raise EndpointRefused("push endpoints must not carry credentials")
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise EndpointRefused(f"push endpoints must name a host, not the address {host!r}")
    if not host_allowed(host, allowed_hosts):
        raise EndpointRefused(f"{host!r} is not a known push service")


async def check_resolves_public(endpoint: str, test_prefix: str = "") -> None:
    """Refuse an endpoint whose host resolves to a private, loopback or link-local address."""
    if test_prefix and endpoint.startswith(test_prefix):
        return
    host = urlsplit(endpoint).hostname or ""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:  # UnicodeError: a label IDNA cannot encode
        raise EndpointRefused(f"cannot resolve {host!r}: {err}") from None
    for info in infos:
        address = str(info[4][0])
        if not is_public(address):
            raise EndpointRefused(f"{host!r} resolves to the non-public address {address}")
