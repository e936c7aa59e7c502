"""A local Web Push service that behaves like the real ones, for tests.

It issues subscriptions as a browser does (a P-256 key pair and a 16-byte auth secret, RFC 8291),
and its push endpoint checks what FCM and Mozilla's autopush check: the VAPID JWT (RFC 8292:
ES256 signature, `aud`, `exp` at most 24 h ahead, `sub`, `k` equal to the subscription's
applicationServerKey), the `TTL` header, `Content-Encoding: aes128gcm` and the 4096-byte limit
(RFC 8030). It then decrypts the message and keeps the plaintext for the test to read.

Run it in the test process (`with PushService() as service:`, a uvicorn server in a thread) or
as a subprocess (`PushService(subprocess_dir=tmp_path)`, or `python -m tests.pushservice --port
N --state FILE`) that a live server subprocess talks to. Either way it listens on 127.0.0.1 only,
can be stopped ("the push service is down") and started again on the same port, and keeps its
subscriptions and messages across restarts.

The control API under /control/ lets tests expire a subscription, make the next pushes fail with
any status (429 with Retry-After, 500, 403, a redirect...), and read or wait for messages.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import json
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import http_ece
import httpx2 as httpx
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # tests never listen on, or connect to, anything else
MAX_BODY_BYTES = 4096  # RFC 8030 section 7.2; FCM and autopush answer 413 above it
VAPID_MAX_LIFETIME_SECONDS = 24 * 3600  # RFC 8292 section 2: services refuse a longer exp
URGENCIES = ("very-low", "low", "normal", "high")  # RFC 8030 section 5.3
DIGITS_RE = re.compile(r"[0-9]{1,10}")  # TTL (RFC 8030 section 5.2) and Content-Length
TOPIC_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")  # RFC 8030 section 5.4: 32 base64url characters
MAX_WAIT_SECONDS = 60.0  # a control long-poll never holds a connection longer than this
START_SECONDS = 30.0  # a cold subprocess start on a loaded CI machine takes ~1 s


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def private_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_numbers().private_value.to_bytes(32, "big")


def private_key_from(value: bytes) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(value, "big"), ec.SECP256R1())


def decrypt(body: bytes, private_key: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """Decrypt an aes128gcm push message as the browser holding the subscription would."""
    plaintext = http_ece.decrypt(
        body, private_key=private_key, auth_secret=auth_secret, version="aes128gcm"
    )
    return bytes(plaintext)


def encrypt(plaintext: bytes, p256dh: str, auth: str) -> bytes:
    """Encrypt a push message for a subscription (RFC 8291) without going through pywebpush."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    body = http_ece.encrypt(
        plaintext,
        private_key=ephemeral,
        dh=b64url_decode(p256dh),
        auth_secret=b64url_decode(auth),
        version="aes128gcm",
    )
    return bytes(body)


def sign_vapid(key: ec.EllipticCurvePrivateKey, claims: dict[str, Any]) -> str:
    """Build an `Authorization: vapid t=...,k=...` value for any claims, valid or not."""
    header = b64url_encode(b'{"typ":"JWT","alg":"ES256"}')
    body = b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{body}".encode()
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    signature = b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return f"vapid t={header}.{body}.{signature},k={b64url_encode(public_bytes(key))}"


class VapidError(Exception):
    """A VAPID Authorization header a real push service would refuse, with the reason."""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def verify_vapid(
    authorization: str, audience: str, application_server_key: bytes, now: float
) -> dict[str, Any]:
    """Check a `vapid t=<jwt>,k=<key>` header as FCM and autopush do; return its claims."""
    scheme, _, params = authorization.strip().partition(" ")
    if scheme.lower() != "vapid":
        raise VapidError(f"the Authorization scheme must be vapid, not {scheme!r}")
    fields: dict[str, str] = {}
    for item in params.split(","):
        name, _, value = item.strip().partition("=")
        fields[name.strip()] = value.strip()
    token, key_b64 = fields.get("t", ""), fields.get("k", "")
    if not token or not key_b64:
        raise VapidError("the Authorization header needs both t= and k=")
    try:
        key = b64url_decode(key_b64)
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
    except (ValueError, binascii.Error):
        raise VapidError(f"k is not a P-256 public key: {key_b64!r}") from None
    if key != application_server_key:
        raise VapidError("k is not the applicationServerKey this subscription was made with")
    parts = token.split(".")
    if len(parts) != 3:
        raise VapidError("t is not a JWT (header.claims.signature)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, binascii.Error):
        raise VapidError("t is not a well-formed JWT") from None
    if not isinstance(header, dict) or header.get("alg") != "ES256":
        raise VapidError(f"the JWT must be signed with ES256, not {header!r}")
    if len(signature) != 64:
        raise VapidError(f"an ES256 signature has 64 bytes, not {len(signature)}")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public_key.verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VapidError("the JWT signature does not verify with k") from None
    if not isinstance(claims, dict):
        raise VapidError("the JWT claims are not an object")
    if claims.get("aud") != audience:
        raise VapidError(f"aud must be {audience!r}, not {claims.get('aud')!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise VapidError(f"exp must be an integer, not {exp!r}")
    if exp <= now:
        raise VapidError(f"the JWT expired {now - exp:.0f} s ago")
    if exp > now + VAPID_MAX_LIFETIME_SECONDS:
        raise VapidError(f"exp is {exp - now:.0f} s ahead, more than 24 h")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.startswith(("mailto:", "https:")):
        raise VapidError(f"sub must be a mailto: or https: contact, not {sub!r}")
    return claims


# -- the service ------------------------------------------------------------------------------


@dataclass
class _Subscription:
    id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: bytes
    expired: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {
                "p256dh": b64url_encode(public_bytes(self.private_key)),
                "auth": b64url_encode(self.auth),
            },
        }


@dataclass
class _Fault:
    status: int
    headers: dict[str, str]
    body: str = ""
    delay: float = 0.0  # seconds before answering


class State:
    """Subscriptions, received messages and queued faults; saved to a file if given one.

    Only the server's event loop touches it (tests go through the control API), so it needs
    no lock. The file lets a subprocess service keep everything across a restart.
    """

    def __init__(self, origin: str, path: Path | None = None) -> None:
        self.origin = origin
        self.path = path
        self.subscriptions: dict[str, _Subscription] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.faults: list[_Fault] = []
        self.attempts = 0  # POSTs to a push endpoint, answered or refused
        self.refusals: list[dict[str, Any]] = []
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text())
        for item in data["subscriptions"]:
            self.subscriptions[item["id"]] = _Subscription(
                id=item["id"],
                endpoint=item["endpoint"],
                private_key=private_key_from(b64url_decode(item["private_key"])),
                auth=b64url_decode(item["auth"]),
                application_server_key=b64url_decode(item["application_server_key"]),
                expired=item["expired"],
            )
        self.messages = data["messages"]
        self.attempts = data["attempts"]
        self.refusals = data["refusals"]

    def save(self) -> None:
        if self.path is None:
            return
        subscriptions = [
            {
                "id": s.id,
                "endpoint": s.endpoint,
                "private_key": b64url_encode(private_bytes(s.private_key)),
                "auth": b64url_encode(s.auth),
                "application_server_key": b64url_encode(s.application_server_key),
                "expired": s.expired,
            }
            for s in self.subscriptions.values()
        ]  # fmt: skip
        data = {
            "subscriptions": subscriptions,
            "messages": self.messages,
            "attempts": self.attempts,
            "refusals": self.refusals,
        }
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(self.path)

    def add(
        self,
        application_server_key: bytes,
        private_key: ec.EllipticCurvePrivateKey | None = None,
        auth: bytes | None = None,
    ) -> _Subscription:
        sub_id = secrets.token_urlsafe(16)
        sub = _Subscription(
            id=sub_id,
            endpoint=f"{self.origin}/push/{sub_id}",
            private_key=private_key or ec.generate_private_key(ec.SECP256R1()),
            auth=auth if auth is not None else secrets.token_bytes(16),
            application_server_key=application_server_key,
        )
        self.subscriptions[sub_id] = sub
        self.save()
        return sub


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"code": status, "reason": reason}, status_code=status)


def _application_server_key(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("applicationServerKey must be a base64url string")
    key = b64url_decode(value)
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)  # refuses a non-point
    return key


def create_app(state: State) -> Starlette:
    """Build the push service around its state."""

    async def healthz(request: Request) -> Response:
        return Response("ok")

    async def subscribe(request: Request) -> Response:
        """Issue a subscription like PushManager.subscribe() in a browser."""
        try:
            data = await request.json()
            key = _application_server_key(data.get("applicationServerKey"))
        except (ValueError, binascii.Error, AttributeError) as err:
            return _error(400, f"invalid applicationServerKey: {err}")
        return JSONResponse(state.add(key).to_json(), status_code=201)

    def refuse(status: int, reason: str) -> JSONResponse:
        state.refusals.append({"status": status, "reason": reason})
        state.save()
        return _error(status, reason)

    async def push(request: Request) -> Response:
        """Accept one encrypted message for a subscription (RFC 8030 section 5)."""
        state.attempts += 1
        if state.faults:
            fault = state.faults.pop(0)
            state.save()
            await asyncio.sleep(fault.delay)
            return Response(fault.body, status_code=fault.status, headers=fault.headers)
        sub = state.subscriptions.get(request.path_params["sub_id"])
        if sub is None:
            return refuse(404, "no such subscription")
        if sub.expired:
            return refuse(410, "the subscription has expired or was unsubscribed")
        authorization = request.headers.get("Authorization")
        if not authorization:
            return refuse(401, "missing VAPID Authorization header")
        try:
            claims = verify_vapid(
                authorization, origin_of(sub.endpoint), sub.application_server_key, time.time()
            )
        except VapidError as err:
            return refuse(403, str(err))
        headers = {}
        ttl = request.headers.get("TTL")
        if ttl is None or not DIGITS_RE.fullmatch(ttl):
            return refuse(400, f"TTL must be a number of seconds, not {ttl!r}")
        headers["TTL"] = ttl
        urgency = request.headers.get("Urgency")
        if urgency is not None:
            if urgency not in URGENCIES:
                return refuse(400, f"unknown Urgency {urgency!r}")
            headers["Urgency"] = urgency
        topic = request.headers.get("Topic")
        if topic is not None:
            if not TOPIC_RE.fullmatch(topic):
                return refuse(400, f"Topic must be up to 32 base64url characters, not {topic!r}")
            headers["Topic"] = topic
        encoding = request.headers.get("Content-Encoding")
        if encoding != "aes128gcm":
            return refuse(415, f"Content-Encoding must be aes128gcm, not {encoding!r}")
        length = request.headers.get("Content-Length", "0")
        if DIGITS_RE.fullmatch(length) and int(length) > MAX_BODY_BYTES:
            return refuse(413, f"the body has {length} bytes, more than {MAX_BODY_BYTES}")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return refuse(413, f"the body has {len(body)} bytes, more than {MAX_BODY_BYTES}")
        try:
            plaintext = decrypt(body, sub.private_key, sub.auth)
        except Exception as err:  # http_ece raises several types for a bad message
            return refuse(400, f"cannot decrypt the message: {err!r}")
        message_id = secrets.token_urlsafe(12)
        state.messages.setdefault(sub.id, []).append(
            {
                "id": message_id,
                "plaintext": b64url_encode(plaintext),
                "headers": headers,
                "claims": claims,
                "received_at": time.time(),
            }
        )
        state.save()
        return Response(
            status_code=201, headers={"Location": f"{state.origin}/message/{message_id}"}
        )

    # -- control API for tests ----------------------------------------------------------------

    async def import_subscription(request: Request) -> Response:
        """Add a subscription with given keys (to replay the RFC 8291 test vector)."""
        data = await request.json()
        sub = state.add(
            _application_server_key(data["applicationServerKey"]),
            private_key=private_key_from(b64url_decode(data["privateKey"])),
            auth=b64url_decode(data["auth"]),
        )
        return JSONResponse(sub.to_json(), status_code=201)

    async def expire(request: Request) -> Response:
        sub = state.subscriptions.get(request.path_params["sub_id"])
        if sub is None:
            return _error(404, "no such subscription")
        sub.expired = True
        state.save()
        return Response(status_code=204)

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.faults.clear()
            return Response(status_code=204)
        data = await request.json()
        fault = _Fault(
            status=int(data["status"]),
            headers=dict(data.get("headers") or {}),
            body=data.get("body", ""),
            delay=min(float(data.get("delay", 0)), MAX_WAIT_SECONDS),
        )
        state.faults.extend([fault] * int(data.get("count", 1)))
        return Response(status_code=204)

    async def messages(request: Request) -> Response:
        """List a subscription's messages, waiting up to `timeout` s until `count` arrived."""
        sub_id = request.path_params["sub_id"]
        if sub_id not in state.subscriptions:
            return _error(404, "no such subscription")
        count = int(request.query_params.get("count", "0"))
        timeout = min(float(request.query_params.get("timeout", "0")), MAX_WAIT_SECONDS)
        deadline = time.monotonic() + timeout
        while len(state.messages.get(sub_id, [])) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return JSONResponse({"messages": state.messages.get(sub_id, [])})

    async def stats(request: Request) -> Response:
        return JSONResponse({"attempts": state.attempts, "refusals": state.refusals})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/subscribe", subscribe, methods=["POST"]),
            Route("/push/{sub_id}", push, methods=["POST"]),
            Route("/control/subscriptions", import_subscription, methods=["POST"]),
            Route("/control/subscriptions/{sub_id}/expire", expire, methods=["POST"]),
            Route("/control/subscriptions/{sub_id}/messages", messages),
            Route("/control/faults", faults, methods=["POST", "DELETE"]),
            Route("/control/stats", stats),
        ]
    )


# -- running it -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    """What the browser hands the application: an endpoint and the keys to encrypt for."""

    id: str
    endpoint: str
    p256dh: str
    auth: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Subscription:
        keys = data["keys"]
        return cls(data["id"], data["endpoint"], keys["p256dh"], keys["auth"])

    def to_json(self) -> dict[str, Any]:
        """Return the browser's PushSubscription.toJSON()."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }


@dataclass(frozen=True)
class Received:
    """One message the service accepted, decrypted."""

    plaintext: bytes
    headers: dict[str, str]  # TTL, and Urgency and Topic when sent
    claims: dict[str, Any]  # the VAPID JWT's claims
    received_at: float  # time.time()

    @property
    def text(self) -> str:
        return self.plaintext.decode()

    def json(self) -> Any:
        return json.loads(self.plaintext)


def _received(data: dict[str, Any]) -> Received:
    return Received(
        b64url_decode(data["plaintext"]), data["headers"], data["claims"], data["received_at"]
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart on the same port
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


SubscriptionRef = Subscription | str  # a subscription, its endpoint or its id


def _id_of(ref: SubscriptionRef) -> str:
    if isinstance(ref, Subscription):
        return ref.id
    return ref.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class PushService:
    """The local push service on 127.0.0.1, in a thread or (given a folder) a subprocess.

    Usable from sync and async tests alike: every control call is a short HTTP request to a
    server running outside the caller's event loop. `stop()` takes the service down (pushes
    then get "connection refused") and `start()` brings it back on the same port with its
    subscriptions and messages.
    """

    port: int = 0
    subprocess_dir: Path | None = None  # run as `python -m tests.pushservice` with state here
    _server: uvicorn.Server | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _app: Starlette | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def endpoint_prefix(self) -> str:
        """The value for PUSH_TEST_ENDPOINT_PREFIX: every endpoint of this service starts so."""
        return f"{self.url}/push/"

    def __enter__(self) -> PushService:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None or self._proc is not None

    def start(self) -> None:
        if self.running:
            raise RuntimeError("the push service is already running")
        if self.subprocess_dir is not None:
            self._start_subprocess(self.subprocess_dir)
        else:
            self._start_thread()

    def stop(self) -> None:
        """Take the service down: its port refuses connections until start()."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise RuntimeError("the push service thread did not stop in 10 s")
        self._server = self._thread = None
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def _start_thread(self) -> None:
        sock = _listening_socket(self.port)
        self.port = int(sock.getsockname()[1])
        if self._app is None:
            self._app = create_app(State(self.url))
        config = uvicorn.Config(
            self._app, log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=1,
        )  # fmt: skip
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="push-service", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(timeout=10)
                sock.close()
                raise RuntimeError("the push service did not start")
            time.sleep(0.01)
        self._server, self._thread = server, thread

    def _start_subprocess(self, directory: Path) -> None:
        if not self.port:
            self.port = _free_port()
        directory.mkdir(parents=True, exist_ok=True)
        log_path = directory / f"pushservice-{self.port}.log"
        command = [sys.executable, "-m", "tests.pushservice", "--port", str(self.port),
                   "--state", str(directory / f"pushservice-{self.port}.json")]  # fmt: skip
        with open(log_path, "ab") as log:  # the child keeps its own descriptor
            self._proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                raise RuntimeError(f"the push service exited: {log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1, trust_env=False).is_success:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the push service did not answer in {START_SECONDS} s")

    # -- control ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("timeout", 10)
        with httpx.Client(base_url=self.url, trust_env=False) as client:
            response = client.request(method, path, **kwargs)
        response.raise_for_status()
        return response

    def subscribe(self, application_server_key: str) -> Subscription:
        """Subscribe like a browser given the server's VAPID public key."""
        r = self._request(
            "POST", "/subscribe", json={"applicationServerKey": application_server_key}
        )
        return Subscription.from_json(r.json())

    def import_subscription(
        self, application_server_key: str, private_key: str, auth: str
    ) -> Subscription:
        """Add a subscription with known keys (base64url), e.g. the RFC 8291 test vector's."""
        data = {"applicationServerKey": application_server_key, "privateKey": private_key,
                "auth": auth}  # fmt: skip
        return Subscription.from_json(
            self._request("POST", "/control/subscriptions", json=data).json()
        )

    def expire(self, subscription: SubscriptionRef) -> None:
        """Make every later push to this subscription answer 410 Gone."""
        self._request("POST", f"/control/subscriptions/{_id_of(subscription)}/expire")

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        retry_after: str | None = None,
        location: str | None = None,
        body: str = "",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next `count` pushes (to any subscription) with this status instead,
        after `delay` seconds, without looking at them."""
        sent = dict(headers or {})
        if retry_after is not None:
            sent["Retry-After"] = retry_after
        if location is not None:
            sent["Location"] = location
        data = {"status": status, "count": count, "headers": sent, "body": body, "delay": delay}
        self._request("POST", "/control/faults", json=data)

    def clear_faults(self) -> None:
        self._request("DELETE", "/control/faults")

    def messages(self, subscription: SubscriptionRef) -> list[Received]:
        return self.wait_for(subscription, count=0, timeout=0)

    def wait_for(
        self, subscription: SubscriptionRef, count: int = 1, timeout: float = 10.0
    ) -> list[Received]:
        """Return the subscription's messages once `count` arrived; fail after `timeout` s."""
        r = self._request(
            "GET", f"/control/subscriptions/{_id_of(subscription)}/messages",
            params={"count": count, "timeout": timeout}, timeout=timeout + 10,
        )  # fmt: skip
        return self._enough(r, count, timeout)

    async def wait_for_async(
        self, subscription: SubscriptionRef, count: int = 1, timeout: float = 10.0
    ) -> list[Received]:
        """Like wait_for, without blocking the caller's event loop (a worker may be sending)."""
        async with httpx.AsyncClient(base_url=self.url, trust_env=False) as client:
            r = await client.get(
                f"/control/subscriptions/{_id_of(subscription)}/messages",
                params={"count": count, "timeout": timeout}, timeout=timeout + 10,
            )  # fmt: skip
        r.raise_for_status()
        return self._enough(r, count, timeout)

    def _enough(self, response: httpx.Response, count: int, timeout: float) -> list[Received]:
        received = [_received(m) for m in response.json()["messages"]]
        if len(received) < count:
            raise AssertionError(
                f"{len(received)} of {count} push messages arrived in {timeout} s; "
                f"refusals: {self.stats()['refusals'][-5:]!r}"
            )
        return received

    def stats(self) -> dict[str, Any]:
        """Return {"attempts": pushes tried, "refusals": [{"status", "reason"}, ...]}."""
        data: dict[str, Any] = self._request("GET", "/control/stats").json()
        return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local Web Push service for tests.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, help="keep subscriptions and messages here")
    args = parser.parse_args(argv)
    if args.port <= 0:
        parser.error("--port must name a port: endpoints contain it")
    state = State(f"http://{HOST}:{args.port}", args.state)
    uvicorn.run(
        create_app(state), host=HOST, port=args.port, log_level="warning", access_log=False,
        lifespan="off", timeout_graceful_shutdown=1,
    )  # fmt: skip


if __name__ == "__main__":
    main()
