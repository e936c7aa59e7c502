"""Posting limits: each role may post so many messages and threads a minute, and a newcomer only
so many links in a message (server/ratelimit.py, server/policy.py, POSTS_PER_MINUTE,
NEWCOMER_HOURS, NEWCOMER_MAX_LINKS).

Through the real app on SQLite and PostgreSQL: the HTTP form, the JSON API and the socket refuse
a post over the limit with a sentence naming the wait, and store nothing. Below it, the counting
itself: concurrent posts, two processes sharing Redis, and Redis away.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.messages import send_message
from server.actions.threads import start_thread
from server.app import create_app
from server.db import close_database, open_database
from server.errors import ActionError, TooFast
from server.markdown import render
from server.models import Message, Role, Thread, User
from server.policy import Policy, count_links, policy_of
from server.publisher import Publisher
from server.ratelimit import PostLimiter
from server.settings import DEFAULT_POSTS_PER_MINUTE, ROLES, Settings, load_settings
from tests.conftest import NOT_LIVE, PASSWORD, csrf_of, free_port, login, make_settings
from tests.test_staff_controls import bearer

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
WEBER, JAN, MIRA = "weber@example.org", "jan@nordlicht.example", "mira@nordlicht.example"
CUSTOMER_LIMIT, EMPLOYEE_LIMIT = 3, 5  # a moderator's role is left out: no limit
LIMITS = {"customer": CUSTOMER_LIMIT, "employee": EMPLOYEE_LIMIT}
TOO_FAST = re.compile(
    r"You are posting too fast: at most (\d+) posts a minute\. "
    r"Try again in (?:a second|(\d+) seconds)\."
)
THREE_LINKS = "See [one](https://a.example), <https://b.example> and [three](https://c.example)."
TWO_LINKS = "See [one](https://a.example) and <https://b.example>."


def redis_url() -> str:
    if not REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must set TEST_REDIS_URL so posting limits are tested on Redis")
        pytest.skip("TEST_REDIS_URL is not set")
    return REDIS_URL


def assert_too_fast(message: str, limit: int) -> None:
    """The sentence names the limit and a wait of a second up to a minute."""
    found = TOO_FAST.fullmatch(message)
    assert found is not None, message
    assert int(found[1]) == limit
    assert 1 <= int(found[2] or 1) <= 60, message


# -- through the app -------------------------------------------------------------------------


@pytest.fixture
def client(database_url: str, tmp_path: Path, fast_passwords: None) -> Iterator[TestClient]:
    """The app on each configured database, with small limits for customers and employees."""
    settings = make_settings(database_url, tmp_path, posts_per_minute=LIMITS)
    with TestClient(create_app(settings), base_url="http://testserver") as c:
        yield c


@pytest.fixture
def tokens(client: TestClient) -> dict[str, dict[str, str]]:
    """A new customer, a new employee and a moderator, each with an API token."""
    people = ((WEBER, "Gisela Weber", Role.CUSTOMER), (JAN, "Jan Petersen", Role.EMPLOYEE),
              (MIRA, "Mira Yilmaz", Role.MODERATOR))  # fmt: skip
    for email, name, role in people:
        client.portal.call(create_user, email, name, PASSWORD, role, "")  # type: ignore[union-attr]
    return {email: bearer(client, email) for email, _, _ in people}


def ask(client: TestClient, who: dict[str, str], cid: str = "ask-1", body: str = "Hello") -> Any:
    return client.post(
        "/api/v1/threads", headers=who, json={"title": "Meter", "body": body, "client_id": cid}
    )


def post(client: TestClient, who: dict[str, str], thread: str, body: str, cid: str) -> Any:
    return client.post(
        f"/api/v1/threads/{thread}/messages", headers=who, json={"body": body, "client_id": cid}
    )


def bodies(client: TestClient, who: dict[str, str], thread: str) -> list[str]:
    r = client.get(f"/api/v1/threads/{thread}/messages", headers=who)
    assert r.status_code == 200, r.text
    return [m["body"] for m in reversed(r.json()["messages"])]  # the API lists newest first


def thread_count(client: TestClient, who: dict[str, str]) -> int:
    r = client.get("/api/v1/threads", headers=who)
    assert r.status_code == 200, r.text
    return len(r.json()["threads"])


def test_a_customer_over_the_limit_gets_429_with_the_wait_and_nothing_is_stored_over_the_api(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    weber = tokens[WEBER]
    thread = ask(client, weber).json()["thread"]["id"]  # a new thread is a post too
    for n in range(1, CUSTOMER_LIMIT):
        r = post(client, weber, thread, f"Message {n}", f"w-{n}")
        assert r.status_code == 201, r.text

    r = post(client, weber, thread, "One too many", "w-over")
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    assert_too_fast(r.json()["error"]["message"], CUSTOMER_LIMIT)
    r = ask(client, weber, "ask-over")
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"

    assert bodies(client, weber, thread) == ["Hello", "Message 1", "Message 2"]
    assert thread_count(client, weber) == 1, "the refused thread was not opened"


def test_a_retry_of_a_stored_message_while_over_the_limit_returns_the_stored_message(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    weber = tokens[WEBER]
    started = ask(client, weber).json()
    thread, first = started["thread"]["id"], started["message"]["id"]
    stored = [post(client, weber, thread, f"Message {n}", f"w-{n}").json()["message"]["id"]
              for n in range(1, CUSTOMER_LIMIT)]  # fmt: skip
    assert post(client, weber, thread, "One too many", "w-over").status_code == 429

    r = post(client, weber, thread, "Message 2", "w-2")  # an outbox resending after a reconnect
    assert r.status_code == 200, r.text
    assert r.json()["message"]["id"] == stored[-1]
    r = ask(client, weber)  # a retried start
    assert r.status_code == 200 and r.json()["message"]["id"] == first
    with client.websocket_connect("/ws?format=json", headers=weber) as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_json({"type": "send", "thread": thread, "body": "Message 1", "client_id": "w-1"})
        ack = answer(ws)
        assert ack == {"type": "ack", "id": stored[0], "thread": thread, "client_id": "w-1",
                       "duplicate": True}  # fmt: skip
    assert post(client, weber, thread, "Still too many", "w-over").status_code == 429
    assert bodies(client, weber, thread) == ["Hello", "Message 1", "Message 2"]


def answer(ws: Any) -> dict[str, Any]:
    """The socket's answer to a frame: an ack or an error (skipping read marks and events)."""
    for _ in range(20):
        frame: dict[str, Any] = ws.receive_json()
        if frame["type"] in ("ack", "error"):
            return frame
    raise AssertionError("no answer")


def test_a_socket_send_over_the_limit_gets_an_error_frame_rate_limited_and_stores_nothing(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    weber = tokens[WEBER]
    thread = ask(client, weber).json()["thread"]["id"]
    with client.websocket_connect("/ws?format=json", headers=weber) as ws:
        assert ws.receive_json()["type"] == "hello"
        for n in range(1, CUSTOMER_LIMIT + 1):
            ws.send_json({"type": "send", "thread": thread, "body": f"Live {n}",
                          "client_id": f"live-{n}"})  # fmt: skip
            frame = answer(ws)
            if n < CUSTOMER_LIMIT:
                assert frame["type"] == "ack" and frame["client_id"] == f"live-{n}", frame
        assert frame["type"] == "error" and frame["code"] == "rate_limited", frame
        assert (frame["thread"], frame["client_id"]) == (thread, f"live-{CUSTOMER_LIMIT}")
        assert_too_fast(frame["message"], CUSTOMER_LIMIT)
        ws.send_json({"type": "ping", "t": "still open"})
        assert ws.receive_json()["type"] == "pong", "the socket stays open"
    assert bodies(client, weber, thread) == ["Hello", "Live 1", "Live 2"]


def test_the_form_refuses_a_post_over_the_limit_with_429_and_the_sentence(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    thread = ask(client, tokens[WEBER]).json()["thread"]["id"]
    login(client, WEBER)
    hx = {"HX-Request": "true", "x-csrftoken": csrf_of(client)}
    for n in range(1, CUSTOMER_LIMIT):
        r = client.post(f"/threads/{thread}/messages", headers=hx,
                        data={"body": f"Form {n}", "client_id": f"f-{n}"})  # fmt: skip
        assert r.status_code == 200, r.text

    r = client.post(f"/threads/{thread}/messages", headers=hx,
                    data={"body": "Form over", "client_id": "f-over"})  # fmt: skip
    assert r.status_code == 429
    assert r.headers["HX-Retarget"] == "#form-error"
    sentence = re.search(r'<p class="error" role="alert">(.*)</p>', r.text)
    assert sentence is not None, r.text
    assert_too_fast(sentence[1], CUSTOMER_LIMIT)
    form = {"body": "Form over", "client_id": "f-over", "csrftoken": csrf_of(client)}
    r = client.post(f"/threads/{thread}/messages", data=form)
    assert r.status_code == 429 and "You are posting too fast" in r.text, "the page without htmx"
    form = {"title": "Another", "body": "Hello", "csrftoken": csrf_of(client)}
    r = client.post("/threads", data=form, follow_redirects=False)
    assert r.status_code == 429 and "You are posting too fast" in r.text
    assert bodies(client, tokens[WEBER], thread) == ["Hello", "Form 1", "Form 2"]
    assert thread_count(client, tokens[WEBER]) == 1


def test_staff_have_their_own_limit_and_a_role_left_out_has_none(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    weber, jan, mira = tokens[WEBER], tokens[JAN], tokens[MIRA]
    thread = ask(client, weber).json()["thread"]["id"]
    for n in range(EMPLOYEE_LIMIT):
        r = post(client, jan, thread, f"Jan {n}", f"j-{n}")
        assert r.status_code == 201, f"an employee may post {EMPLOYEE_LIMIT}: {r.text}"
    r = post(client, jan, thread, "Jan over", "j-over")
    assert r.status_code == 429
    assert_too_fast(r.json()["error"]["message"], EMPLOYEE_LIMIT)

    for n in range(3 * EMPLOYEE_LIMIT):
        r = post(client, mira, thread, f"Mira {n}", f"m-{n}")
        assert r.status_code == 201, "moderators are not in POSTS_PER_MINUTE: no limit"
    for n in range(1, CUSTOMER_LIMIT):
        assert post(client, weber, thread, f"Weber {n}", f"w-{n}").status_code == 201
    assert post(client, weber, thread, "Weber over", "w-over").status_code == 429, (
        "the customer's own count, not the staff's"
    )


def test_concurrent_requests_never_let_more_than_the_limit_through(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    weber, jan = tokens[WEBER], tokens[JAN]
    thread = ask(client, weber).json()["thread"]["id"]
    attempts = 3 * EMPLOYEE_LIMIT
    with ThreadPoolExecutor(attempts) as pool:
        answers = list(pool.map(lambda n: post(client, jan, thread, f"At once {n}", f"j-{n}"),
                                range(attempts)))  # fmt: skip
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * EMPLOYEE_LIMIT + [429] * (attempts - EMPLOYEE_LIMIT)
    stored = [b for b in bodies(client, weber, thread) if b.startswith("At once")]
    assert len(stored) == EMPLOYEE_LIMIT


def test_a_newcomer_with_too_many_links_is_refused_and_an_older_customer_and_staff_are_not(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    weber, jan = tokens[WEBER], tokens[JAN]
    thread = ask(client, weber).json()["thread"]["id"]
    for attempt in range(2):
        r = post(client, weber, thread, THREE_LINKS, f"links-{attempt}")
        assert r.status_code == 400, r.text
        assert r.json()["error"] == {
            "code": "too_many_links",
            "message": "New accounts may post at most 2 links in a message; this one has 3.",
        }
    r = ask(client, weber, "ask-links", body=THREE_LINKS)
    assert r.status_code == 400 and r.json()["error"]["code"] == "too_many_links"
    assert post(client, weber, thread, TWO_LINKS, "two-links").status_code == 201
    r = post(client, jan, thread, THREE_LINKS, "jan-links")
    assert r.status_code == 201, "staff are never newcomers, however new their account"

    a_day_ago = datetime.now(UTC) - timedelta(hours=24, minutes=1)
    client.portal.call(age, WEBER, a_day_ago)  # type: ignore[union-attr]
    assert post(client, weber, thread, THREE_LINKS, "old-links").status_code == 201
    assert bodies(client, weber, thread) == ["Hello", TWO_LINKS, THREE_LINKS, THREE_LINKS]
    assert thread_count(client, weber) == 1
    r = post(client, weber, thread, "Now one too many", "w-over")
    assert r.status_code == 429, "the refused posts with links did not use up the rate"


async def age(email: str, created_at: datetime) -> None:
    """Make an account older than it is (the only row a test writes by hand: time passing)."""
    await User.filter(email=email).update(created_at=created_at)


# -- the counting ----------------------------------------------------------------------------


@pytest.fixture
async def people(database_url: str, tmp_path: Path, fast_passwords: None) -> AsyncIterator[Any]:
    """An open database (each configured kind) with a customer and her question."""
    await open_database(make_settings(database_url, tmp_path))
    try:
        weber = await create_user(WEBER, "Gisela Weber", PASSWORD, Role.CUSTOMER, "")
        thread, _, _ = await start_thread(NOT_LIVE, weber, "Meter", "Is it wrong?", "ask-1")
        yield weber, thread
    finally:
        await close_database()


@pytest.mark.parametrize("storage", ["memory", "redis"])
async def test_posts_sent_at_once_from_two_processes_store_exactly_the_limit(
    people: tuple[User, Thread], storage: str
) -> None:
    weber, thread = people
    url = "memory://" if storage == "memory" else redis_url()
    # With memory:// one process; with Redis two, as two servers would each have their own.
    limiters = [PostLimiter(url, LIMITS) for _ in range(1 if storage == "memory" else 2)]
    servers = [Publisher(policy=Policy(posting=limiter)) for limiter in limiters]
    try:
        attempts = 4 * CUSTOMER_LIMIT
        results = await asyncio.gather(
            *(send_message(servers[n % len(servers)], weber, thread.id, f"At once {n}", f"c-{n}")
              for n in range(attempts)),
            return_exceptions=True,
        )  # fmt: skip
    finally:
        for limiter in limiters:
            await limiter.close()
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, TooFast) for r in refused), refused
    assert len(refused) == attempts - CUSTOMER_LIMIT
    stored = await Message.filter(thread_id=thread.id, body__startswith="At once").count()
    assert stored == CUSTOMER_LIMIT


async def test_two_limiters_on_redis_share_one_count_per_person() -> None:
    url = redis_url()
    first, second = PostLimiter(url, LIMITS), PostLimiter(url, LIMITS)
    weber = User(id="rl-" + os.urandom(6).hex(), role=Role.CUSTOMER)
    tom = User(id="rl-" + os.urandom(6).hex(), role=Role.CUSTOMER)
    try:
        for n in range(CUSTOMER_LIMIT):
            await (first, second)[n % 2].check(weber)
        for limiter in (first, second):
            with pytest.raises(TooFast) as refused:
                await limiter.check(weber)
            assert_too_fast(refused.value.message, CUSTOMER_LIMIT)
            assert 1 <= refused.value.retry_after <= 60
        await second.check(tom)  # someone else's count is their own
    finally:
        await first.close()
        await second.close()


async def test_posting_goes_on_unlimited_and_logged_when_redis_does_not_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = PostLimiter(f"redis://127.0.0.1:{free_port()}/0", {"customer": 1})
    weber = User(id="rl-away", role=Role.CUSTOMER)
    try:
        with caplog.at_level(logging.WARNING, logger="server.ratelimit"):
            for _ in range(3):
                await limiter.check(weber)
    finally:
        await limiter.close()
    assert "posting limit not checked for user rl-away" in caplog.text


async def test_a_closed_redis_limiter_leaves_no_connection_behind() -> None:
    # limits has no public close; PostLimiter.close reaches into it. If limits moves its
    # client, close fails here, or a ResourceWarning fails this test.
    limiter = PostLimiter(redis_url(), LIMITS)
    await limiter.check(User(id="rl-" + os.urandom(6).hex(), role=Role.EMPLOYEE))
    await limiter.close()
    del limiter
    gc.collect()


async def test_an_unlimited_role_is_not_counted_and_no_limits_means_no_limiter() -> None:
    limiter = PostLimiter("memory://", {"customer": 2, "employee": 0})
    assert (limiter.limit_of(Role.CUSTOMER), limiter.limit_of(Role.EMPLOYEE)) == (2, None)
    assert limiter.limit_of(Role.ADMIN) is None
    jan = User(id="jan", role=Role.EMPLOYEE)
    for _ in range(50):
        await limiter.check(jan)
    settings = Settings(posts_per_minute={"customer": 0})
    assert PostLimiter.from_settings(settings) is None
    assert PostLimiter.from_settings(Settings(posts_per_minute={})) is None
    assert PostLimiter.from_settings(Settings()) is not None


def test_too_fast_is_a_429_rate_limited_that_names_the_limit_and_the_wait() -> None:
    err = TooFast(limit=10, seconds=42)
    assert (err.status, err.code, err.retry_after) == (429, "rate_limited", 42)
    assert err.message == (
        "You are posting too fast: at most 10 posts a minute. Try again in 42 seconds."
    )
    assert TooFast(limit=10, seconds=1).message.endswith("Try again in a second.")


# -- newcomers' links --------------------------------------------------------------------------


def test_links_are_counted_in_the_rendered_post_as_anchors_with_an_address() -> None:
    html = render(
        "[a](https://a.example), <https://b.example>, [mail](mailto:x@y.example), "
        "[script](javascript:alert(1)), [nowhere](), and https://bare.example as text"
    )
    assert count_links(html) == 3
    assert count_links(render("no links")) == 0


async def test_a_newcomer_is_a_customer_younger_than_newcomer_hours_and_only_a_customer() -> None:
    now = datetime.now(UTC)
    policy = Policy(newcomer_hours=24, newcomer_max_links=0)

    def user(role: Role, age: timedelta) -> User:
        return User(id="u-" + role.value, role=role, created_at=now - age)

    with pytest.raises(ActionError) as refused:
        await policy.admit(user(Role.CUSTOMER, timedelta(hours=23)), render(TWO_LINKS), now)
    assert refused.value.code == "too_many_links" and refused.value.status == 400
    await policy.admit(user(Role.CUSTOMER, timedelta(hours=23)), render("no link"), now)
    await policy.admit(user(Role.CUSTOMER, timedelta(hours=24)), render(TWO_LINKS), now)
    for staff in (Role.EMPLOYEE, Role.MODERATOR, Role.ADMIN):
        await policy.admit(user(staff, timedelta(0)), render(TWO_LINKS), now)
    nobody = Policy(newcomer_hours=0, newcomer_max_links=0)
    await nobody.admit(user(Role.CUSTOMER, timedelta(0)), render(TWO_LINKS), now)


# -- settings --------------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "x")
    for name in ("POSTS_PER_MINUTE", "NEWCOMER_HOURS", "NEWCOMER_MAX_LINKS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_posting_settings_default_to_limits_for_every_role(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.posts_per_minute == {
        "customer": 10, "employee": 60, "moderator": 120, "admin": 120,
    }  # fmt: skip
    assert (settings.newcomer_hours, settings.newcomer_max_links) == (24.0, 2)
    assert dict(Settings().posts_per_minute) == dict(settings.posts_per_minute)
    policy = policy_of(settings)
    assert (policy.newcomer_hours, policy.newcomer_max_links) == (24.0, 2)
    assert DEFAULT_POSTS_PER_MINUTE in (Path(__file__).parent.parent / "README.md").read_text()


def test_the_posting_settings_are_read_from_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("POSTS_PER_MINUTE", " customer = 5, employee=0 ,admin=200,")
    env.setenv("NEWCOMER_HOURS", "72")
    env.setenv("NEWCOMER_MAX_LINKS", "0")
    settings = load_settings()
    assert settings.posts_per_minute == {"customer": 5, "employee": 0, "admin": 200}
    assert (settings.newcomer_hours, settings.newcomer_max_links) == (72.0, 0)
    env.setenv("POSTS_PER_MINUTE", "")
    assert load_settings().posts_per_minute == {}, "empty: no limits at all"


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("POSTS_PER_MINUTE", "customer", "'customer'"),
        ("POSTS_PER_MINUTE", "customer=ten", "'customer=ten'"),
        ("POSTS_PER_MINUTE", "customer=-1", "'customer=-1'"),
        ("POSTS_PER_MINUTE", "customer=1.5", "'customer=1.5'"),
        ("POSTS_PER_MINUTE", "customer=10 employee=60", "'customer=10 employee=60'"),
        ("POSTS_PER_MINUTE", "guest=5", "'guest'"),
        ("POSTS_PER_MINUTE", "customer=1,customer=2", "'customer' twice"),
        ("NEWCOMER_HOURS", "-1", "-1.0"),
        ("NEWCOMER_HOURS", "soon", "'soon'"),
        ("NEWCOMER_MAX_LINKS", "-2", "-2"),
        ("NEWCOMER_MAX_LINKS", "two", "'two'"),
    ],
)
def test_a_bad_posting_setting_stops_the_server_naming_the_value(
    env: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    env.setenv(name, value)
    with pytest.raises(ValueError, match=re.escape(named)) as refused:
        load_settings()
    assert name in str(refused.value)


def test_the_roles_the_settings_know_are_the_roles_of_the_models() -> None:
    assert tuple(role.value for role in Role) == ROLES
