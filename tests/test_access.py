"""Who may see and change what: customers and anonymous visitors never learn that internal
threads or staff notes exist, over every route that takes a thread or message id; nobody
reaches another person's push devices by their id."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import Cookie
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.app import create_app
from server.models import PushJob, PushSubscription, Role, new_id
from server.routes import routes
from tests.conftest import PASSWORD, Databases, csrf_of, login, make_settings, signup

STAFF = "jan@nordlicht.example"
ADMIN = "admin@nordlicht.example"
ALICE = "alice@example.org"  # customer; author of the public thread that holds a staff note
BOB = "bob@example.org"  # another customer

INTERNAL_TITLE = "Secret rollout plan for district north"
INTERNAL_TEXT = "Internal only: the substation password rotates on Friday"
NOTE_TEXT = "Staff note: this customer is behind on payments"
PUBLIC_TITLE = "Why did my advance payment go up?"
BOB_DEVICE = "Bob's phone in the kitchen"
# Endpoints under this prefix pass the push endpoint guard (see site()); nothing listens on
# port 9, so a push the worker tried would go nowhere.
PUSH_PREFIX = "http://127.0.0.1:9/push/"


def add_staff(client: TestClient, email: str, name: str, role: Role = Role.EMPLOYEE) -> None:
    """Create a staff account through the action an admin's CLI would call."""
    client.portal.call(create_user, email, name, PASSWORD, role, "Field service")  # type: ignore[union-attr]


def token_for(client: TestClient, email: str) -> str:
    """Trade a password for an API token as a script would: without browser cookies."""
    client.cookies.clear()
    r = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    staff_token: str
    alice_token: str
    bob_token: str
    internal_thread: str
    internal_message: str
    public_thread: str
    public_message: str  # Alice's first message
    staff_note: str  # a staff-only message in Alice's public thread
    bob_device: str  # the id of Bob's push subscription
    jars: dict[str, list[Cookie]]  # each user's browser cookies, signed in


def become(client: TestClient, world: World, email: str | None) -> None:
    """Switch the browser to another signed-in user (None: a visitor with only a CSRF cookie)."""
    client.cookies.clear()
    if email is None:
        csrf_of(client)
    else:
        for cookie in world.jars[email]:
            client.cookies.jar.set_cookie(cookie)


def become_jar(client: TestClient, jar: list[Cookie]) -> None:
    client.cookies.clear()
    for cookie in jar:
        client.cookies.jar.set_cookie(cookie)


def build_world(client: TestClient) -> World:
    """Staff, two customers, an internal thread and a staff note in a customer's thread."""
    add_staff(client, STAFF, "Jan Petersen")
    add_staff(client, ADMIN, "Sabine Admin", Role.ADMIN)
    jars = {}
    for email, name in ((ALICE, "Alice Kunde"), (BOB, "Bob Kunde")):
        client.cookies.clear()
        signup(client, email, name)
        jars[email] = list(client.cookies.jar)
    for email in (STAFF, ADMIN):
        client.cookies.clear()
        login(client, email)
        jars[email] = list(client.cookies.jar)
    staff, alice, bob = (token_for(client, e) for e in (STAFF, ALICE, BOB))
    r = client.post(
        "/api/v1/threads",
        json={"title": INTERNAL_TITLE, "body": INTERNAL_TEXT, "client_id": "i-1",
              "visibility": "internal", "kind": "discussion"},
        headers=bearer(staff),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    internal = r.json()
    r = client.post(
        "/api/v1/threads",
        json={"title": PUBLIC_TITLE, "body": "It went from 85 to 115 euros.", "client_id": "p-1"},
        headers=bearer(alice),
    )
    assert r.status_code == 201, r.text
    public = r.json()
    r = client.post(
        f"/api/v1/threads/{public['thread']['id']}/messages",
        json={"body": NOTE_TEXT, "client_id": "n-1", "audience": "staff"},
        headers=bearer(staff),
    )
    assert r.status_code == 201, r.text
    assert r.json()["message"]["staff_only"] is True
    note = r.json()["message"]["id"]
    become_jar(client, jars[BOB])
    r = client.post(
        "/push/devices",
        json={"endpoint": PUSH_PREFIX + "bob", "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
              "label": BOB_DEVICE},
        headers={"x-csrftoken": csrf_of(client)},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    bob_device = r.json()["id"]
    return World(
        bob_device=bob_device,
        staff_token=staff,
        alice_token=alice,
        bob_token=bob,
        internal_thread=internal["thread"]["id"],
        internal_message=internal["message"]["id"],
        public_thread=public["thread"]["id"],
        public_message=public["message"]["id"],
        staff_note=note,
        jars=jars,
    )


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases
) -> Iterator[tuple[TestClient, World]]:
    """One app and world shared by the tests that must write nothing (argon2 is slow on
    purpose; building the world once per test would cost minutes)."""
    tmp = tmp_path_factory.mktemp("access")
    s = make_settings(
        databases.sqlite_url(tmp / "test.sqlite3"), tmp, login_attempts_per_minute=1000,
        push_test_endpoint_prefix=PUSH_PREFIX,
    )  # fmt: skip
    with TestClient(create_app(s), base_url="http://testserver") as c:
        yield c, build_world(c)


# -- the matrix ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One route and method, with the input a real client would send to it."""

    method: str
    path: str  # the route's path template
    api: bool
    body: dict[str, str] | None = None

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


MATRIX = [
    Case("GET", "/threads/{thread_id}", api=False),
    Case("POST", "/threads/{thread_id}", api=False, body={"status": "closed", "title": "pwned"}),
    Case(
        "POST",
        "/threads/{thread_id}/messages",
        api=False,
        body={"body": "sneaked in", "client_id": "sneak-1"},
    ),  # fmt: skip
    Case("GET", "/threads/{thread_id}/follow", api=False),
    Case("POST", "/threads/{thread_id}/follow", api=False, body={"state": "following"}),
    Case("POST", "/threads/{thread_id}/claim", api=False, body={}),
    Case("POST", "/threads/{thread_id}/release", api=False, body={}),
    Case("POST", "/threads/{thread_id}/assign", api=False, body={"note": "pwned"}),
    Case("GET", "/messages/{message_id}", api=False),
    Case("GET", "/messages/{message_id}/edit", api=False),
    Case("POST", "/messages/{message_id}/edit", api=False, body={"body": "pwned"}),
    Case("POST", "/messages/{message_id}/delete", api=False, body={}),
    Case("POST", "/messages/{message_id}/answer", api=False, body={}),
    Case("POST", "/messages/{message_id}/helpful", api=False, body={"on": "1"}),
    Case("GET", "/messages/{message_id}/flag", api=False),
    Case("POST", "/messages/{message_id}/flag", api=False, body={"reason": "spam"}),
    Case("GET", "/messages/{message_id}/hidden", api=False),
    Case("GET", "/threads/{thread_id}/flag", api=False),
    Case("GET", "/threads/{thread_id}/mentionable", api=False),
    Case("POST", "/threads/{thread_id}/flag", api=False, body={"reason": "spam"}),
    Case("POST", "/moderation/messages/{message_id}", api=False, body={"decision": "delete"}),
    Case("POST", "/moderation/threads/{thread_id}", api=False, body={"decision": "lock"}),
    Case("GET", "/api/v1/threads/{thread_id}", api=True),
    Case("PATCH", "/api/v1/threads/{thread_id}", api=True, body={"status": "closed"}),
    Case("GET", "/api/v1/threads/{thread_id}/messages", api=True),
    Case(
        "POST",
        "/api/v1/threads/{thread_id}/messages",
        api=True,
        body={"body": "sneaked in", "client_id": "sneak-2"},
    ),  # fmt: skip
    Case("POST", "/api/v1/threads/{thread_id}/claim", api=True, body={}),
    # An upload's body is a file; the visibility check comes before anything reads it.
    Case("POST", "/api/v1/threads/{thread_id}/attachments", api=True, body={}),
    Case("DELETE", "/api/v1/threads/{thread_id}/claim", api=True),
    Case("PATCH", "/api/v1/messages/{message_id}", api=True, body={"body": "pwned"}),
    Case("DELETE", "/api/v1/messages/{message_id}", api=True),
    Case("POST", "/push/devices/{device_id}/test", api=False, body={}),
    Case("POST", "/push/devices/{device_id}/delete", api=False, body={}),
    Case("POST", "/ideas/{thread_id}/vote", api=False, body={"vote": "1"}),
    Case("POST", "/ideas/{thread_id}/status", api=False, body={"status": "planned"}),
    Case("POST", "/ideas/{thread_id}/merge", api=False, body={"into": "pwned"}),
    Case("GET", "/messages/{message_id}/promote", api=False),
    Case("POST", "/messages/{message_id}/promote", api=False, body={"title": "pwned"}),
]

SECRETS = (INTERNAL_TITLE, INTERNAL_TEXT, NOTE_TEXT, BOB_DEVICE)


def hidden_ids(case: Case, world: World) -> list[str]:
    """Return the ids a customer must not be able to reach through this route."""
    if "{device_id}" in case.path:
        return [world.bob_device]  # another person's device
    if "{thread_id}" in case.path:
        return [world.internal_thread]
    return [world.internal_message, world.staff_note]


def send(client: TestClient, case: Case, target: str, token: str | None, htmx: bool) -> Any:
    url = (
        case.path.replace("{thread_id}", target)
        .replace("{message_id}", target)
        .replace("{device_id}", target)
    )
    headers: dict[str, str] = {}
    if case.api:
        if token is not None:
            headers.update(bearer(token))
        else:  # a cookie-carrying browser script: give it its CSRF header so the view answers
            headers["x-csrftoken"] = csrf_of(client)
        return client.request(
            case.method, url, json=case.body, headers=headers, follow_redirects=False
        )
    if htmx:
        headers["HX-Request"] = "true"
    if case.method == "GET":
        return client.get(url, headers=headers, follow_redirects=False)
    form = dict(case.body or {})
    if htmx:
        headers["x-csrftoken"] = csrf_of(client)
    else:
        form["csrftoken"] = csrf_of(client)
    return client.post(url, data=form, headers=headers, follow_redirects=False)


def shape(response: Any, target: str) -> tuple[Any, ...]:
    """What a client can observe of a response, with the requested id blanked out."""

    def blank(text: str) -> str:
        return text.replace(target, "{id}")

    observed = {
        k: blank(v)
        for k, v in response.headers.items()
        if k not in ("set-cookie", "date", "content-length")
    }
    return response.status_code, observed, blank(response.text)


def assert_hidden(client: TestClient, case: Case, world: World, token: str | None) -> None:
    """Every hidden id answers exactly like an id that never existed, and reveals nothing."""
    for htmx in (False, True) if not case.api else (False,):
        missing = new_id()
        expected = shape(send(client, case, missing, token, htmx), missing)
        for target in hidden_ids(case, world):
            response = send(client, case, target, token, htmx)
            for secret in SECRETS:
                assert secret not in response.text, (case.name, target, htmx)
            assert shape(response, target) == expected, (case.name, target, htmx)
        status = expected[0]
        signed_in = token is not None or client.cookies.get("dreiklang_session")
        if signed_in:
            assert status == 404, (case.name, htmx, expected)
        elif case.api:
            assert status == 401, (case.name, expected)
        elif htmx:
            assert status == 401 and expected[1].get("hx-redirect") == "/login", case.name
        else:
            assert status == 303, (case.name, expected)
            assert expected[1]["location"].startswith("/login?next="), case.name


def staff_view(client: TestClient, world: World) -> dict[str, Any]:
    """What staff see of the hidden things, to prove nobody else changed them."""
    h = bearer(world.staff_token)
    internal = client.get(f"/api/v1/threads/{world.internal_thread}", headers=h).json()
    messages = client.get(f"/api/v1/threads/{world.internal_thread}/messages", headers=h).json()
    public = client.get(f"/api/v1/threads/{world.public_thread}/messages", headers=h).json()

    async def push_rows() -> tuple[list[Any], int]:
        devices = await PushSubscription.all().order_by("id").values_list("id", "user_id", "label")
        return devices, await PushJob.all().count()

    devices, jobs = client.portal.call(push_rows)  # type: ignore[union-attr]
    assert world.bob_device in {d[0] for d in devices}
    return {"internal": internal, "messages": messages, "public": public, "devices": devices,
            "push_jobs": jobs}  # fmt: skip


@pytest.mark.parametrize("case", MATRIX, ids=lambda c: c.name)
def test_a_customer_gets_the_same_404_for_hidden_and_missing_ids(
    site: tuple[TestClient, World], case: Case
) -> None:
    client, world = site
    before = staff_view(client, world)
    become(client, world, ALICE)
    assert_hidden(client, case, world, world.alice_token if case.api else None)
    if case.api:  # the API also accepts the browser session (with the CSRF header)
        assert_hidden(client, case, world, None)
    assert staff_view(client, world) == before


@pytest.mark.parametrize("case", MATRIX, ids=lambda c: c.name)
def test_an_anonymous_visitor_is_sent_to_sign_in_for_hidden_and_missing_ids(
    site: tuple[TestClient, World], case: Case
) -> None:
    client, world = site
    before = staff_view(client, world)
    become(client, world, None)
    assert_hidden(client, case, world, None)
    assert staff_view(client, world) == before


def test_every_route_that_takes_a_thread_message_or_device_id_is_in_the_matrix() -> None:
    covered = {(c.method, c.path) for c in MATRIX}
    found = set()
    for route in routes():
        if not isinstance(route, Route):
            continue
        if not any(f"{{{name}_id}}" in route.path for name in ("thread", "message", "device")):
            continue
        for method in route.methods or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET route
                found.add((method, route.path))
    missing = found - covered
    assert not missing, f"add these routes to MATRIX in tests/test_access.py: {sorted(missing)}"
    assert covered <= found, f"MATRIX names routes that no longer exist: {covered - found}"


def test_staff_can_reach_what_the_matrix_hides(site: tuple[TestClient, World]) -> None:
    client, world = site
    """The hidden ids are real: staff get 200, so the customer's 404 is access control."""
    become(client, world, STAFF)
    r = client.get(f"/threads/{world.internal_thread}")
    assert r.status_code == 200
    assert INTERNAL_TITLE in r.text and INTERNAL_TEXT in r.text
    r = client.get(f"/threads/{world.public_thread}")
    assert NOTE_TEXT in r.text
    r = client.get(f"/messages/{world.staff_note}")
    assert r.status_code == 200 and NOTE_TEXT in r.text
    r = client.get(
        f"/api/v1/threads/{world.public_thread}/messages", headers=bearer(world.staff_token)
    )
    assert NOTE_TEXT in {m["body"] for m in r.json()["messages"]}


def test_a_customer_sees_their_thread_without_the_staff_note(
    site: tuple[TestClient, World],
) -> None:
    client, world = site
    become(client, world, ALICE)
    r = client.get(f"/threads/{world.public_thread}")
    assert r.status_code == 200
    assert PUBLIC_TITLE in r.text
    assert NOTE_TEXT not in r.text and world.staff_note not in r.text
    r = client.get(
        f"/api/v1/threads/{world.public_thread}/messages", headers=bearer(world.alice_token)
    )
    assert [m["id"] for m in r.json()["messages"]] == [world.public_message]
    # Counts and sequence numbers must not hint at the note either.
    r = client.get(f"/api/v1/threads/{world.public_thread}", headers=bearer(world.alice_token))
    assert r.json()["thread"]["messages"] == 1
    assert r.json()["thread"]["seq"] == 1


# -- lists, admin, creating and changing -----------------------------------------------------


def test_a_customers_thread_list_leaves_out_internal_threads(
    site: tuple[TestClient, World],
) -> None:
    client, world = site
    become(client, world, BOB)
    for headers in ({}, {"HX-Request": "true"}):
        r = client.get("/threads", headers=headers)
        assert r.status_code == 200
        assert PUBLIC_TITLE in r.text
        assert INTERNAL_TITLE not in r.text and world.internal_thread not in r.text
    r = client.get("/api/v1/threads", headers=bearer(world.bob_token))
    threads = r.json()["threads"]
    assert world.public_thread in {t["id"] for t in threads}
    assert world.internal_thread not in {t["id"] for t in threads}
    assert {t["visibility"] for t in threads} == {"public"}
    # Staff see both, so the customer's list is filtered, not empty by accident.
    r = client.get("/api/v1/threads", headers=bearer(world.staff_token))
    assert {world.internal_thread, world.public_thread} <= {t["id"] for t in r.json()["threads"]}


@pytest.mark.parametrize("who", [ALICE, STAFF])
def test_the_admin_page_is_404_for_everyone_but_admins(
    site: tuple[TestClient, World], who: str
) -> None:
    client, world = site
    become(client, world, who)
    r = client.get("/admin")
    assert r.status_code == 404
    assert "Staff accounts" not in r.text
    r = client.post(
        "/admin/users",
        data={"email": "mallory@nordlicht.example", "name": "Mallory", "role": "admin",
              "password": PASSWORD, "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 404
    become(client, world, ADMIN)
    r = client.get("/admin")
    assert r.status_code == 200 and "mallory" not in r.text


def test_an_anonymous_visitor_is_sent_to_sign_in_from_admin(
    site: tuple[TestClient, World],
) -> None:
    client, world = site
    become(client, world, None)
    r = client.get("/admin", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/admin"


def test_a_customer_cannot_start_an_internal_thread(site: tuple[TestClient, World]) -> None:
    client, world = site
    become(client, world, ALICE)
    r = client.post(
        "/threads",
        data={"title": "Let me in", "body": "hello", "client_id": "x-1",
              "visibility": "internal", "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 403
    r = client.post(
        "/api/v1/threads",
        json={"title": "Let me in", "body": "hello", "client_id": "x-2", "visibility": "internal"},
        headers=bearer(world.alice_token),
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    r = client.get("/api/v1/threads", headers=bearer(world.staff_token))
    assert "Let me in" not in {t["title"] for t in r.json()["threads"]}


@pytest.mark.parametrize("who", [BOB, STAFF])
def test_only_the_author_can_edit_or_delete_a_message(
    site: tuple[TestClient, World], who: str
) -> None:
    client, world = site
    token = world.bob_token if who == BOB else world.staff_token
    mid = world.public_message
    become(client, world, who)
    r = client.post(
        f"/messages/{mid}/edit", data={"body": "pwned", "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 403
    r = client.post(f"/messages/{mid}/delete", data={"csrftoken": csrf_of(client)})
    assert r.status_code == 403
    r = client.post(
        f"/messages/{mid}/edit", data={"body": "pwned"},
        headers={"HX-Request": "true", "x-csrftoken": csrf_of(client)},
    )  # fmt: skip
    assert r.status_code == 403
    assert r.headers["HX-Retarget"] == "#form-error"
    r = client.patch(f"/api/v1/messages/{mid}", json={"body": "pwned"}, headers=bearer(token))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    r = client.delete(f"/api/v1/messages/{mid}", headers=bearer(token))
    assert r.status_code == 403
    # The edit form is not offered either.
    assert client.get(f"/messages/{mid}/edit").status_code == 404
    r = client.get(f"/api/v1/threads/{world.public_thread}/messages", headers=bearer(token))
    [first] = [m for m in r.json()["messages"] if m["id"] == mid]
    assert first["body"] == "It went from 85 to 115 euros."
    assert not first["deleted"] and first["edited_at"] is None


def new_public_thread(client: TestClient, token: str, title: str) -> str:
    client.cookies.clear()
    r = client.post(
        "/api/v1/threads",
        json={"title": title, "body": "Please help.", "client_id": new_id()},
        headers=bearer(token),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["thread"]["id"])


def test_staff_can_change_any_public_threads_status(site: tuple[TestClient, World]) -> None:
    client, world = site
    thread = new_public_thread(client, world.alice_token, "Meter shows 8888")
    become(client, world, STAFF)
    r = client.post(
        f"/threads/{thread}",
        data={"status": "answered", "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.get(f"/api/v1/threads/{thread}", headers=bearer(world.alice_token))
    assert r.json()["thread"]["status"] == "answered"
    r = client.patch(
        f"/api/v1/threads/{thread}", json={"status": "closed"}, headers=bearer(world.staff_token)
    )
    assert r.status_code == 200
    assert r.json()["thread"]["status"] == "closed"


def test_a_customer_can_change_only_their_own_threads_status(
    site: tuple[TestClient, World],
) -> None:
    client, world = site
    thread = new_public_thread(client, world.alice_token, "Bill arrived twice")
    become(client, world, ALICE)
    r = client.post(
        f"/threads/{thread}",
        data={"status": "answered"},
        headers={"HX-Request": "true", "x-csrftoken": csrf_of(client)},
    )
    assert r.status_code == 200
    assert 'id="thread-head"' in r.text
    become(client, world, BOB)
    r = client.post(
        f"/threads/{thread}",
        data={"status": "closed", "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = client.patch(
        f"/api/v1/threads/{thread}",
        json={"status": "closed", "title": "pwned"},
        headers=bearer(world.bob_token),
    )
    assert r.status_code == 403
    r = client.get(f"/api/v1/threads/{thread}", headers=bearer(world.alice_token))
    assert r.json()["thread"]["status"] == "answered"
    assert r.json()["thread"]["title"] == "Bill arrived twice"


# -- issue 13's objects: spaces, posts, articles, revisions, mentions, search hits ----------


def test_a_customer_gets_the_same_404_for_staff_only_knowledge_spaces_and_missing_ones(
    site: tuple[TestClient, World],
) -> None:
    """Who sees what, for the objects of issue 13 (README's table): an internal article, its
    history and differences, a space and its post are answered as missing to a customer, just
    like ids that exist nowhere; staff reach them all; a public article reaches everyone."""
    client, world = site
    become(client, world, STAFF)

    def made(url: str, data: dict[str, str]) -> str:
        r = client.post(url, data={**data, "csrftoken": csrf_of(client)}, follow_redirects=False)
        assert r.status_code == 303, r.text
        return str(r.headers["location"])

    internal = made("/knowledge", {"title": "Intern: Tarifwechsel", "body": "Nur Staff"})
    public = made("/knowledge", {"title": "Hilfe: Zähler", "body": "Für alle", "public": "1"})
    space = made("/spaces", {"name": "Access matrix space"})
    in_space = space.rsplit("/", 1)[1]
    post = made("/threads", {"title": "Interne Ankündigung", "body": "Für Staff", "kind": "post",
                             "space": in_space, "client_id": "matrix-post"})  # fmt: skip
    hidden = [internal, f"{internal}/history", f"{internal}/compare?from=1&to=1",
              f"{internal}/edit", space, post, "/knowledge/new", "/spaces"]  # fmt: skip
    missing = ["/knowledge/AAAAAAAAAAAA", "/spaces/AAAAAAAAAAAA", "/threads/AAAAAAAAAAAA"]
    for url in hidden + [public]:
        assert client.get(url).status_code == 200, url
    for customer in (ALICE, BOB):
        become(client, world, customer)
        for url in hidden + missing:
            answer = client.get(url)
            assert answer.status_code == 404, (customer, url)
            assert "Tarifwechsel" not in answer.text and "Ankündigung" not in answer.text
        assert client.get(public).status_code == 200
        found = client.get(
            "/search",
            params={"q": "Tarifwechsel OR Ankündigung OR Zähler"},
            headers={"HX-Request": "true"},
        ).text  # the results alone
        assert "Hilfe: <mark>Zähler</mark>" in found
        assert "Tarifwechsel" not in found and "Ankündigung" not in found
        assert "Interne" not in client.get("/mentions").text
