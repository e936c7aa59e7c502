"""The JSON API: tokens, threads and messages, pagination, errors, and its OpenAPI description."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.app import MAX_BODY_BYTES, create_app
from server.markdown import BODY_MAX_CHARS
from server.models import ApiToken, Event, Message, Role, Thread
from server.routes import routes
from tests.conftest import PASSWORD, csrf_of, login, make_settings

STAFF = "jan@nordlicht.example"
CUSTOMER = "tom@example.org"

pytestmark = pytest.mark.usefixtures("fast_passwords")


def add_user(client: TestClient, email: str, role: Role) -> None:
    """Create an account through the action behind sign-up and `dreiklang user add`."""
    name = email.split("@")[0].title()
    client.portal.call(create_user, email, name, PASSWORD, role, "")  # type: ignore[union-attr]


def token_for(client: TestClient, email: str) -> dict[str, str]:
    client.cookies.clear()
    r = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def snapshot(client: TestClient) -> dict[str, Any]:
    """Count and read what a refused request must not have written."""

    async def read() -> dict[str, Any]:
        return {
            "tokens": await ApiToken.all().count(),
            "threads": await Thread.all()
            .order_by("id")
            .values_list("id", "title", "status", "staff_seq"),
            "messages": await Message.all().order_by("id").values_list("id", "body", "deleted_at"),
            "events": await Event.all().count(),
        }

    return client.portal.call(read)  # type: ignore[union-attr]


def assert_error(response: Any, status: int, code: str | None = None) -> None:
    """The error envelope every API failure uses."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body


@pytest.fixture
def staff(client: TestClient) -> dict[str, str]:
    add_user(client, STAFF, Role.EMPLOYEE)
    return token_for(client, STAFF)


@pytest.fixture
def any_client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The app on SQLite and on PostgreSQL (when TEST_POSTGRES_URL is set)."""
    settings = make_settings(database_url, tmp_path)
    with TestClient(create_app(settings), base_url="http://testserver") as c:
        yield c


def new_thread(client: TestClient, auth: dict[str, str], n: int, **extra: str) -> dict[str, Any]:
    r = client.post(
        "/api/v1/threads",
        json={"title": f"Thread {n}", "body": f"Body {n}", "client_id": f"t-{n}", **extra},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


# -- tokens and who I am ------------------------------------------------------------------------


def test_a_token_is_issued_for_the_right_password(client: TestClient) -> None:
    add_user(client, CUSTOMER, Role.CUSTOMER)
    r = client.post(
        "/api/v1/tokens", json={"email": " TOM@example.org ", "password": PASSWORD, "name": "cli"}
    )
    assert r.status_code == 201
    body = r.json()
    assert body["token"].startswith("dk_") and len(body["token"]) > 40
    assert body["user"]["name"] == "Tom"
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert r.status_code == 200
    me = r.json()
    assert me["email"] == CUSTOMER
    assert me["role"] == "customer" and me["staff"] is False
    assert me["id"] == body["user"]["id"]


def test_a_script_revokes_its_own_token_and_only_that_one(client: TestClient) -> None:
    add_user(client, CUSTOMER, Role.CUSTOMER)
    laptop, server = token_for(client, CUSTOMER), token_for(client, CUSTOMER)
    r = client.delete("/api/v1/tokens/current", headers=laptop)
    assert r.status_code == 204, r.text
    assert client.get("/api/v1/me", headers=laptop).status_code == 401
    assert client.get("/api/v1/me", headers=server).status_code == 200
    again = client.delete("/api/v1/tokens/current", headers=laptop)
    assert_error(again, 401, "unauthenticated")
    assert snapshot(client)["tokens"] == 1


def test_a_browser_session_has_no_token_to_revoke(client: TestClient) -> None:
    add_user(client, CUSTOMER, Role.CUSTOMER)
    token_for(client, CUSTOMER)
    login(client, CUSTOMER)
    before = snapshot(client)
    r = client.delete("/api/v1/tokens/current", headers={"x-csrftoken": csrf_of(client)})
    assert_error(r, 400, "no_token")
    assert snapshot(client) == before


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"email": CUSTOMER, "password": "wrong password"}, 401, "bad_credentials"),
        ({"email": "nobody@example.org", "password": PASSWORD}, 401, "bad_credentials"),
        ({"email": CUSTOMER}, 401, "bad_credentials"),
    ],
)
def test_no_token_for_a_wrong_password_or_unknown_account(
    client: TestClient, payload: dict[str, str], status: int, code: str
) -> None:
    add_user(client, CUSTOMER, Role.CUSTOMER)
    before = snapshot(client)
    r = client.post("/api/v1/tokens", json=payload)
    assert_error(r, status, code)
    assert snapshot(client) == before


@pytest.mark.parametrize("raw", [b"", b"{", b"[1, 2]", b"null", b'"text"', b"\xff\xfe"])
def test_a_token_request_that_is_not_a_json_object_is_a_400(client: TestClient, raw: bytes) -> None:
    r = client.post("/api/v1/tokens", content=raw, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "bad_json")


@pytest.mark.parametrize(
    "auth",
    [None, "Bearer dk_not-a-real-token", "Bearer ", "Basic dG9tOnB3"],
    ids=["none", "unknown-token", "empty-token", "basic"],
)
def test_every_api_route_but_tokens_wants_a_signed_in_user(
    client: TestClient, auth: str | None
) -> None:
    add_user(client, CUSTOMER, Role.CUSTOMER)
    thread = new_thread(client, token_for(client, CUSTOMER), 1)
    ids = {"thread_id": thread["thread"]["id"], "message_id": thread["message"]["id"]}
    client.cookies.clear()
    before = snapshot(client)
    checked = 0
    for route in routes():
        if not isinstance(route, Route) or not route.path.startswith("/api/v1/"):
            continue
        if route.path == "/api/v1/tokens":
            continue
        url = route.path.format(**ids)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            client.cookies.clear()  # a script, not a browser: no CSRF cookie comes along
            headers = {"Authorization": auth} if auth else {}
            body = {"title": "x", "body": "x", "client_id": "x", "status": "closed"}
            r = client.request(method, url, json=body, headers=headers)
            assert_error(r, 401, "unauthenticated")
            checked += 1
    assert checked >= 9
    assert snapshot(client) == before


# -- threads ------------------------------------------------------------------------------------


def test_starting_a_thread_twice_with_one_client_id_stores_it_once(any_client: TestClient) -> None:
    client = any_client
    add_user(client, CUSTOMER, Role.CUSTOMER)
    auth = token_for(client, CUSTOMER)
    payload = {"title": "Meter  reading\n", "body": "How do I **read** it?", "client_id": "c-1"}
    first = client.post("/api/v1/threads", json=payload, headers=auth)
    assert first.status_code == 201
    body = first.json()
    assert body["thread"]["title"] == "Meter reading"
    assert body["thread"]["kind"] == "question" and body["thread"]["visibility"] == "public"
    assert body["thread"]["status"] == "open"
    assert body["thread"]["messages"] == 1 and body["thread"]["seq"] == 1
    assert body["message"]["html"] == "<p>How do I <strong>read</strong> it?</p>"
    assert body["message"]["client_id"] == "c-1"
    again = client.post("/api/v1/threads", json=payload, headers=auth)
    assert again.status_code == 200
    assert again.json()["thread"]["id"] == body["thread"]["id"]
    assert again.json()["message"]["id"] == body["message"]["id"]
    r = client.get("/api/v1/threads", headers=auth)
    assert [t["id"] for t in r.json()["threads"]] == [body["thread"]["id"]]


def test_a_thread_is_read_and_patched_by_id(client: TestClient, staff: dict[str, str]) -> None:
    thread = new_thread(client, staff, 1, kind="discussion", visibility="internal")["thread"]
    r = client.get(f"/api/v1/threads/{thread['id']}", headers=staff)
    assert r.status_code == 200
    thread_json = r.json()["thread"]
    assert thread_json["kind"] == "discussion" and thread_json["visibility"] == "internal"
    r = client.patch(
        f"/api/v1/threads/{thread['id']}",
        json={"title": "Renamed", "status": "answered"},
        headers=staff,
    )
    assert r.status_code == 200
    assert r.json()["thread"]["title"] == "Renamed"
    assert r.json()["thread"]["status"] == "answered"
    assert r.json()["thread"]["seq"] == 2
    # Nothing to change: no new event.
    r = client.patch(f"/api/v1/threads/{thread['id']}", json={"status": "answered"}, headers=staff)
    assert r.json()["thread"]["seq"] == 2


def walk_threads(client: TestClient, auth: dict[str, str], limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        r = client.get("/api/v1/threads", params=params, headers=auth)
        assert r.status_code == 200, r.text
        pages.append([t["id"] for t in r.json()["threads"]])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ended")


@pytest.mark.parametrize("count", [7, 6])
def test_thread_pages_walk_every_thread_once_newest_first(
    any_client: TestClient, count: int
) -> None:
    client = any_client
    add_user(client, STAFF, Role.EMPLOYEE)
    auth = token_for(client, STAFF)
    made = [new_thread(client, auth, n)["thread"]["id"] for n in range(count)]
    pages = walk_threads(client, auth, limit=3)
    seen = [tid for page in pages for tid in page]
    assert seen == list(reversed(made)), "newest activity first, nothing twice, nothing missing"
    assert all(len(page) == 3 for page in pages[:-1])
    assert len(pages) == count // 3 + 1
    # New activity moves a thread to the top.
    r = client.post(
        f"/api/v1/threads/{made[0]}/messages", json={"body": "bump", "client_id": "b"}, headers=auth
    )
    assert r.status_code == 201
    seen = [tid for page in walk_threads(client, auth, limit=4) for tid in page]
    assert seen == [made[0], *reversed(made[1:])]


def test_a_customer_pages_only_through_public_threads(any_client: TestClient) -> None:
    client = any_client
    add_user(client, STAFF, Role.EMPLOYEE)
    add_user(client, CUSTOMER, Role.CUSTOMER)
    staff = token_for(client, STAFF)
    public = []
    for n in range(6):
        extra = {"visibility": "internal"} if n % 2 else {}
        made = new_thread(client, staff, n, **extra)["thread"]
        if not extra:
            public.append(made["id"])
    seen = [tid for page in walk_threads(client, token_for(client, CUSTOMER), 2) for tid in page]
    assert seen == list(reversed(public))


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": "0"}, "bad_limit"),
        ({"limit": "101"}, "bad_limit"),
        ({"limit": "-3"}, "bad_limit"),
        ({"limit": "ten"}, "bad_limit"),
        ({"limit": "1e3"}, "bad_limit"),
        ({"cursor": "garbage"}, "bad_cursor"),
        ({"cursor": "yesterday~abc"}, "bad_cursor"),
        ({"cursor": "2026-01-01T00:00:00~abc"}, "bad_cursor"),  # no time zone: not ours
        ({"cursor": "2026-01-01~abc"}, "bad_cursor"),
    ],
)
def test_a_bad_limit_or_cursor_is_a_400(
    client: TestClient, staff: dict[str, str], params: dict[str, str], code: str
) -> None:
    assert_error(client.get("/api/v1/threads", params=params, headers=staff), 400, code)


def test_a_missing_thread_is_a_404(client: TestClient, staff: dict[str, str]) -> None:
    assert_error(client.get("/api/v1/threads/nope", headers=staff), 404, "not_found")
    assert_error(client.get("/api/v1/threads/nope/messages", headers=staff), 404, "not_found")
    assert_error(client.get("/api/v1/threads/" + "x" * 40, headers=staff), 404, "not_found")


# -- messages -----------------------------------------------------------------------------------


def test_sending_twice_with_one_client_id_stores_the_message_once(
    any_client: TestClient,
) -> None:
    client = any_client
    add_user(client, STAFF, Role.EMPLOYEE)
    auth = token_for(client, STAFF)
    first, second = (new_thread(client, auth, n)["thread"]["id"] for n in (1, 2))
    send = {"body": "On my way", "client_id": "m-1"}
    r = client.post(f"/api/v1/threads/{first}/messages", json=send, headers=auth)
    assert r.status_code == 201
    message = r.json()["message"]
    assert message["thread"] == first and message["staff_only"] is False
    assert message["author"]["staff"] is True
    r = client.post(f"/api/v1/threads/{first}/messages", json=send, headers=auth)
    assert r.status_code == 200
    assert r.json()["message"]["id"] == message["id"]
    # The same client_id for another thread is a client bug, not a retry.
    before = snapshot(client)
    r = client.post(f"/api/v1/threads/{second}/messages", json=send, headers=auth)
    assert_error(r, 409, "conflict")
    assert snapshot(client) == before
    r = client.get(f"/api/v1/threads/{first}/messages", headers=auth)
    assert [m["body"] for m in r.json()["messages"]] == ["On my way", "Body 1"]
    assert r.json()["seq"] == 2


def test_message_pages_walk_back_with_before(any_client: TestClient) -> None:
    client = any_client
    add_user(client, STAFF, Role.EMPLOYEE)
    auth = token_for(client, STAFF)
    thread = new_thread(client, auth, 0)["thread"]["id"]
    for n in range(1, 8):
        r = client.post(
            f"/api/v1/threads/{thread}/messages",
            json={"body": f"Message {n}", "client_id": f"m-{n}"},
            headers=auth,
        )
        assert r.status_code == 201
    seen: list[str] = []
    before: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if before:
            params["before"] = before
        r = client.get(f"/api/v1/threads/{thread}/messages", params=params, headers=auth)
        assert r.status_code == 200, r.text
        pages += 1
        seen += [m["body"] for m in r.json()["messages"]]
        before = r.json()["next_before"]
        if before is None:
            break
        assert pages < 10
    assert seen == [f"Message {n}" for n in range(7, 0, -1)] + ["Body 0"]
    assert pages == 3


def test_a_bad_before_or_limit_for_messages_is_a_400(
    client: TestClient, staff: dict[str, str]
) -> None:
    one, other = (new_thread(client, staff, n) for n in (1, 2))
    url = f"/api/v1/threads/{one['thread']['id']}/messages"
    assert_error(client.get(url, params={"before": "nope"}, headers=staff), 400, "bad_cursor")
    foreign = other["message"]["id"]
    assert_error(client.get(url, params={"before": foreign}, headers=staff), 400, "bad_cursor")
    assert_error(client.get(url, params={"limit": "0"}, headers=staff), 400, "bad_limit")


def test_the_author_edits_and_deletes_a_message(client: TestClient, staff: dict[str, str]) -> None:
    message = new_thread(client, staff, 1)["message"]
    url = f"/api/v1/messages/{message['id']}"
    r = client.patch(url, json={"body": "Now with _emphasis_"}, headers=staff)
    assert r.status_code == 200
    edited = r.json()["message"]
    assert edited["body"] == "Now with _emphasis_"
    assert edited["html"] == "<p>Now with <em>emphasis</em></p>"
    assert edited["edited_at"] is not None and edited["deleted"] is False
    r = client.delete(url, headers=staff)
    assert r.status_code == 200
    gone = r.json()["message"]
    assert gone["deleted"] is True and gone["body"] == "" and gone["html"] == ""
    r = client.get(f"/api/v1/threads/{message['thread']}/messages", headers=staff)
    [listed] = r.json()["messages"]
    assert listed["deleted"] is True and listed["body"] == ""
    before = snapshot(client)
    assert_error(client.patch(url, json={"body": "back again"}, headers=staff), 400, "deleted")
    assert_error(client.delete(url, headers=staff), 400, "deleted")
    assert snapshot(client) == before
    assert_error(client.patch("/api/v1/messages/nope", json={"body": "x"}, headers=staff), 404)


# -- bad input writes nothing ------------------------------------------------------------------


LONG = "x" * (BODY_MAX_CHARS + 1)


@pytest.mark.parametrize(
    ("method", "path", "payload", "code"),
    [
        ("POST", "/api/v1/threads", b"{not json", "bad_json"),
        ("POST", "/api/v1/threads", b"[]", "bad_json"),
        ("POST", "/api/v1/threads", {"body": "b", "client_id": "n1"}, "empty_title"),
        ("POST", "/api/v1/threads", {"title": "  ", "body": "b", "client_id": "n1"}, "empty_title"),
        ("POST", "/api/v1/threads", {"title": "x" * 201, "body": "b", "client_id": "n1"},
         "title_too_long"),
        ("POST", "/api/v1/threads", {"title": "t", "body": " \n ", "client_id": "n1"}, "empty"),
        ("POST", "/api/v1/threads", {"title": "t", "body": LONG, "client_id": "n1"}, "too_long"),
        ("POST", "/api/v1/threads", {"title": "t", "body": 42, "client_id": "n1"}, "invalid"),
        ("POST", "/api/v1/threads", {"title": "t", "body": "b"}, "invalid_client_id"),
        ("POST", "/api/v1/threads", {"title": "t", "body": "b", "client_id": "c" * 65},
         "invalid_client_id"),
        ("POST", "/api/v1/threads", {"title": "t", "body": "b", "client_id": "ü"},
         "invalid_client_id"),
        ("POST", "/api/v1/threads", {"title": "t", "body": "b", "client_id": "n1", "kind": "rant"},
         "invalid_kind"),
        ("POST", "/api/v1/threads",
         {"title": "t", "body": "b", "client_id": "n1", "visibility": "secret"},
         "invalid_visibility"),
        ("POST", "/api/v1/threads/{thread}/messages", b"", "bad_json"),
        ("POST", "/api/v1/threads/{thread}/messages", {"body": LONG, "client_id": "n2"},
         "too_long"),
        ("POST", "/api/v1/threads/{thread}/messages", {"body": "a\x00b", "client_id": "n2"},
         "invalid"),
        ("POST", "/api/v1/threads/{thread}/messages",
         {"body": "b", "client_id": "n2", "audience": "everyone"}, "invalid_audience"),
        ("PATCH", "/api/v1/threads/{thread}", b"{", "bad_json"),
        ("PATCH", "/api/v1/threads/{thread}", {"status": "done"}, "invalid_status"),
        ("PATCH", "/api/v1/threads/{thread}", {"title": ""}, "empty_title"),
        ("PATCH", "/api/v1/messages/{message}", b"nope", "bad_json"),
        ("PATCH", "/api/v1/messages/{message}", {"body": ""}, "empty"),
        ("PATCH", "/api/v1/messages/{message}", {}, "invalid"),
        ("PATCH", "/api/v1/messages/{message}", {"body": LONG}, "too_long"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_with_an_error_and_writes_nothing(
    client: TestClient,
    staff: dict[str, str],
    method: str,
    path: str,
    payload: dict[str, Any] | bytes,
    code: str,
) -> None:
    made = new_thread(client, staff, 1)
    url = path.format(thread=made["thread"]["id"], message=made["message"]["id"])
    before = snapshot(client)
    if isinstance(payload, bytes):
        headers = {**staff, "Content-Type": "application/json"}
        r = client.request(method, url, content=payload, headers=headers)
    else:
        r = client.request(method, url, json=payload, headers=staff)
    assert_error(r, 400, code)
    assert snapshot(client) == before


def test_a_request_body_over_the_limit_is_refused_and_writes_nothing(
    client: TestClient, staff: dict[str, str]
) -> None:
    before = snapshot(client)
    huge = b'{"title": "t", "client_id": "big", "body": "' + b"x" * MAX_BODY_BYTES + b'"}'
    r = client.post(
        "/api/v1/threads", content=huge, headers={**staff, "Content-Type": "application/json"}
    )
    assert_error(r, 413, "too_large")
    assert r.json()["error"]["message"] == "the request is larger than 256 KiB"
    assert snapshot(client) == before


# -- OpenAPI ------------------------------------------------------------------------------------


def api_routes() -> set[tuple[str, str]]:
    found = set()
    for route in routes():
        if isinstance(route, Route) and route.path.startswith("/api/v1/"):
            for method in (route.methods or set()) - {"HEAD"}:
                found.add((method.lower(), route.path))
    return found


def test_the_openapi_description_is_openapi_3_1(client: TestClient) -> None:
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    schema = r.json()
    assert re.fullmatch(r"3\.1\.\d+", schema["openapi"])
    assert schema["info"]["title"] and schema["info"]["version"]
    assert schema["components"]["securitySchemes"]["token"] == {"type": "http", "scheme": "bearer"}
    for path, item in schema["paths"].items():
        assert path.startswith("/api/v1/"), path
        declared = {p["name"] for p in item.get("parameters", [])}
        assert declared == set(re.findall(r"{(\w+)}", path)), path
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert method in {"get", "post", "patch", "put", "delete"}, (path, method)
            assert operation["summary"], (path, method)
            assert operation["responses"], (path, method)
            for status in operation["responses"]:
                assert re.fullmatch(r"[1-5]\d\d", status), (path, method, status)


def test_the_openapi_description_resolves_every_reference(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = list(refs(schema))
    assert found
    for ref in found:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schema["components"]["schemas"], ref


def test_the_openapi_description_lists_every_api_route(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    described = {
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method != "parameters"
    }
    missing = api_routes() - described
    assert not missing, f"describe these routes in server/openapi.py: {sorted(missing)}"
    extra = described - api_routes()
    assert not extra, f"server/openapi.py describes routes that do not exist: {sorted(extra)}"
