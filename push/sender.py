"""Deliver one encrypted push message. The only module that imports pywebpush.

Every response maps to one outcome: DELIVERED (201), GONE (404/410: forget the device),
RETRY (429, 5xx, timeouts, network errors; honours Retry-After), TOO_BIG (413: shorten and
resend), REJECTED (any other 4xx, or a name that resolves to a non-public address when
connecting (push/resolver.py): record on the device, do not retry).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

import aiohttp
from py_vapid import Vapid02
from pywebpush import WebPusher

from push.resolver import NonPublicAddress
from push.vapid import VapidKeys

SEND_TIMEOUT_SECONDS = 10.0  # push services answer in well under a second when healthy
VAPID_LIFETIME_SECONDS = 12 * 3600  # services accept at most 24 h; half leaves clock slack
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0  # more is nonsense, and "inf" would overflow a datetime
ERROR_TEXT_BYTES = 1024  # of a refusal's body, kept for the device's last error


class Outcome(StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"
    RETRY = "retry"
    TOO_BIG = "too_big"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status: int | None  # HTTP status, None when no answer came
    detail: str
    retry_after: float | None = None  # seconds, from Retry-After


@dataclass(frozen=True)
class Device:
    endpoint: str
    p256dh: str
    auth: str


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)


@functools.lru_cache(maxsize=4)
def _signer(private_pem: str) -> Vapid02:
    """Parse the server's key once, not once per push (parsing costs more than signing)."""
    return Vapid02.from_pem(private_pem.encode())


def vapid_headers(keys: VapidKeys, endpoint: str) -> dict[str, str]:
    """Sign a fresh VAPID JWT for the endpoint's origin (never reuse a claims dict)."""
    parts = urlsplit(endpoint)
    claims: dict[str, str | int] = {
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(time.time()) + VAPID_LIFETIME_SECONDS,
        "sub": keys.subject,
    }
    signed = _signer(keys.private_pem).sign(claims)
    return {"Authorization": str(signed["Authorization"])}


def encrypt(device: Device, payload: bytes) -> bytes:
    """Encrypt a payload for a device (RFC 8291, aes128gcm)."""
    pusher = WebPusher({"endpoint": device.endpoint,
                        "keys": {"p256dh": device.p256dh, "auth": device.auth}})  # fmt: skip
    return bytes(pusher.encode(payload, "aes128gcm")["body"])


async def send(
    session: aiohttp.ClientSession,
    keys: VapidKeys,
    device: Device,
    payload: bytes,
    ttl_seconds: int,
    urgency: str,
    topic: str | None = None,
) -> Result:
    """Encrypt, sign and POST one push message; never follow redirects."""
    try:
        body = encrypt(device, payload)
    except Exception as err:  # a broken key on the device: nothing to retry
        return Result(Outcome.REJECTED, None, f"cannot encrypt for this device: {err}")
    headers = {
        **vapid_headers(keys, device.endpoint),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(ttl_seconds),
        "Urgency": urgency,
    }
    if topic:
        headers["Topic"] = topic  # replaces an undelivered message with the same topic
    try:
        async with session.post(
            device.endpoint,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT_SECONDS),
        ) as response:
            status = response.status
            # Not .text(): a body that does not decode in its declared charset would raise.
            text = (await response.content.read(ERROR_TEXT_BYTES)).decode(errors="replace")[:160]
            retry_after = _retry_after(response.headers.get("Retry-After"))
    except TimeoutError:
        return Result(Outcome.RETRY, None, "the push service did not answer in time")
    except aiohttp.ClientError as err:
        refused = isinstance(err, aiohttp.ClientConnectorError) and err.os_error
        if isinstance(refused, NonPublicAddress):  # the session's resolver refused the name
            return Result(Outcome.REJECTED, None, str(refused)[:200])
        return Result(Outcome.RETRY, None, f"cannot reach the push service: {err}"[:200])
    if status in (200, 201, 202):
        return Result(Outcome.DELIVERED, status, "")
    if status in (404, 410):
        return Result(Outcome.GONE, status, "the subscription has expired")
    if status == 413:
        return Result(Outcome.TOO_BIG, status, "the payload is too large")
    if status == 429 or status >= 500:
        return Result(Outcome.RETRY, status, f"HTTP {status} {text}".strip(), retry_after)
    if 300 <= status < 400:
        return Result(Outcome.REJECTED, status, f"redirect refused (HTTP {status})")
    return Result(Outcome.REJECTED, status, f"HTTP {status} {text}".strip())
