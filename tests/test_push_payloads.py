"""What a push notification carries: small enough for every push service, readable when cut."""

from __future__ import annotations

import json

import pytest

from push.kinds import KINDS
from push.payloads import (
    BODY_MAX_CHARS,
    PAYLOAD_MAX_BYTES,
    SHORTENED_BODY_CHARS,
    TITLE_MAX_CHARS,
    Notification,
    shorten,
)

FCM_MAX_TTL_SECONDS = 28 * 24 * 3600  # FCM caps TTL at four weeks


def note(
    title: str = "Meter reading", body: str = "Jan: done", url: str = "/threads/t1"
) -> Notification:
    return Notification("reply", title, body, url, "thread-t1", 4)


@pytest.mark.parametrize("character", ["a", "ä", "€", "漢", "🔌", "👩‍👩‍👧"])
def test_a_huge_title_and_body_in_any_script_stay_under_3000_bytes(character: str) -> None:
    raw = note(title=character * 50_000, body=(character * 7 + " ") * 50_000).encode()
    assert len(raw) <= PAYLOAD_MAX_BYTES
    data = json.loads(raw.decode("utf-8"))
    assert len(data["title"]) <= TITLE_MAX_CHARS
    assert len(data["body"]) <= BODY_MAX_CHARS
    assert data["title"].endswith("…") and data["body"].endswith("…")


def test_the_payload_is_compact_utf8_json_with_every_field() -> None:
    raw = note(title="Zählerstand", body="Grüße").encode()
    assert b"\\u" not in raw and b": " not in raw  # no ASCII escapes, no padding
    assert json.loads(raw) == {
        "kind": "reply",
        "title": "Zählerstand",
        "body": "Grüße",
        "url": "/threads/t1",
        "tag": "thread-t1",
        "badge": 4,
    }


def test_a_long_url_leaves_less_room_for_text_but_still_fits() -> None:
    url = "/threads/" + "x" * 2700
    raw = note(body="ü" * 1000, url=url).encode()
    assert len(raw) <= PAYLOAD_MAX_BYTES
    data = json.loads(raw)
    assert data["url"] == url
    assert len(data["body"]) <= SHORTENED_BODY_CHARS


def test_a_notification_that_cannot_fit_even_without_text_is_an_error() -> None:
    with pytest.raises(ValueError, match="does not fit 3000 bytes"):
        note(url="/threads/" + "x" * 3000).encode()


def test_after_a_413_the_worker_can_ask_for_a_shorter_body() -> None:
    long = note(body="Wort " * 200)
    assert len(long.encode(SHORTENED_BODY_CHARS // 2)) < len(long.encode())
    assert len(json.loads(long.encode(SHORTENED_BODY_CHARS // 2))["body"]) <= 30


# -- shortening -------------------------------------------------------------------------------


def test_short_text_is_kept_with_its_whitespace_collapsed() -> None:
    assert shorten("  Strom\n\n  und   Gas ", 80) == "Strom und Gas"


@pytest.mark.parametrize("limit", [20, 33, 47, 60])
def test_long_text_is_cut_at_a_word_boundary_with_an_ellipsis(limit: int) -> None:
    text = "Der Zählerstand vom März stimmt nicht mit der Rechnung überein, bitte prüfen"
    result = shorten(text, limit)
    assert len(result) <= limit
    assert result.endswith("…")
    stem = result[:-1]
    assert text.startswith(stem)
    assert text[len(stem)] in " ,.;:", f"{result!r} cuts a word"


def test_punctuation_before_the_ellipsis_is_dropped() -> None:
    assert shorten("Zähler, Strom, Gas, Wasser und mehr", 16) == "Zähler, Strom…"


def test_a_single_long_word_is_cut_inside_the_word() -> None:
    word = "Donaudampfschifffahrtsgesellschaftskapitänsmütze"
    assert shorten(word, 20) == word[:19] + "…"


def test_limits_count_characters_not_bytes() -> None:
    assert len(shorten("ü" * 500, 180)) == 180
    assert shorten("🔌" * 10, 10) == "🔌" * 10


@pytest.mark.parametrize("limit", [0, 1])
def test_no_room_means_no_text(limit: int) -> None:
    assert shorten("Hallo Welt", limit) == ""


# -- delivery per kind ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "urgency"),
    [
        ("mention", "high"),
        ("moderation", "high"),
        ("test", "high"),
        ("reply", "normal"),
        ("status", "normal"),
    ],
)
def test_each_kind_has_its_urgency(kind: str, urgency: str) -> None:
    assert KINDS[kind].urgency == urgency


def test_ttls_are_positive_and_within_what_push_services_accept() -> None:
    for kind in KINDS:
        assert 0 < kind.ttl_seconds <= FCM_MAX_TTL_SECONDS, kind.name
        assert kind.urgency in ("very-low", "low", "normal", "high"), kind.name


def test_replies_outlive_a_weekend_and_moderator_alerts_go_stale_sooner() -> None:
    assert KINDS["reply"].ttl_seconds >= 2 * 24 * 3600
    assert KINDS["mention"].ttl_seconds >= 2 * 24 * 3600
    assert KINDS["moderation"].ttl_seconds < KINDS["reply"].ttl_seconds
    assert KINDS["test"].ttl_seconds <= 3600
