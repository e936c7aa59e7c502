"""The local push service itself: it must be as strict as the real ones, or tests prove little."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.pushservice import (
    PushService,
    Subscription,
    VapidError,
    b64url_decode,
    b64url_encode,
    decrypt,
    encrypt,
    private_key_from,
    public_bytes,
    sign_vapid,
    verify_vapid,
)

# RFC 8291 Appendix A: a message encrypted by the RFC's authors, not by any code we run.
RFC8291_PLAINTEXT = b"When I grow up, I want to be a watermelon"
RFC8291_UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
RFC8291_UA_PUBLIC = (
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
)
RFC8291_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
RFC8291_MESSAGE = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS"
    "6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulc"
    "y4a-fN"
)
LARGEST_PLAINTEXT = 3993  # 4096 minus the aes128gcm header (86), padding delimiter (1), tag (16)


@pytest.fixture(scope="module")
def service() -> Iterator[PushService]:
    with PushService() as running:
        yield running


@pytest.fixture(scope="module")
def vapid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def subscription(service: PushService, vapid_key: ec.EllipticCurvePrivateKey) -> Subscription:
    return service.subscribe(b64url_encode(public_bytes(vapid_key)))


def claims_for(service: PushService, **changes: Any) -> dict[str, Any]:
    claims = {"aud": service.url, "exp": int(time.time()) + 3600, "sub": "mailto:ops@example.org"}
    claims.update(changes)
    return claims


def push(
    subscription: Subscription,
    body: bytes,
    authorization: str | None,
    **headers: str,
) -> httpx.Response:
    """POST a body with the usual headers; a keyword (Content_Encoding="") changes or drops one."""
    sent = {"TTL": "60", "Content-Encoding": "aes128gcm", "Authorization": authorization or ""}
    sent.update({k.replace("_", "-"): v for k, v in headers.items()})
    sent = {k: v for k, v in sent.items() if v}
    return httpx.post(subscription.endpoint, content=body, headers=sent, trust_env=False)


def valid_push(
    service: PushService,
    subscription: Subscription,
    vapid_key: ec.EllipticCurvePrivateKey,
    plaintext: bytes = b'{"title":"Hello"}',
    **headers: str,
) -> httpx.Response:
    body = encrypt(plaintext, subscription.p256dh, subscription.auth)
    return push(subscription, body, sign_vapid(vapid_key, claims_for(service)), **headers)


# -- decryption, pinned to the RFC ------------------------------------------------------------


def test_decryption_turns_the_rfc_8291_test_vector_into_the_watermelon_sentence() -> None:
    key = private_key_from(b64url_decode(RFC8291_UA_PRIVATE))
    assert b64url_encode(public_bytes(key)) == RFC8291_UA_PUBLIC
    plaintext = decrypt(b64url_decode(RFC8291_MESSAGE), key, b64url_decode(RFC8291_AUTH))
    assert plaintext == RFC8291_PLAINTEXT


def test_the_rfc_8291_message_pushed_to_a_subscription_with_its_keys_arrives_intact(
    service: PushService, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    sub = service.import_subscription(
        b64url_encode(public_bytes(vapid_key)), RFC8291_UA_PRIVATE, RFC8291_AUTH
    )
    assert sub.p256dh == RFC8291_UA_PUBLIC
    r = push(sub, b64url_decode(RFC8291_MESSAGE), sign_vapid(vapid_key, claims_for(service)))
    assert r.status_code == 201, r.text
    [received] = service.messages(sub)
    assert received.plaintext == RFC8291_PLAINTEXT


def test_a_message_the_service_cannot_decrypt_is_refused() -> None:
    key = private_key_from(b64url_decode(RFC8291_UA_PRIVATE))
    tampered = bytearray(b64url_decode(RFC8291_MESSAGE))
    tampered[-1] ^= 1
    with pytest.raises(Exception):  # noqa: B017 - http_ece raises InvalidTag, not its own type
        decrypt(bytes(tampered), key, b64url_decode(RFC8291_AUTH))


# -- subscriptions ------------------------------------------------------------------------------


def test_a_subscription_is_shaped_like_a_browsers(
    service: PushService, subscription: Subscription
) -> None:
    assert subscription.endpoint.startswith(service.endpoint_prefix)
    assert service.endpoint_prefix.startswith("http://127.0.0.1:")
    p256dh = b64url_decode(subscription.p256dh)
    assert len(p256dh) == 65 and p256dh[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    assert len(b64url_decode(subscription.auth)) == 16
    assert subscription.to_json()["keys"] == {
        "p256dh": subscription.p256dh,
        "auth": subscription.auth,
    }


def test_subscribing_needs_a_valid_application_server_key(service: PushService) -> None:
    for key in ("", "not-a-key", b64url_encode(b"\x04" + bytes(64))):
        r = httpx.post(
            service.url + "/subscribe", json={"applicationServerKey": key}, trust_env=False
        )
        assert r.status_code == 400, key


# -- what a push must carry -------------------------------------------------------------------


def test_a_valid_push_is_accepted_and_recorded_with_its_headers_and_claims(
    service: PushService, subscription: Subscription, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    before = time.time()
    r = valid_push(service, subscription, vapid_key, Urgency="high", Topic="thread-42")
    assert r.status_code == 201, r.text
    assert r.headers["Location"].startswith(service.url + "/message/")
    [received] = service.messages(subscription)
    assert received.json() == {"title": "Hello"}
    assert received.headers == {"TTL": "60", "Urgency": "high", "Topic": "thread-42"}
    assert received.claims["aud"] == service.url
    assert before <= received.received_at <= time.time()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"aud": "http://127.0.0.1:1"}, "aud must be"),
        ({"aud": "https://fcm.googleapis.com"}, "aud must be"),
        ({"exp_in": 24 * 3600 + 120}, "more than 24 h"),
        ({"exp_in": -60}, "expired"),
        ({"exp": "tomorrow"}, "exp must be an integer"),
        ({"sub": "ops@example.org"}, "sub must be"),
        ({"sub": "http://example.org"}, "sub must be"),
    ],
)
def test_a_push_with_wrong_vapid_claims_is_refused_with_403(
    service: PushService,
    subscription: Subscription,
    vapid_key: ec.EllipticCurvePrivateKey,
    change: dict[str, Any],
    reason: str,
) -> None:
    if "exp_in" in change:  # relative to now: collection may happen minutes before the test
        change = {"exp": int(time.time()) + change["exp_in"]}
    body = encrypt(b"hi", subscription.p256dh, subscription.auth)
    r = push(subscription, body, sign_vapid(vapid_key, claims_for(service, **change)))
    assert r.status_code == 403
    assert reason in r.json()["reason"]
    assert service.messages(subscription) == []


def test_a_jwt_expiring_just_under_24_hours_ahead_is_accepted(
    service: PushService, subscription: Subscription, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    claims = claims_for(service, exp=int(time.time()) + 24 * 3600 - 60)
    body = encrypt(b"hi", subscription.p256dh, subscription.auth)
    assert push(subscription, body, sign_vapid(vapid_key, claims)).status_code == 201


def test_a_push_with_a_bad_signature_is_refused(
    service: PushService, subscription: Subscription, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    body = encrypt(b"hi", subscription.p256dh, subscription.auth)
    header = sign_vapid(vapid_key, claims_for(service))
    token, key = header.removeprefix("vapid t=").split(",k=")
    signature = bytearray(b64url_decode(token.rsplit(".", 1)[1]))
    signature[5] ^= 1
    forged = f"vapid t={token.rsplit('.', 1)[0]}.{b64url_encode(bytes(signature))},k={key}"
    r = push(subscription, body, forged)
    assert r.status_code == 403
    assert "signature" in r.json()["reason"]


def test_a_push_signed_by_another_key_is_refused_even_if_the_signature_matches_k(
    service: PushService, subscription: Subscription
) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    body = encrypt(b"hi", subscription.p256dh, subscription.auth)
    r = push(subscription, body, sign_vapid(stranger, claims_for(service)))
    assert r.status_code == 403
    assert "applicationServerKey" in r.json()["reason"]


def test_a_push_without_authorization_is_refused_with_401(
    service: PushService, subscription: Subscription
) -> None:
    body = encrypt(b"hi", subscription.p256dh, subscription.auth)
    assert push(subscription, body, None).status_code == 401


def test_a_push_without_ttl_is_refused_with_400(
    service: PushService, subscription: Subscription, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    r = valid_push(service, subscription, vapid_key, TTL="")
    assert r.status_code == 400
    assert "TTL" in r.json()["reason"]


@pytest.mark.parametrize("headers", [{"Urgency": "urgent"}, {"Topic": "no spaces allowed"}])
def test_a_push_with_an_invalid_urgency_or_topic_is_refused_with_400(
    service: PushService,
    subscription: Subscription,
    vapid_key: ec.EllipticCurvePrivateKey,
    headers: dict[str, str],
) -> None:
    body = encrypt(b"hi", subscription.p256dh, subscription.auth)
    auth = sign_vapid(vapid_key, claims_for(service))
    assert push(subscription, body, auth, **headers).status_code == 400


@pytest.mark.parametrize("encoding", ["aesgcm", ""])
def test_a_push_not_encoded_as_aes128gcm_is_refused_with_415(
    service: PushService,
    subscription: Subscription,
    vapid_key: ec.EllipticCurvePrivateKey,
    encoding: str,
) -> None:
    r = valid_push(service, subscription, vapid_key, Content_Encoding=encoding)
    assert r.status_code == 415


def test_a_body_over_4096_bytes_is_refused_with_413_and_4096_bytes_are_accepted(
    service: PushService, subscription: Subscription, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    fits = encrypt(b"x" * LARGEST_PLAINTEXT, subscription.p256dh, subscription.auth)
    assert len(fits) == 4096
    too_big = encrypt(b"x" * (LARGEST_PLAINTEXT + 1), subscription.p256dh, subscription.auth)
    assert len(too_big) == 4097
    auth = sign_vapid(vapid_key, claims_for(service))
    assert push(subscription, too_big, auth).status_code == 413
    assert push(subscription, fits, auth).status_code == 201
    assert [len(m.plaintext) for m in service.messages(subscription)] == [LARGEST_PLAINTEXT]


def test_a_push_to_an_unknown_subscription_gets_404(
    service: PushService, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    unknown = Subscription("nobody", service.endpoint_prefix + "nobody", RFC8291_UA_PUBLIC, "x")
    r = push(unknown, b"x" * 100, sign_vapid(vapid_key, claims_for(service)))
    assert r.status_code == 404


def test_a_push_to_an_expired_subscription_gets_410(
    service: PushService, subscription: Subscription, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    service.expire(subscription)
    assert valid_push(service, subscription, vapid_key).status_code == 410


def test_the_service_records_why_it_refused_a_push(
    service: PushService, subscription: Subscription, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    before = service.stats()
    valid_push(service, subscription, vapid_key, TTL="soon")
    after = service.stats()
    assert after["attempts"] == before["attempts"] + 1
    assert after["refusals"][-1]["status"] == 400
    assert "'soon'" in after["refusals"][-1]["reason"]


def test_verify_vapid_returns_the_claims_of_a_valid_header(
    vapid_key: ec.EllipticCurvePrivateKey,
) -> None:
    now = time.time()
    claims = {"aud": "https://push.example", "exp": int(now) + 60, "sub": "https://example.org"}
    key = public_bytes(vapid_key)
    assert verify_vapid(sign_vapid(vapid_key, claims), "https://push.example", key, now) == claims
    with pytest.raises(VapidError, match="scheme"):
        verify_vapid(
            "WebPush " + sign_vapid(vapid_key, claims)[6:], "https://push.example", key, now
        )


# -- control API --------------------------------------------------------------------------------


def test_the_next_pushes_can_be_made_to_fail_with_any_status_then_it_recovers(
    service: PushService, subscription: Subscription, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    service.fail_next(429, count=2, retry_after="7")
    service.fail_next(500)
    for status in (429, 429, 500):
        r = valid_push(service, subscription, vapid_key)
        assert r.status_code == status
        assert r.headers.get("Retry-After") == ("7" if status == 429 else None)
    assert service.messages(subscription) == []
    assert valid_push(service, subscription, vapid_key).status_code == 201


def test_a_stopped_service_refuses_connections_and_comes_back_with_its_subscriptions(
    vapid_key: ec.EllipticCurvePrivateKey,
) -> None:
    with PushService() as service:
        sub = service.subscribe(b64url_encode(public_bytes(vapid_key)))
        assert valid_push(service, sub, vapid_key).status_code == 201
        service.stop()
        with pytest.raises(httpx.ConnectError):
            valid_push(service, sub, vapid_key)
        service.start()
        assert sub.endpoint.startswith(service.endpoint_prefix)
        assert valid_push(service, sub, vapid_key).status_code == 201
        assert len(service.messages(sub)) == 2


def test_waiting_for_messages_that_never_come_fails_after_the_timeout(
    service: PushService, subscription: Subscription
) -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match="0 of 1 push messages arrived"):
        service.wait_for(subscription, timeout=0.3)
    assert time.monotonic() - started >= 0.3, "it waited the whole timeout first"


async def test_waiting_from_async_code_sees_a_message_that_arrives_meanwhile(
    service: PushService, subscription: Subscription, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    waiting = asyncio.create_task(service.wait_for_async(subscription, count=1, timeout=10))
    await asyncio.sleep(0.1)
    body = encrypt(b"late", subscription.p256dh, subscription.auth)
    async with httpx.AsyncClient(trust_env=False) as client:
        r = await client.post(
            subscription.endpoint,
            content=body,
            headers={"TTL": "0", "Content-Encoding": "aes128gcm",
                     "Authorization": sign_vapid(vapid_key, claims_for(service))},
        )  # fmt: skip
    assert r.status_code == 201
    [received] = await waiting
    assert received.text == "late"


def test_as_a_subprocess_it_keeps_subscriptions_and_messages_across_a_restart(
    tmp_path: Path, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    service = PushService(subprocess_dir=tmp_path)
    with service:
        sub = service.subscribe(b64url_encode(public_bytes(vapid_key)))
        assert valid_push(service, sub, vapid_key, plaintext=b"one").status_code == 201
        port = service.port
        service.restart()
        assert service.port == port
        assert valid_push(service, sub, vapid_key, plaintext=b"two").status_code == 201
        assert [m.text for m in service.wait_for(sub, count=2)] == ["one", "two"]
