"""Who may open an attachment: exactly who may see its message, checked on every request, the
same 404 for missing and forbidden; and the headers that keep an uploaded file from running
as a page (nosniff, a sandboxing CSP, Content-Disposition), ranges and cache lifetimes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.messages import delete_message
from server.actions.moderation import moderate
from server.app import create_app
from server.models import Role, User
from tests.conftest import PASSWORD, csrf_of, login, make_settings
from tests.photos import meter_jpeg, pdf

ALICE = "alice@example.org"  # the customer who asks, with photos
BOB = "bob@example.org"  # another customer
JAN = "jan@nordlicht.example"  # an employee
MO = "mo@nordlicht.example"  # a moderator
NOBODY = ""  # signed out
PEOPLE = (ALICE, BOB, JAN, MO, NOBODY)
PHOTO = meter_jpeg(400, 300, orientation=1, grain=0.02)

# Who may open the attachment of each kind of message (everyone else: 404).
MATRIX = {
    "public": {ALICE, BOB, JAN, MO},
    "staff_note": {JAN, MO},
    "hidden": {JAN, MO},
    "deleted": {JAN, MO},
    "held": {ALICE, JAN, MO},
    "unsent": {ALICE},
    "internal": {JAN, MO},
}


@dataclasses.dataclass
class World:
    client: TestClient
    tokens: dict[str, str]
    thread: str
    files: dict[str, str]  # MATRIX key -> attachment id
    pdf: str  # a public file (not a photo)
    pdf_size: int

    def get(self, who: str, url: str, **headers: str) -> Any:
        self.client.cookies.clear()
        auth = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.client.get(url, headers={**auth, **headers})


def _call(client: TestClient, fn: Any, *args: Any) -> Any:
    assert client.portal is not None
    return client.portal.call(fn, *args)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, databases: Any) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("access")
    settings = make_settings(databases.sqlite_url(tmp / "db.sqlite3"), tmp)
    with TestClient(create_app(settings)) as client:
        for email, role in ((ALICE, Role.CUSTOMER), (BOB, Role.CUSTOMER),
                            (JAN, Role.EMPLOYEE), (MO, Role.MODERATOR)):  # fmt: skip
            _call(client, create_user, email, email.split("@")[0].title(), PASSWORD, role, "")
        tokens = {}
        for email in (ALICE, BOB, JAN, MO):
            r = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})
            tokens[email] = r.json()["token"]
        client.cookies.clear()

        def call(who: str, method: str, url: str, **kw: Any) -> Any:
            client.cookies.clear()
            r = client.request(method, url, headers={"Authorization": f"Bearer {tokens[who]}",
                                                     **kw.pop("headers", {})}, **kw)  # fmt: skip
            assert r.status_code in (200, 201), r.text
            return r.json()

        def upload(who: str, thread: str, cid: str, data: bytes = PHOTO,
                   name: str = "meter.jpg") -> str:  # fmt: skip
            return str(
                call(who, "POST", f"/api/v1/threads/{thread}/attachments", content=data,
                     headers={"X-File-Name": quote(name), "X-Client-Id": cid})["attachment"]["id"]
            )  # fmt: skip

        def send(who: str, thread: str, cid: str, ids: list[str], audience: str = "all") -> str:
            body = {"body": f"message {cid}", "client_id": cid, "attachments": ids,
                    "audience": audience}  # fmt: skip
            return str(call(who, "POST", f"/api/v1/threads/{thread}/messages", json=body)
                       ["message"]["id"])  # fmt: skip

        thread = call(ALICE, "POST", "/api/v1/threads",
                      json={"title": "My meter", "body": "Hello", "client_id": "t"})[
            "thread"]["id"]  # fmt: skip
        internal = call(JAN, "POST", "/api/v1/threads",
                        json={"title": "Rollout", "body": "Plan", "client_id": "i",
                              "visibility": "internal"})["thread"]["id"]  # fmt: skip
        files = {key: upload(ALICE, thread, key) for key in ("public", "hidden", "deleted",
                                                             "held", "unsent")}  # fmt: skip
        files["staff_note"] = upload(JAN, thread, "staff_note")
        files["internal"] = upload(JAN, internal, "internal")
        pdf_id = upload(ALICE, thread, "pdf", pdf(), "Zählerstand März.pdf")
        send(ALICE, thread, "m-public", [files["public"], pdf_id])
        send(JAN, thread, "m-note", [files["staff_note"]], audience="staff")
        send(JAN, internal, "m-internal", [files["internal"]])
        hidden = send(ALICE, thread, "m-hidden", [files["hidden"]])
        deleted = send(ALICE, thread, "m-deleted", [files["deleted"]])
        state = client.app.state  # type: ignore[attr-defined]
        policy = state.publisher.policy
        state.publisher.policy = dataclasses.replace(policy, hold_first_posts=1000)
        send(ALICE, thread, "m-held", [files["held"]])
        state.publisher.policy = policy
        mo_user = _call(client, lambda: User.get(email=MO))
        alice = _call(client, lambda: User.get(email=ALICE))
        _call(client, moderate, state.publisher, mo_user, "message", hidden, "hide", "Spam")
        _call(client, delete_message, state.publisher, alice, deleted)
        size = len(pdf())
        yield World(client, tokens, thread, files, pdf_id, size)


@pytest.mark.parametrize("kind", sorted(MATRIX))
@pytest.mark.parametrize("who", PEOPLE)
def test_an_attachment_reaches_exactly_those_who_may_see_its_message(
    world: World, kind: str, who: str
) -> None:
    att = world.files[kind]
    for url in (f"/files/{att}", f"/files/{att}/thumb"):
        r = world.get(who, url)
        expected = 200 if who in MATRIX[kind] else 404
        assert r.status_code == expected, (kind, who or "signed out", url, r.status_code)
        if expected == 200:
            assert r.headers["content-type"] == "image/jpeg"
            assert r.content[:2] == b"\xff\xd8"


@pytest.mark.parametrize("who", PEOPLE)
def test_a_missing_attachment_answers_as_a_forbidden_one(world: World, who: str) -> None:
    forbidden = world.get(who, f"/files/{world.files['internal']}")
    if who in (JAN, MO):
        forbidden = world.get(who, f"/files/{world.files['unsent']}")
    for url in ("/files/" + "A" * 22, "/files/nonsense", "/files/" + "A" * 22 + "/thumb"):
        missing = world.get(who, url)
        assert missing.status_code == forbidden.status_code == 404
        assert missing.headers["content-type"] == forbidden.headers["content-type"]


def test_the_message_json_lists_attachments_only_while_the_message_stands(world: World) -> None:
    r = world.get(JAN, f"/api/v1/threads/{world.thread}/messages")
    by_client = {m["client_id"]: m for m in r.json()["messages"]}
    assert [a["id"] for a in by_client["m-public"]["attachments"]] == [
        world.files["public"], world.pdf
    ]  # fmt: skip
    assert by_client["m-hidden"]["attachments"] == []
    assert by_client["m-deleted"]["attachments"] == []
    bob = {m["client_id"] for m in world.get(BOB, f"/api/v1/threads/{world.thread}/messages")
           .json()["messages"]}  # fmt: skip
    assert "m-note" not in bob and "m-held" not in bob


def test_files_are_served_so_that_nothing_uploaded_runs_as_a_page(world: World) -> None:
    photo = world.get(BOB, f"/files/{world.files['public']}")
    document = world.get(BOB, f"/files/{world.pdf}")
    for r in (photo, document):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == "sandbox; default-src 'none'"
        assert "content-encoding" not in r.headers  # as stored: ranges stay byte-exact
    assert photo.headers["content-disposition"].startswith("inline;")
    assert document.headers["content-type"] == "application/pdf"
    assert document.headers["content-disposition"] == (
        'attachment; filename="Z_hlerstand M_rz.pdf"; '
        "filename*=UTF-8''Z%C3%A4hlerstand%20M%C3%A4rz.pdf"
    )


def test_thumbnails_are_cached_long_and_originals_revalidated(world: World) -> None:
    att = world.files["public"]
    thumb = world.get(BOB, f"/files/{att}/thumb")
    assert thumb.headers["cache-control"] == "private, max-age=2592000, immutable"
    original = world.get(BOB, f"/files/{att}")
    assert original.headers["cache-control"] == "private, no-cache"
    etag = original.headers["etag"]
    again = world.get(BOB, f"/files/{att}", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # A revalidation is an access check too: a stranger's copy of the ETag gets nothing.
    assert world.get(NOBODY, f"/files/{att}", **{"If-None-Match": etag}).status_code == 404


def test_a_single_range_is_answered_206_and_an_unsatisfiable_one_416(world: World) -> None:
    url = f"/files/{world.pdf}"
    whole = world.get(BOB, url)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert int(whole.headers["content-length"]) == world.pdf_size == len(whole.content)
    part = world.get(BOB, url, Range="bytes=10-19")
    assert part.status_code == 206 and part.content == whole.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{world.pdf_size}"
    tail = world.get(BOB, url, Range="bytes=-5")
    assert tail.status_code == 206 and tail.content == whole.content[-5:]
    rest = world.get(BOB, url, Range=f"bytes={world.pdf_size - 3}-")
    assert rest.content == whole.content[-3:]
    over = world.get(BOB, url, Range=f"bytes={world.pdf_size}-")
    assert over.status_code == 416 and over.headers["content-range"] == f"bytes */{world.pdf_size}"
    several = world.get(BOB, url, Range="bytes=0-1,5-6")  # answered whole
    assert several.status_code == 200 and several.content == whole.content


def test_an_upload_from_the_page_needs_the_csrf_header(world: World) -> None:
    client = world.client
    client.cookies.clear()
    login(client, BOB)
    token = csrf_of(client)
    url = f"/api/v1/threads/{world.thread}/attachments"
    headers = {"X-File-Name": "meter.jpg", "X-Client-Id": "c1", "Content-Type": "image/jpeg"}
    for forged in ({}, {"x-csrftoken": "forged"}):
        r = client.post(url, content=PHOTO, headers={**headers, **forged})
        assert r.status_code == 403, r.text
    r = client.post(url, content=PHOTO, headers={**headers, "x-csrftoken": token})
    assert r.status_code == 201, r.text
    att = r.json()["attachment"]["id"]
    # The form fallback sends with repeated `attachments` fields; the page shows it.
    r = client.post(
        f"/threads/{world.thread}/messages",
        data={"body": "", "client_id": "bob-form", "attachments": [att], "csrftoken": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get(f"/threads/{world.thread}").text
    assert f'href="/files/{att}"' in page
    client.cookies.clear()


def test_a_hidden_messages_photos_show_in_the_thread_for_nobody_but_in_the_staff_text(
    world: World,
) -> None:
    hidden = world.files["hidden"]
    for who in (ALICE, BOB, JAN):
        page = world.get(who, f"/threads/{world.thread}")
        assert page.status_code == 200 and world.files["public"] in page.text, who
        assert hidden not in page.text, who  # the line with the reason stands in for it all
    thread = world.get(JAN, f"/api/v1/threads/{world.thread}/messages").json()["messages"]
    [msg] = [m for m in thread if m["client_id"] == "m-hidden"]
    staff = world.get(JAN, f"/messages/{msg['id']}/hidden")
    assert staff.status_code == 200 and f'href="/files/{hidden}"' in staff.text
    assert world.get(ALICE, f"/messages/{msg['id']}/hidden").status_code == 404
