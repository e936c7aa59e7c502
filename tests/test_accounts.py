"""Accounts: sign-up, sign-in and its rate limit, sign-out, cookies, CSRF, settings, admin."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

import server.auth
from server.actions.account_mail import password_link
from server.actions.accounts import create_user
from server.app import create_app
from server.mail.digest import unsubscribe_url
from server.models import (
    ApiToken,
    Article,
    AuditEntry,
    CustomerNote,
    CustomerTag,
    Event,
    Flag,
    Follow,
    Message,
    NotificationSettings,
    OutboundMail,
    PushJob,
    PushSubscription,
    ReadState,
    Revision,
    Role,
    SavedReply,
    Session,
    Space,
    SpaceMember,
    Team,
    Thread,
    User,
)
from server.routes import routes
from server.settings import Settings
from tests.conftest import PASSWORD, csrf_of, login, make_settings, signup

ADMIN = "admin@nordlicht.example"
REAL_HASHER = server.auth._hasher  # read before fast_passwords swaps it for a cheap one

pytestmark = pytest.mark.usefixtures("fast_passwords")


def add_user(client: TestClient, email: str, role: Role = Role.ADMIN) -> None:
    """Create an account through the action the CLI's `user add` calls."""
    client.portal.call(create_user, email, "Sabine Admin", PASSWORD, role, "IT")  # type: ignore[union-attr]


@contextlib.contextmanager
def without_cookies(client: TestClient) -> Iterator[None]:
    """Act as a script without the browser's cookies, then give the browser its cookies back."""
    saved = list(client.cookies.jar)
    client.cookies.clear()
    try:
        yield
    finally:
        client.cookies.clear()
        for cookie in saved:
            client.cookies.jar.set_cookie(cookie)


def token_for(client: TestClient, email: str) -> str:
    """Trade a password for an API token as a script would: without browser cookies."""
    with without_cookies(client):
        r = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def can_sign_in(client: TestClient, email: str, password: str = PASSWORD) -> bool:
    with without_cookies(client):
        r = client.post("/api/v1/tokens", json={"email": email, "password": password})
    assert r.status_code in (201, 401), r.text
    return r.status_code == 201


def snapshot(client: TestClient) -> dict[str, Any]:
    """Read every table, to prove a refused request wrote nothing."""

    async def read() -> dict[str, Any]:
        return {
            "users": await User.all()
            .order_by("id")
            .values_list(
                "id",
                "email",
                "role",
                "language",
                "deactivated_at",
                "muted_until",
                "suspended_until",
                "pending_email",
            ),  # fmt: skip
            "tokens": await ApiToken.all().count(),
            "mails": await OutboundMail.all().count(),
            "threads": await Thread.all()
            .order_by("id")
            .values_list(
                "id",
                "title",
                "status",
                "visibility",
                "staff_seq",
                "claimed_by_id",
                "assignee_id",
                "team_id",
                "answer_id",
            ),
            "teams": await Team.all().order_by("name").values_list("name", "lead_id"),
            "messages": await Message.all()
            .order_by("id")
            .values_list("id", "body", "edited_at", "deleted_at"),
            "events": await Event.all().count(),
            "flags": await Flag.all().count(),
            "audit": await AuditEntry.all().count(),
            "reads": await ReadState.all().order_by("id").values_list("id", "read_messages"),
            "follows": await Follow.all()
            .order_by("id")
            .values_list("user_id", "thread_id", "state"),
            "preferences": await NotificationSettings.all()
            .order_by("user_id")
            .values_list("user_id", "replies", "quiet_hours", "time_zone", "email"),
            "devices": await PushSubscription.all()
            .order_by("id")
            .values_list("id", "user_id", "endpoint", "label"),
            "push_jobs": await PushJob.all().count(),
            "sessions": await Session.all().order_by("id").values_list("id", "user_id"),
            "saved_replies": await SavedReply.all()
            .order_by("id")
            .values_list("id", "title", "body", "owner_id", "team_id"),
            "articles": await Article.all().order_by("id").values_list("id", "title", "revision"),
            "revisions": await Revision.all().count(),
            "spaces": await Space.all().order_by("id").values_list("id", "name"),
            "space_members": await SpaceMember.all()
            .order_by("id")
            .values_list("space_id", "user_id"),
            "customer_tags": await CustomerTag.all().order_by("tag").values_list("tag", flat=True),
            "customer_notes": await CustomerNote.all().count(),
        }

    return client.portal.call(read)  # type: ignore[union-attr]


def session_cookie_header(response: Any) -> str:
    [header] = [
        v for v in response.headers.get_list("set-cookie") if v.startswith("dreiklang_session=")
    ]
    return str(header)


# -- sign-up ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "password", "status", "message"),
    [
        ("not-an-address", PASSWORD, 400, "is not an e-mail address"),
        ("frau@weber", PASSWORD, 400, "is not an e-mail address"),
        ("frau.weber@example.org", "short", 400, "the password needs at least 10 characters"),
    ],
)
def test_sign_up_with_bad_input_explains_and_creates_nothing(
    client: TestClient, email: str, password: str, status: int, message: str
) -> None:
    before = snapshot(client)
    r = client.post(
        "/signup",
        data={"email": email, "name": "Gisela Weber", "password": password,
              "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == status
    assert message in r.text
    assert 'role="alert"' in r.text
    assert 'value="Gisela Weber"' in r.text, "the form keeps what was typed"
    assert "dreiklang_session" not in client.cookies
    assert snapshot(client) == before


def test_sign_up_with_a_taken_e_mail_explains_and_keeps_the_first_account(
    client: TestClient,
) -> None:
    signup(client, "weber@example.org", "Gisela Weber")
    client.cookies.clear()
    before = snapshot(client)
    r = client.post(
        "/signup",
        data={"email": "Weber@Example.org ", "name": "Impostor", "password": "another password",
              "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 409
    assert "exists already" in r.text
    assert snapshot(client) == before
    assert can_sign_in(client, "weber@example.org")
    assert not can_sign_in(client, "weber@example.org", "another password")


def test_sign_up_signs_the_new_customer_in(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    r = client.get("/threads")
    assert r.status_code == 200
    assert "Tom Becker" in r.text
    token = token_for(client, "tom@example.org")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "customer" and me["staff"] is False


def test_passwords_are_stored_as_argon2id_hashes(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server.auth, "_hasher", REAL_HASHER)
    signup(client, "lena@example.org", "Lena Schulz")

    async def stored() -> str:
        return (await User.get(email="lena@example.org")).password_hash

    digest = client.portal.call(stored)  # type: ignore[union-attr]
    assert digest.startswith("$argon2id$")
    assert PASSWORD not in digest
    # At least OWASP's minimum for argon2id: 19 MiB of memory, two passes.
    params = dict(p.split("=") for p in digest.split("$")[3].split(","))
    assert int(params["m"]) >= 19 * 1024 and int(params["t"]) >= 2, digest
    client.cookies.clear()
    login(client, "lena@example.org")


# -- sign-in and sign-out ----------------------------------------------------------------------


def test_sign_in_with_the_right_password_opens_a_session(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    client.cookies.clear()
    assert client.get("/threads", follow_redirects=False).status_code == 303
    r = client.post(
        "/login",
        data={"email": " TOM@example.org", "password": PASSWORD, "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/threads"
    assert "Tom Becker" in client.get("/threads").text


@pytest.mark.parametrize("email", ["tom@example.org", "nobody@example.org"])
def test_sign_in_with_a_wrong_password_or_unknown_e_mail_says_the_same(
    client: TestClient, email: str
) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    client.cookies.clear()
    r = client.post(
        "/login",
        data={"email": email, "password": "wrong password", "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 400
    assert "E-mail or password is wrong." in r.text
    assert "dreiklang_session" not in client.cookies
    assert client.get("/threads", follow_redirects=False).status_code == 303


@pytest.fixture
def strict_client(sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """An app that allows three sign-in attempts a minute."""
    settings = make_settings(sqlite_url, tmp_path, login_attempts_per_minute=3)
    with TestClient(create_app(settings), base_url="http://testserver") as c:
        yield c


def test_sign_in_is_rate_limited(strict_client: TestClient) -> None:
    client = strict_client
    signup(client, "tom@example.org", "Tom Becker")
    client.cookies.clear()
    for _ in range(3):
        r = client.post(
            "/login",
            data={"email": "tom@example.org", "password": "guess", "csrftoken": csrf_of(client)},
        )
        assert r.status_code == 400
    r = client.post(
        "/login",
        data={"email": "tom@example.org", "password": PASSWORD, "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 429, "even the right password waits once the limit is reached"
    assert "Too many sign-in attempts" in r.text
    assert "dreiklang_session" not in client.cookies
    client.cookies.clear()
    r = client.post("/api/v1/tokens", json={"email": "tom@example.org", "password": PASSWORD})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"


def test_sign_out_ends_the_session(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    old_session = client.cookies["dreiklang_session"]
    r = client.post("/logout", data={"csrftoken": csrf_of(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login"
    assert client.get("/threads", follow_redirects=False).status_code == 303
    assert client.cookies.get("dreiklang_session") != old_session


def test_a_copied_session_cookie_stops_working_after_sign_out(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    copied = client.cookies["dreiklang_session"]  # e.g. lifted from a shared computer
    client.post("/logout", data={"csrftoken": csrf_of(client)})
    assert not signed_in_with(client, {"dreiklang_session": copied})
    with without_cookies(client):
        client.cookies.set("dreiklang_session", copied)
        assert client.get("/threads", follow_redirects=False).status_code == 303


def test_signing_in_again_in_the_same_browser_replaces_its_session(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    first = client.cookies["dreiklang_session"]
    login(client, "tom@example.org")
    assert sessions_in_table(client) == 1
    assert not signed_in_with(client, {"dreiklang_session": first})
    assert client.get("/api/v1/me").status_code == 200


PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


def sessions_in_table(client: TestClient) -> int:
    return int(client.portal.call(Session.all().count))  # type: ignore[union-attr]


@contextlib.contextmanager
def other_browser(client: TestClient, user_agent: str = PHONE) -> Iterator[dict[str, str]]:
    """Act as another browser of the same person; yield its cookies once it signed in."""
    cookies: dict[str, str] = {}
    with without_cookies(client):
        client.headers["user-agent"] = user_agent
        try:
            yield cookies
            cookies.update(client.cookies)
        finally:
            client.headers["user-agent"] = "testclient"


def signed_in_with(client: TestClient, cookies: dict[str, str]) -> bool:
    """Tell whether a browser holding these cookies is still signed in."""
    with without_cookies(client):
        client.cookies.update(cookies)
        r = client.get("/api/v1/me")
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


def test_settings_lists_where_you_are_signed_in_and_signs_out_another_browser(
    client: TestClient,
) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    with other_browser(client) as phone:
        login(client, "tom@example.org")
    page = client.get("/settings").text
    assert "Chrome Mobile on Android" in page
    assert page.count("this browser") == 1 and page.count("Unknown browser") == 1
    [phone_id] = client.portal.call(  # type: ignore[union-attr]
        lambda: Session.filter(device="Chrome Mobile on Android").values_list("id", flat=True)
    )
    assert signed_in_with(client, phone)
    r = client.post(
        f"/settings/sessions/{phone_id}/end",
        headers={"HX-Request": "true", "x-csrftoken": csrf_of(client)},
    )
    assert r.status_code == 200 and 'id="sessions"' in r.text
    assert "Chrome Mobile on Android" not in r.text and "this browser" in r.text
    assert not signed_in_with(client, phone)
    assert client.get("/api/v1/me").status_code == 200  # this browser stays signed in


def test_sign_out_everywhere_else_keeps_only_this_browser(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    with other_browser(client) as phone:
        login(client, "tom@example.org")
    with other_browser(client, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Firefox/133.0") as pc:
        login(client, "tom@example.org")
    assert sessions_in_table(client) == 3
    r = client.post("/settings/sessions/others/end", data={"csrftoken": csrf_of(client)},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/settings#sessions"
    assert not signed_in_with(client, phone) and not signed_in_with(client, pc)
    assert sessions_in_table(client) == 1
    assert client.get("/api/v1/me").status_code == 200
    assert 'id="end-other-sessions"' not in client.get("/settings").text  # nothing else to end


def test_nobody_can_end_someone_elses_session(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    with other_browser(client) as tom:
        login(client, "tom@example.org")
    [tom_session] = client.portal.call(  # type: ignore[union-attr]
        lambda: Session.filter(device="Chrome Mobile on Android").values_list("id", flat=True)
    )
    client.post("/logout", data={"csrftoken": csrf_of(client)})
    signup(client, "eva@example.org", "Eva Schulz")
    for path in (f"/settings/sessions/{tom_session}/end", "/settings/sessions/nope/end"):
        r = client.post(path, data={"csrftoken": csrf_of(client)}, follow_redirects=False)
        assert r.status_code == 404, r.text
        assert "this session has already ended" in r.text and "Tom" not in r.text
    client.post("/settings/sessions/others/end", data={"csrftoken": csrf_of(client)})
    assert signed_in_with(client, tom)


def test_ending_this_browsers_own_session_signs_it_out(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    [mine] = client.portal.call(lambda: Session.all().values_list("id", flat=True))  # type: ignore[union-attr]
    r = client.post(f"/settings/sessions/{mine}/end", data={"csrftoken": csrf_of(client)},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/api/v1/me").status_code == 401 and sessions_in_table(client) == 0


def test_changing_the_password_signs_out_every_other_browser_and_keeps_this_one(
    client: TestClient,
) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    with other_browser(client) as phone:
        login(client, "tom@example.org")
    new = "a much longer passphrase"
    r = client.post("/settings/password", follow_redirects=False, data={
        "current_password": PASSWORD, "new_password": new, "csrftoken": csrf_of(client),
    })  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/settings?password=1#password"
    assert (
        "Password changed. Every other browser is signed out."
        in client.get(r.headers["location"]).text
    )
    assert not signed_in_with(client, phone)
    assert client.get("/api/v1/me").status_code == 200
    assert not can_sign_in(client, "tom@example.org")
    assert can_sign_in(client, "tom@example.org", new)


@pytest.mark.parametrize(
    ("current", "new", "status", "message"),
    [
        ("wrong password!", "a much longer passphrase", 400, "the current password is wrong"),
        ("", "a much longer passphrase", 400, "the current password is wrong"),
        (PASSWORD, "short", 400, "the password needs at least 10 characters"),
    ],
)
def test_a_wrong_current_password_or_a_weak_new_one_is_explained_and_changes_nothing(
    client: TestClient, current: str, new: str, status: int, message: str
) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    with other_browser(client) as phone:
        login(client, "tom@example.org")
    before = snapshot(client)
    r = client.post("/settings/password", data={
        "current_password": current, "new_password": new, "csrftoken": csrf_of(client),
    })  # fmt: skip
    assert r.status_code == status and message in r.text and 'role="alert"' in r.text
    assert snapshot(client) == before
    assert signed_in_with(client, phone) and can_sign_in(client, "tom@example.org")


def test_guessing_the_current_password_is_rate_limited_like_signing_in(
    strict_client: TestClient,
) -> None:
    client = strict_client
    signup(client, "tom@example.org", "Tom Becker")
    attempt = {"current_password": "guess", "new_password": "a much longer passphrase"}
    statuses = [
        client.post(
            "/settings/password", data={**attempt, "csrftoken": csrf_of(client)}
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [400, 400, 400, 429]
    r = client.post("/settings/password", data={
        "current_password": PASSWORD, "new_password": "a much longer passphrase",
        "csrftoken": csrf_of(client),
    })  # fmt: skip
    assert r.status_code == 429 and "Too many attempts" in r.text


def test_the_session_cookie_is_http_only_and_same_site_lax(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    client.cookies.clear()
    r = client.post(
        "/login",
        data={"email": "tom@example.org", "password": PASSWORD, "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )
    attributes = [a.strip().lower() for a in session_cookie_header(r).split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # HTTPS_COOKIES is off on a laptop


def test_https_cookies_adds_secure(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(sqlite_url, tmp_path, https_cookies=True)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        signup(client, "tom@example.org", "Tom Becker")
        client.cookies.clear()
        r = client.post(
            "/login",
            data={"email": "tom@example.org", "password": PASSWORD, "csrftoken": csrf_of(client)},
            follow_redirects=False,
        )
        attributes = [a.strip().lower() for a in session_cookie_header(r).split(";")]
        assert "secure" in attributes and "httponly" in attributes
        csrf = [v for v in r.headers.get_list("set-cookie") if v.startswith("dreiklang_csrf=")]
        assert all("Secure" in v for v in csrf)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/threads",
        "https://evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
    ],
)
def test_sign_in_does_not_redirect_to_another_site(client: TestClient, target: str) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    client.cookies.clear()
    r = client.post(
        "/login",
        data={"email": "tom@example.org", "password": PASSWORD, "next": target,
              "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    location = r.headers["location"]
    # Browsers read a backslash as a slash and drop tabs and newlines in URLs.
    as_browser = location.replace("\\", "/").replace("\t", "").replace("\n", "")
    resolved = urlsplit(urljoin("http://testserver/login", as_browser))
    assert resolved.scheme == "http" and resolved.netloc == "testserver", location


def test_sign_in_follows_a_local_next_path(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    client.cookies.clear()
    r = client.get("/settings", follow_redirects=False)
    assert r.headers["location"] == "/login?next=/settings"
    r = client.get(r.headers["location"])
    assert 'name="next" value="/settings"' in r.text
    r = client.post(
        "/login",
        data={"email": "tom@example.org", "password": PASSWORD, "next": "/settings",
              "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.headers["location"] == "/settings"


# -- CSRF ---------------------------------------------------------------------------------------


def form_posts() -> list[str]:
    """Every browser route that accepts a POST (the JSON API is tested separately)."""
    return sorted(
        {
            r.path
            for r in routes()
            if isinstance(r, Route)
            and "POST" in (r.methods or ())
            and not r.path.startswith("/api/")
        }
    )


# A form per browser POST route that would succeed with a CSRF token.
FORMS: dict[str, dict[str, str]] = {
    "/login": {"email": ADMIN, "password": PASSWORD},
    "/logout": {},
    "/signup": {"email": "new@example.org", "name": "New", "password": PASSWORD},
    "/settings": {"language": "de"},
    # RFC 8058's one-click POST comes from a mail provider without cookies (and so passes);
    # from a signed-in browser (the page's button) it needs the token like every form.
    "/mail/unsubscribe/{token}": {},
    "/settings/notifications": {"replies": "1", "mentions": "1", "quiet_hours": "1",
                                "quiet_start": "21:00", "quiet_end": "06:30",
                                "time_zone": "America/New_York"},
    "/admin/users": {"email": "new@nordlicht.example", "name": "New", "role": "employee",
                     "password": PASSWORD},
    "/threads": {"title": "Forged thread", "body": "forged", "client_id": "forged-1"},
    "/threads/{thread_id}": {"status": "closed", "title": "Forged title"},
    "/threads/{thread_id}/messages": {"body": "forged", "client_id": "forged-2"},
    "/threads/{thread_id}/follow": {"state": "muted"},
    "/threads/{thread_id}/claim": {},
    "/threads/{thread_id}/release": {},
    "/threads/{thread_id}/assign": {"note": "forged"},
    "/admin/teams": {"name": "Forged team"},
    "/messages/{message_id}/answer": {},  # a reply in a colleague's question (form_for)
    "/messages/{message_id}/helpful": {"on": "1"},  # a colleague's message (form_for)
    "/messages/{message_id}/edit": {"body": "forged"},
    "/messages/{message_id}/delete": {},
    "/push/devices/{device_id}/test": {},
    "/push/devices/{device_id}/delete": {},
    "/settings/sessions/{session_id}/end": {},
    "/settings/sessions/others/end": {},
    "/settings/password": {"current_password": PASSWORD, "new_password": "another horse battery"},
    "/settings/email": {"email": "sabine@example.net", "password": PASSWORD},
    "/settings/email/again": {},  # to the new address asked for first (the test does)
    "/settings/email/cancel": {},  # that change (the test asks for it first)
    "/password/forgot": {"email": ADMIN},
    "/password/reset/{token}": {"password": "another horse battery"},
    "/settings/tokens": {"name": "Forged token", "expires_in_days": "30"},
    "/settings/tokens/{token_id}/revoke": {},
    "/admin/users/{user_id}/role": {"role": "customer"},
    "/admin/users/{user_id}/deactivate": {},
    "/admin/users/{user_id}/reactivate": {},
    "/desk/replies": {"title": "Forged", "body": "forged"},
    "/desk/replies/{reply_id}/delete": {},
    "/messages/{message_id}/flag": {"reason": "spam"},  # a colleague's message (form_for)
    "/threads/{thread_id}/flag": {"reason": "off_topic"},  # a colleague's thread
    "/moderation/messages/{message_id}": {"decision": "hide", "reason": "spam"},
    "/moderation/threads/{thread_id}": {"decision": "lock"},
    "/moderation/people/{user_id}": {"kind": "mute", "hours": "1", "reason": "forged"},
    "/knowledge": {"title": "Forged article", "body": "forged"},
    "/knowledge/{article_id}": {"title": "Forged", "body": "forged", "base": "2"},
    "/knowledge/{article_id}/restore": {"number": "1", "base": "2"},
    "/spaces": {"name": "Forged space"},
    "/spaces/{space_id}/membership": {"join": "0"},  # its maker leaves it
    "/customers/{user_id}/tags": {"tag": "forged"},  # a customer's (form_for)
    "/customers/{user_id}/notes": {"body": "forged"},
    "/ideas": {"title": "Forged idea", "body": "forged", "tags": "forged", "client_id": "i-9"},
    "/ideas/{thread_id}/vote": {"vote": "1"},  # a colleague's idea (form_for)
    "/ideas/{thread_id}/status": {"status": "planned", "message": "forged"},
    "/ideas/{thread_id}/merge": {},  # into a second idea of the colleague's (form_for)
    "/messages/{message_id}/promote": {"title": "Forged idea"},  # a customer's (form_for)
}  # fmt: skip
# What an accepted form answers: a redirect, but a new token is shown on the page (only once).
ACCEPTED = {"/settings/tokens": 200, "/password/forgot": 200, "/mail/unsubscribe/{token}": 200}

# The routes the page's script (and the service worker) call with a JSON body and the
# x-csrftoken header, as fetch() does; they never see a form.
JSON_POSTS = ("/push/devices", "/push/devices/forget")

# Endpoints under this prefix pass the push endpoint guard in these tests (settings below);
# nothing listens on port 9, so a push the worker tries goes nowhere.
PUSH_PREFIX = "http://127.0.0.1:9/push/"


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    """The default settings, plus a test prefix so a device can be saved without DNS."""
    s = make_settings(sqlite_url, tmp_path, push_test_endpoint_prefix=PUSH_PREFIX)
    return s


def device_json(name: str) -> dict[str, Any]:
    """What PushSubscription.toJSON() gives the page, plus the label it adds."""
    return {"endpoint": PUSH_PREFIX + name, "expirationTime": None, "label": "Forged phone",
            "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22}}  # fmt: skip


def test_every_browser_post_route_has_a_form_or_a_json_body_in_the_csrf_tests() -> None:
    missing = set(form_posts()) - set(FORMS) - set(JSON_POSTS)
    assert not missing, f"add a form or JSON body for {sorted(missing)} to tests/test_accounts.py"
    assert set(FORMS) | set(JSON_POSTS) <= set(form_posts()), "the tests name removed routes"


def form_for(path: str, admin: Admin) -> tuple[str, dict[str, str]]:
    """Return the URL and a form that would succeed with a CSRF token."""
    assert path in FORMS, f"add a form for the new POST route {path!r} to tests/test_accounts.py"
    flags = path.endswith("/flag")  # nobody flags their own post: a colleague's
    thread = admin.idea if path.startswith("/ideas/") else admin.thread
    message = admin.customer_message if path.endswith("/promote") else admin.message
    person = admin.former if path.endswith("reactivate") else admin.colleague
    person = admin.customer if path.startswith("/customers/") else person
    # A reply (not a thread's first message) to accept or to mark helpful: a colleague's.
    message = admin.later_reply if path.endswith(("/answer", "/helpful")) else message
    url = (
        path.replace("{thread_id}", admin.other_thread if flags else thread)
        .replace("{message_id}", admin.other_message if flags else message)
        .replace("{device_id}", admin.device)
        .replace("{session_id}", admin.other_session)
        .replace("{token_id}", admin.token)
        .replace("{reply_id}", admin.reply)
        .replace("{article_id}", admin.article)
        .replace("{space_id}", admin.space)
        .replace("{user_id}", person)
        .replace("{token}", admin.unsubscribe_token if "unsubscribe" in path else admin.reset_token)
    )
    if path.endswith("/merge"):
        return url, {"into": admin.other_idea}
    return url, FORMS[path]


@dataclass(frozen=True)
class Admin:
    """A signed-in admin's thread, message and device: every form would succeed on them."""

    thread: str
    message: str
    device: str
    endpoint: str
    other_session: str  # the admin's session in another browser
    token: str  # the admin's API token's id
    colleague: str  # an employee's id
    former: str  # a deactivated employee's id
    reply: str  # the admin's saved reply's id
    other_thread: str  # a colleague's thread
    other_message: str  # its first message
    article: str  # an article at revision 2
    space: str  # a space the admin made (and so joined)
    idea: str = ""  # a colleague's idea (its thread)
    other_idea: str = ""  # another idea of the colleague's (to merge into)
    customer_message: str = ""  # a customer's message in a public thread (to promote)
    later_reply: str = ""  # a reply after a colleague's question (to accept as its answer)
    customer: str = ""  # the customer's id (the customer profile's tags and notes)
    reset_token: str = ""  # from the admin's password-reset link
    unsubscribe_token: str = ""  # from the admin's notification mails' unsubscribe link


@pytest.fixture
def admin_with_thread(client: TestClient) -> tuple[str, str]:
    """Sign in as an admin who owns a thread and a message: every form would succeed."""
    add_user(client, ADMIN)
    token = token_for(client, ADMIN)
    r = client.post(
        "/api/v1/threads",
        json={"title": "Meter rollout", "body": "First message", "client_id": "t-1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201
    login(client, ADMIN)
    return r.json()["thread"]["id"], r.json()["message"]["id"]


@pytest.fixture
def admin(client: TestClient, admin_with_thread: tuple[str, str], settings: Settings) -> Admin:
    """The admin of admin_with_thread, with a device saved the way the page saves it, an API
    token, and two employees (one of them deactivated)."""
    subscription = device_json("admin-phone")
    r = client.post("/push/devices", json=subscription, headers={"x-csrftoken": csrf_of(client)})
    assert r.status_code == 201, r.text
    device = r.json()["id"]
    with without_cookies(client):
        login(client, ADMIN)  # the admin's phone
    newest = client.portal.call(  # type: ignore[union-attr]
        lambda: Session.filter(user__email=ADMIN).order_by("-created_at").first()
    )
    assert newest is not None
    token = client.portal.call(lambda: ApiToken.get(user__email=ADMIN))  # type: ignore[union-attr]
    add_user(client, "mira@nordlicht.example", Role.EMPLOYEE)
    add_user(client, "ole@nordlicht.example", Role.EMPLOYEE)
    mira, ole = client.portal.call(  # type: ignore[union-attr]
        lambda: (
            User.filter(email__in=["mira@nordlicht.example", "ole@nordlicht.example"])
            .order_by("email")
            .values_list("id", flat=True)
        )
    )
    r = client.post(
        f"/admin/users/{ole}/deactivate", data={"csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    r = client.post(
        "/desk/replies", data={"title": "Greeting", "body": "Hello", "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    reply = client.portal.call(lambda: SavedReply.get(title="Greeting"))  # type: ignore[union-attr]
    with without_cookies(client):
        r = client.post(
            "/api/v1/threads", json={"title": "Mira's", "body": "Hi", "client_id": "m-1"},
            headers={"Authorization": f"Bearer {token_for(client, 'mira@nordlicht.example')}"},
        )  # fmt: skip
    assert r.status_code == 201, r.text
    thread = r.json()
    for url, data in (("/knowledge", {"title": "Zähler", "body": "Version 1"}),
                      ("/spaces", {"name": "Nordlicht intern"})):  # fmt: skip
        r = client.post(url, data={**data, "csrftoken": csrf_of(client)}, follow_redirects=False)
        assert r.status_code == 303, r.text
        if url == "/knowledge":
            article = r.headers["location"].rsplit("/", 1)[1]
            r = client.post(f"/knowledge/{article}", follow_redirects=False, data={
                "title": "Zähler", "body": "Version 2", "base": "1", "csrftoken": csrf_of(client),
            })  # fmt: skip
            assert r.status_code == 303, r.text
    space = r.headers["location"].rsplit("/", 1)[1]
    with without_cookies(client):
        r = client.post(
            "/api/v1/threads",
            json={"title": "Mira's idea", "body": "Hi", "client_id": "m-2", "kind": "idea"},
            headers={"Authorization": f"Bearer {token_for(client, 'mira@nordlicht.example')}"},
        )  # fmt: skip
    assert r.status_code == 201, r.text
    idea = r.json()["thread"]["id"]
    add_user(client, "weber@example.org", Role.CUSTOMER)
    with without_cookies(client):
        r = client.post(
            "/api/v1/threads",
            json={"title": "Mira's other idea", "body": "Hi", "client_id": "m-3", "kind": "idea"},
            headers={"Authorization": f"Bearer {token_for(client, 'mira@nordlicht.example')}"},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        other_idea = r.json()["thread"]["id"]
        r = client.post(
            "/api/v1/threads",  # a discussion: no question for the desk (nor push jobs)
            json={"title": "Reminders", "body": "Remind me", "client_id": "w",
                  "kind": "discussion"},
            headers={"Authorization": f"Bearer {token_for(client, 'weber@example.org')}"},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        customer_message = r.json()["message"]["id"]
        r = client.post(  # her own follow-up: nobody is notified, no push job comes later
            f"/api/v1/threads/{thread['thread']['id']}/messages",
            json={"body": "Update", "client_id": "m-4"},
            headers={"Authorization": f"Bearer {token_for(client, 'mira@nordlicht.example')}"},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        later_reply = r.json()["message"]["id"]
    me = client.portal.call(lambda: User.get(email=ADMIN))  # type: ignore[union-attr]
    return Admin(*admin_with_thread, device, subscription["endpoint"], newest.id, str(token.id),
                 str(mira), str(ole), reply.id, thread["thread"]["id"],
                 thread["message"]["id"], article, space, idea, other_idea,
                 customer_message, later_reply,
                 customer=client.portal.call(lambda: User.get(email="weber@example.org")).id,  # type: ignore[union-attr]
                 reset_token=password_link(settings, me).rpartition("/")[2],
                 unsubscribe_token=unsubscribe_url(settings, me.id).rpartition("/")[2])  # fmt: skip


@pytest.mark.parametrize("path", sorted(FORMS))
def test_a_form_post_without_the_csrf_token_is_refused_and_writes_nothing(
    client: TestClient, admin: Admin, path: str
) -> None:
    url, form = form_for(path, admin)
    if "unsubscribe" in path:  # mails to turn off (staff get none by default)
        always = {**FORMS["/settings/notifications"], "email": "always"}
        r = client.post("/settings/notifications", follow_redirects=False,
                        data={**always, "csrftoken": csrf_of(client)})  # fmt: skip
        assert r.status_code == 303, r.text
    if path in ("/settings/email/again", "/settings/email/cancel"):  # a change to act on
        r = client.post("/settings/email", follow_redirects=False, data={
            **FORMS["/settings/email"], "csrftoken": csrf_of(client)})  # fmt: skip
        assert r.status_code == 303, r.text
    if path.endswith("/release"):  # something to release
        r = client.post(
            f"/threads/{admin.thread}/claim",
            headers={"x-csrftoken": csrf_of(client)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
    before = snapshot(client)
    session = client.cookies["dreiklang_session"]
    attempts = [
        ({}, form),  # a forged form from another site
        ({}, {**form, "csrftoken": "forged"}),
        ({"HX-Request": "true"}, form),  # htmx without the x-csrftoken header
        ({"HX-Request": "true", "x-csrftoken": "forged"}, form),
    ]
    for headers, data in attempts:
        r = client.post(url, data=data, headers=headers, follow_redirects=False)
        assert r.status_code == 403, (path, headers, r.text)
        assert snapshot(client) == before, (path, headers)
        assert client.cookies["dreiklang_session"] == session
    # The same form with the token goes through, so the 403 above was the CSRF check.
    r = client.post(url, data={**form, "csrftoken": csrf_of(client)}, follow_redirects=False)
    assert r.status_code == ACCEPTED.get(path, 303), (path, r.text)
    assert snapshot(client) != before, f"the accepted {path} changed nothing: a weak test"


@pytest.mark.parametrize("path", JSON_POSTS)
def test_a_json_post_from_a_browser_without_the_csrf_header_is_refused_and_writes_nothing(
    client: TestClient, admin: Admin, path: str
) -> None:
    body: dict[str, Any] = (
        device_json("new-phone") if path == "/push/devices" else {"endpoint": admin.endpoint}
    )
    raw = json.dumps(body)
    before = snapshot(client)
    session = client.cookies["dreiklang_session"]
    attempts: list[dict[str, Any]] = [
        {"json": body},  # fetch() from another site's page (its cookies ride along)
        {"json": body, "headers": {"x-csrftoken": "forged"}},
        # A cross-site <form enctype="text/plain"> can send JSON-looking text without a
        # preflight; the view parses any body as JSON, so the CSRF layer must stop it.
        {"content": raw, "headers": {"Content-Type": "text/plain"}},
        {"data": {"csrftoken": "forged", "endpoint": body["endpoint"]}},
    ]
    for attempt in attempts:
        r = client.post(path, follow_redirects=False, **attempt)
        assert r.status_code == 403, (path, attempt, r.text)
        assert snapshot(client) == before, (path, attempt)
        assert client.cookies["dreiklang_session"] == session
    # With the header, as the page's script sends it, the same request goes through.
    r = client.post(path, json=body, headers={"x-csrftoken": csrf_of(client)})
    assert r.status_code == (201 if path == "/push/devices" else 204), (path, r.text)
    assert snapshot(client) != before, f"the accepted {path} changed nothing: a weak test"


def test_sign_in_and_sign_up_need_the_csrf_token_even_without_cookies(client: TestClient) -> None:
    add_user(client, ADMIN)
    client.cookies.clear()
    before = snapshot(client)
    for path, form in [
        ("/login", {"email": ADMIN, "password": PASSWORD}),
        ("/signup", {"email": "new@example.org", "name": "New", "password": PASSWORD}),
        ("/logout", {}),
        ("/password/forgot", {"email": ADMIN}),
    ]:
        r = client.post(path, data=form, follow_redirects=False)
        assert r.status_code == 403, path
        assert "dreiklang_session" not in client.cookies
        client.cookies.clear()
    assert snapshot(client) == before


def test_json_api_writes_from_a_browser_session_need_the_csrf_header(
    client: TestClient, admin_with_thread: tuple[str, str]
) -> None:
    thread, message = admin_with_thread
    before = snapshot(client)
    calls: list[tuple[str, str, dict[str, str] | None]] = [
        ("POST", "/api/v1/threads", {"title": "x", "body": "x", "client_id": "x-1"}),
        ("PATCH", f"/api/v1/threads/{thread}", {"status": "closed"}),
        ("POST", f"/api/v1/threads/{thread}/messages", {"body": "x", "client_id": "x-2"}),
        ("PATCH", f"/api/v1/messages/{message}", {"body": "x"}),
        ("DELETE", f"/api/v1/messages/{message}", None),
    ]
    for method, url, body in calls:
        r = client.request(method, url, json=body)
        assert r.status_code == 403, (method, url)
    assert snapshot(client) == before
    r = client.patch(
        f"/api/v1/threads/{thread}", json={"status": "answered"},
        headers={"x-csrftoken": csrf_of(client)},
    )  # fmt: skip
    assert r.status_code == 200


def test_bearer_token_api_calls_need_no_csrf_token(
    client: TestClient, admin_with_thread: tuple[str, str]
) -> None:
    thread, message = admin_with_thread
    token = token_for(client, ADMIN)
    auth = {"Authorization": f"Bearer {token}"}
    # Even with the browser's cookies along, the bearer token is what authenticates.
    assert "dreiklang_session" in client.cookies
    r = client.post(
        f"/api/v1/threads/{thread}/messages", json={"body": "hi", "client_id": "b-1"}, headers=auth
    )
    assert r.status_code == 201
    r = client.patch(f"/api/v1/messages/{message}", json={"body": "edited"}, headers=auth)
    assert r.status_code == 200
    client.cookies.clear()
    r = client.delete(f"/api/v1/messages/{message}", headers=auth)
    assert r.status_code == 200
    assert r.json()["message"]["deleted"] is True


# -- settings and admin -----------------------------------------------------------------------


def test_choosing_german_in_settings_shows_german_pages(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    english = {"Accept-Language": "en-US,en;q=0.9"}
    assert '<html lang="en">' in client.get("/threads", headers=english).text
    r = client.post(
        "/settings",
        data={"language": "de", "csrftoken": csrf_of(client)},
        headers=english,
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.get(r.headers["location"], headers=english)
    assert "Gespeichert." in r.text
    assert '<option value="de" selected>' in r.text
    r = client.get("/threads", headers=english)
    assert '<html lang="de">' in r.text
    assert "Unterhaltungen" in r.text
    # An unknown language is refused and changes nothing.
    r = client.post("/settings", data={"language": "xx", "csrftoken": csrf_of(client)})
    assert r.status_code == 400
    assert '<html lang="de">' in client.get("/threads", headers=english).text


def test_an_admin_creates_a_staff_account_that_can_sign_in(client: TestClient) -> None:
    add_user(client, ADMIN)
    login(client, ADMIN)
    r = client.get("/admin")
    assert r.status_code == 200
    r = client.post(
        "/admin/users",
        data={"email": "jan@nordlicht.example", "name": "Jan Petersen", "role": "employee",
              "team": "Field service", "password": "jans initial pw", "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    assert r.headers["location"] == "/admin?created=1"
    page = client.get(r.headers["location"]).text
    assert "Account created." in page and "jan@nordlicht.example" in page
    client.cookies.clear()
    login(client, "jan@nordlicht.example", "jans initial pw")
    r = client.get("/threads/new")
    assert 'value="internal"' in r.text, "staff may start internal threads"
    token = token_for(client, ADMIN)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "admin"
    r = client.post(
        "/api/v1/tokens", json={"email": "jan@nordlicht.example", "password": "jans initial pw"}
    )
    # (the client holds Jan's session cookies, so this call goes through CSRF as a browser would)
    assert r.status_code == 403
    client.cookies.clear()
    r = client.post(
        "/api/v1/tokens", json={"email": "jan@nordlicht.example", "password": "jans initial pw"}
    )
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['token']}"}).json()
    assert me["role"] == "employee" and me["staff"] is True and me["team"] == "Field service"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("role", "customer", "unknown role"),
        ("role", "superuser", "unknown role"),
        ("email", "jan-at-nordlicht", "is not an e-mail address"),
        ("password", "short", "at least 10 characters"),
    ],
)
def test_an_admin_gets_a_clear_error_for_a_bad_staff_account(
    client: TestClient, field: str, value: str, message: str
) -> None:
    add_user(client, ADMIN)
    login(client, ADMIN)
    before = snapshot(client)
    form = {"email": "jan@nordlicht.example", "name": "Jan", "role": "employee",
            "password": "jans initial pw", field: value, "csrftoken": csrf_of(client)}  # fmt: skip
    r = client.post("/admin/users", data=form, follow_redirects=False)
    assert r.status_code == 400
    assert message in r.text
    assert snapshot(client) == before
