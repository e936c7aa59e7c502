"""push/sender.py against real push services: the local one (tests/pushservice.py), which is as
strict as FCM and autopush, and npm's web-push-testing, an independent Node implementation."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate
from pathlib import Path

import aiohttp
import httpx2 as httpx
import pytest

from push import sender
from push.payloads import Notification
from push.resolver import open_session
from push.sender import Device, Outcome
from push.vapid import VapidKeys, load_or_create
from tests.pushservice import ROOT, PushService, Subscription

WEB_PUSH_TESTING = "web-push-testing@1.2.2"
LARGEST_PLAINTEXT = 3993  # what fits 4096 bytes once aes128gcm adds its 103 bytes


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> VapidKeys:
    return load_or_create(tmp_path_factory.mktemp("vapid"), "", "mailto:ops@example.org")


@pytest.fixture(scope="module")
def service() -> Iterator[PushService]:
    with PushService() as running:
        yield running


@pytest.fixture
def fresh_service() -> Iterator[PushService]:
    """A service of the test's own, for tests that take it down."""
    with PushService() as running:
        yield running


@pytest.fixture(autouse=True)
def _no_faults_left(service: PushService) -> Iterator[None]:
    yield
    service.clear_faults()  # a failed test must not hand its faults to the next one


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with open_session() as s:  # the worker's session (the services are IP literals)
        yield s


def device_of(subscription: Subscription) -> Device:
    return Device(subscription.endpoint, subscription.p256dh, subscription.auth)


async def send(
    session: aiohttp.ClientSession,
    keys: VapidKeys,
    subscription: Subscription,
    payload: bytes = b'{"title":"Hello"}',
    topic: str | None = None,
) -> sender.Result:
    return await sender.send(session, keys, device_of(subscription), payload, 600, "normal", topic)


# -- delivery -----------------------------------------------------------------------------------


async def test_a_payload_arrives_decrypted_and_intact_with_ttl_urgency_and_topic(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    sub = service.subscribe(keys.public_key)
    note = Notification("mention", "Zählerstand prüfen 🔌", "Jan: „Grüße“ " * 5, "/t/1", "t-1", 3)
    payload = note.encode()
    result = await sender.send(session, keys, device_of(sub), payload, 7200, "high", "thread-1")
    assert result == sender.Result(Outcome.DELIVERED, 201, "")
    [received] = service.messages(sub)
    assert received.plaintext == payload
    assert received.json()["title"] == "Zählerstand prüfen 🔌"
    assert received.headers == {"TTL": "7200", "Urgency": "high", "Topic": "thread-1"}


async def test_without_a_topic_no_topic_header_is_sent(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    sub = service.subscribe(keys.public_key)
    assert (await send(session, keys, sub)).outcome == Outcome.DELIVERED
    assert "Topic" not in service.messages(sub)[0].headers


async def test_the_vapid_jwt_names_the_endpoints_origin_and_expires_within_a_day(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    sub = service.subscribe(keys.public_key)
    before = time.time()
    assert (await send(session, keys, sub)).outcome == Outcome.DELIVERED
    claims = service.messages(sub)[0].claims
    assert claims["aud"] == service.url
    assert claims["sub"] == "mailto:ops@example.org"
    assert before < claims["exp"] <= time.time() + 24 * 3600


async def test_each_endpoint_gets_a_jwt_for_its_own_origin(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    # pywebpush keeps the first endpoint's aud in a reused claims dict; the second service
    # would then refuse the JWT with 403.
    with PushService() as other:
        first, second = service.subscribe(keys.public_key), other.subscribe(keys.public_key)
        for sub in (first, second, first, second):
            assert (await send(session, keys, sub)).outcome == Outcome.DELIVERED
        assert {m.claims["aud"] for m in service.messages(first)} == {service.url}
        assert {m.claims["aud"] for m in other.messages(second)} == {other.url}
        assert other.url != service.url


async def test_the_largest_payload_that_fits_4096_bytes_is_delivered(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    sub = service.subscribe(keys.public_key)
    result = await send(session, keys, sub, b"x" * LARGEST_PLAINTEXT)
    assert result.outcome == Outcome.DELIVERED


# -- failures -----------------------------------------------------------------------------------


async def test_a_payload_over_4096_bytes_encrypted_is_too_big(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    sub = service.subscribe(keys.public_key)
    result = await send(session, keys, sub, b"x" * (LARGEST_PLAINTEXT + 1))
    assert (result.outcome, result.status) == (Outcome.TOO_BIG, 413)
    assert service.messages(sub) == []


async def test_an_expired_subscription_is_gone(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    sub = service.subscribe(keys.public_key)
    service.expire(sub)
    result = await send(session, keys, sub)
    assert (result.outcome, result.status) == (Outcome.GONE, 410)


async def test_an_unknown_subscription_is_gone(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    real = service.subscribe(keys.public_key)
    unknown = Subscription("x", service.endpoint_prefix + "no-such-id", real.p256dh, real.auth)
    result = await send(session, keys, unknown)
    assert (result.outcome, result.status) == (Outcome.GONE, 404)


async def test_429_is_retried_after_the_seconds_the_service_asks_for(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    sub = service.subscribe(keys.public_key)
    service.fail_next(429, retry_after="30", body="slow down")
    result = await send(session, keys, sub)
    assert (result.outcome, result.status, result.retry_after) == (Outcome.RETRY, 429, 30.0)
    assert "slow down" in result.detail
    assert (await send(session, keys, sub)).outcome == Outcome.DELIVERED


async def test_retry_after_may_be_an_http_date(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    sub = service.subscribe(keys.public_key)
    service.fail_next(503, retry_after=formatdate(time.time() + 120, usegmt=True))
    result = await send(session, keys, sub)
    assert (result.outcome, result.status) == (Outcome.RETRY, 503)
    assert result.retry_after is not None and 100 < result.retry_after <= 120


@pytest.mark.parametrize("retry_after", ["inf", "1e300", "Fri, 31 Dec 9999 23:59:59 GMT"])
async def test_an_absurd_retry_after_is_capped_at_a_day(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService, retry_after: str
) -> None:
    # The worker adds it to a datetime: anything past year 9999 would crash the job forever.
    sub = service.subscribe(keys.public_key)
    service.fail_next(429, retry_after=retry_after)
    result = await send(session, keys, sub)
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 24 * 3600)


async def test_a_garbled_retry_after_is_ignored(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    sub = service.subscribe(keys.public_key)
    service.fail_next(429, retry_after="later, please")
    result = await send(session, keys, sub)
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, None)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_is_retried(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService, status: int
) -> None:
    sub = service.subscribe(keys.public_key)
    service.fail_next(status)
    result = await send(session, keys, sub)
    assert (result.outcome, result.status, result.retry_after) == (Outcome.RETRY, status, None)


async def test_a_service_that_is_down_is_retried_and_delivered_to_once_it_is_back(
    session: aiohttp.ClientSession, keys: VapidKeys, fresh_service: PushService
) -> None:
    sub = fresh_service.subscribe(keys.public_key)
    assert (await send(session, keys, sub)).outcome == Outcome.DELIVERED  # a pooled connection
    fresh_service.stop()
    for _ in range(2):  # the pooled connection breaks, then the port refuses
        result = await send(session, keys, sub)
        assert (result.outcome, result.status) == (Outcome.RETRY, None)
        assert "cannot reach the push service" in result.detail
    fresh_service.start()
    assert (await send(session, keys, sub)).outcome == Outcome.DELIVERED
    assert len(fresh_service.messages(sub)) == 2


async def test_a_service_that_does_not_answer_in_time_is_retried(
    session: aiohttp.ClientSession,
    keys: VapidKeys,
    service: PushService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sender, "SEND_TIMEOUT_SECONDS", 0.3)
    sub = service.subscribe(keys.public_key)
    service.fail_next(201, delay=1.5)
    result = await send(session, keys, sub)
    assert (result.outcome, result.status) == (Outcome.RETRY, None)
    assert "in time" in result.detail


@pytest.mark.parametrize("status", [400, 401, 403])
async def test_any_other_client_error_is_rejected_with_the_services_words(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService, status: int
) -> None:
    sub = service.subscribe(keys.public_key)
    service.fail_next(status, body="sender id mismatch")
    result = await send(session, keys, sub)
    assert (result.outcome, result.status) == (Outcome.REJECTED, status)
    assert result.detail == f"HTTP {status} sender id mismatch"


async def test_an_error_body_that_is_not_valid_text_is_still_rejected(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    sub = service.subscribe(keys.public_key)
    service.fail_next(400, body="Ungültig", headers={"Content-Type": "text/plain; charset=ascii"})
    result = await send(session, keys, sub)
    assert (result.outcome, result.status) == (Outcome.REJECTED, 400)


async def test_a_push_signed_for_another_key_is_rejected_by_the_service(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService, tmp_path: Path
) -> None:
    sub = service.subscribe(keys.public_key)
    other = load_or_create(tmp_path, "", "mailto:ops@example.org")
    result = await send(session, other, sub)
    assert (result.outcome, result.status) == (Outcome.REJECTED, 403)
    assert "applicationServerKey" in result.detail


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_not_followed(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService, status: int
) -> None:
    # The redirect points at the same, valid endpoint: followed, it would deliver.
    sub = service.subscribe(keys.public_key)
    service.fail_next(status, location=sub.endpoint)
    attempts = service.stats()["attempts"]
    result = await send(session, keys, sub)
    assert (result.outcome, result.status) == (Outcome.REJECTED, status)
    assert "redirect" in result.detail
    assert service.stats()["attempts"] == attempts + 1
    assert service.messages(sub) == []


async def test_a_device_with_broken_keys_is_rejected_without_a_request(
    session: aiohttp.ClientSession, keys: VapidKeys, service: PushService
) -> None:
    sub = service.subscribe(keys.public_key)
    attempts = service.stats()["attempts"]
    broken = Device(sub.endpoint, "not-a-key", sub.auth)
    result = await sender.send(session, keys, broken, b"{}", 60, "normal")
    assert (result.outcome, result.status) == (Outcome.REJECTED, None)
    assert service.stats()["attempts"] == attempts


# -- interoperability with an independent implementation ---------------------------------------

WRAPPER_JS = """
// Run web-push-testing's server in the foreground on 127.0.0.1 only (its CLI detaches and
// listens on all interfaces) and make its endpoints name 127.0.0.1 rather than localhost.
const http = require('http');
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, callback) {
  return listen.call(this, port, '127.0.0.1', callback);
};
const [dir, port] = [process.argv[2], Number(process.argv[3])];
const Server = require(dir + '/src/server.js');
const {PushApiModel} = require(dir + '/src/PushApiModel.js');
const model = new PushApiModel();
const server = new Server(model, port);
model.notifyUrl = 'http://127.0.0.1:' + port + '/notify/';
server.startServer();
"""


def _version_of(package: Path) -> str | None:
    try:
        return str(json.loads((package / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the web-push-testing interop check: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def web_push_testing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of npm's web-push-testing server, installed into a temporary folder."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _unavailable("node and npm are needed for the web-push-testing interop check")
    assert node and npm
    folder = tmp_path_factory.mktemp("web-push-testing")
    package = ROOT / "node_modules" / "web-push-testing"  # if the project's npm tools have it
    if _version_of(package) != WEB_PUSH_TESTING.split("@")[1]:
        package = folder / "node_modules" / "web-push-testing"
        try:
            subprocess.run(
                [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund",
                 WEB_PUSH_TESTING],
                capture_output=True, text=True, timeout=180, check=True,
            )  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            _unavailable(f"npm install {WEB_PUSH_TESTING} failed: {err.stderr!r}"[:500])
    (folder / "run.js").write_text(WRAPPER_JS)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    log_path = folder / "server.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [node, str(folder / "run.js"), str(package), str(port)],
            cwd=folder, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"web-push-testing exited: {log_path.read_text()}"
            assert time.monotonic() < deadline, "web-push-testing did not answer in 30 s"
            try:
                if httpx.post(url + "/status", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_a_node_push_service_decrypts_what_we_send_and_reports_expiry_as_gone(
    session: aiohttp.ClientSession, keys: VapidKeys, web_push_testing: str
) -> None:
    async with httpx.AsyncClient(base_url=web_push_testing, trust_env=False, timeout=10) as api:
        r = await api.post(
            "/subscribe", json={"userVisibleOnly": "true", "applicationServerKey": keys.public_key}
        )
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["endpoint"].startswith(web_push_testing + "/notify/")
        device = Device(data["endpoint"], data["keys"]["p256dh"], data["keys"]["auth"])
        payload = Notification("reply", "Zähler", "Neue Antwort 🔌", "/t/1", "t-1", 1).encode()
        result = await sender.send(session, keys, device, payload, 600, "normal", "t-1")
        assert (result.outcome, result.status) == (Outcome.DELIVERED, 201), result.detail
        r = await api.post("/get-notifications", json={"clientHash": data["clientHash"]})
        assert r.json()["data"]["messages"] == [payload.decode()]
        r = await api.post(f"/expire-subscription/{data['clientHash']}")
        assert r.status_code == 200
        result = await sender.send(session, keys, device, payload, 600, "normal")
        assert (result.outcome, result.status) == (Outcome.GONE, 410)
