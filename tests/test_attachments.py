"""Photos and files (issue 15): uploading once, sending with a message, limits and bad input,
nothing half-stored, orphans swept, GPS gone in what is served."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from push.api import REPLY
from push.compose import compose
from push.payloads import Notification
from server import images
from server.actions.accounts import create_user
from server.actions.attachments import ORPHAN_HOURS, sweep
from server.app import create_app
from server.models import Attachment, Message, PushJob, Role, User
from tests.conftest import PASSWORD, login, make_settings
from tests.photos import (
    METER_PHOTO,
    decompression_bomb,
    fake_jpeg,
    gps_of,
    meter_jpeg,
    pdf,
    svg_with_script,
)
from tests.s3server import s3_endpoint, s3_url  # noqa: F401 (pytest fixtures)
from tests.test_events import events_until_pong

ALICE = "alice@example.org"
BOB = "bob@example.org"
JAN = "jan@nordlicht.example"
MAX_MB = 1.0  # ATTACHMENT_MAX_MB in these tests: small, so "too large" is cheap to send
PER_MESSAGE = 3


@dataclasses.dataclass
class Site:
    client: TestClient
    tokens: dict[str, str]
    thread: str  # Alice's public question
    data_dir: Path

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **extra}

    def upload(
        self, who: str, data: bytes, name: str = "meter.jpg", client_id: str = "f1",
        content_type: str = "image/jpeg", thread: str | None = None,
    ) -> Any:  # fmt: skip
        return self.client.post(
            f"/api/v1/threads/{thread or self.thread}/attachments",
            content=data,
            headers=self.headers(
                who,
                **{
                    "X-File-Name": quote(name),
                    "X-Client-Id": client_id,
                    "Content-Type": content_type,
                },
            ),  # fmt: skip
        )

    def send(
        self, who: str, ids: list[Any], body: str = "", client_id: str = "m1",
        thread: str | None = None, audience: str = "all",
    ) -> Any:  # fmt: skip
        return self.client.post(
            f"/api/v1/threads/{thread or self.thread}/messages",
            json={"body": body, "client_id": client_id, "attachments": ids, "audience": audience},
            headers=self.headers(who),
        )

    def rows(self) -> list[Attachment]:
        return list(self.client.portal.call(lambda: Attachment.all().order_by("created_at")))  # type: ignore[union-attr]

    def stored(self) -> set[str]:
        """Every key in the local storage folder."""
        root = self.data_dir / "files"
        if not root.exists():
            return set()
        return {
            str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        }  # fmt: skip


@contextmanager
def open_site(database_url: str, tmp_path: Path, **extra: Any) -> Iterator[Site]:
    settings = make_settings(
        database_url, tmp_path, attachment_max_mb=MAX_MB, attachments_per_message=PER_MESSAGE,
        **extra,
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        portal = client.portal
        assert portal is not None
        portal.call(create_user, ALICE, "Alice Weber", PASSWORD, Role.CUSTOMER, "")
        portal.call(create_user, BOB, "Bob Brandt", PASSWORD, Role.CUSTOMER, "")
        portal.call(create_user, JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "Field service")
        tokens = {}
        for email in (ALICE, BOB, JAN):
            r = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})
            assert r.status_code == 201, r.text
            tokens[email] = r.json()["token"]
        client.cookies.clear()
        r = client.post(
            "/api/v1/threads",
            json={"title": "My meter shows E-17", "body": "See the photo", "client_id": "t1"},
            headers={"Authorization": f"Bearer {tokens[ALICE]}"},
        )
        assert r.status_code == 201, r.text
        yield Site(client, tokens, r.json()["thread"]["id"], tmp_path)


@pytest.fixture
def site(database_url: str, tmp_path: Path, fast_passwords: None) -> Iterator[Site]:
    with open_site(database_url, tmp_path) as opened:
        yield opened


PHOTO = meter_jpeg(600, 800, grain=0.02)  # small and quick, with EXIF and GPS


def test_an_upload_is_stored_once_and_a_retry_answers_with_the_same_attachment(
    site: Site,
) -> None:
    r = site.upload(ALICE, PHOTO)
    assert r.status_code == 201, r.text
    att = r.json()["attachment"]
    assert att["kind"] == "image" and att["content_type"] == "image/jpeg"
    assert (att["width"], att["height"]) == (600, 800)  # turned upright
    assert att["url"] == f"/files/{att['id']}" and att["thumb_url"] == f"/files/{att['id']}/thumb"
    assert len(att["id"]) == 22 and att["placeholder"].startswith("data:image/")
    again = site.upload(ALICE, b"whatever the retry carries", client_id="f1")
    assert again.status_code == 200 and again.json()["attachment"] == att
    assert len(site.rows()) == 1
    assert site.stored() == {f"{att['id']}/data", f"{att['id']}/thumb"}


def test_a_message_carries_its_photos_and_files_in_order_with_an_empty_caption(
    site: Site,
) -> None:
    a = site.upload(ALICE, PHOTO, client_id="a").json()["attachment"]
    b = site.upload(ALICE, pdf(), "Rechnung März.pdf", "b", "application/pdf").json()["attachment"]
    r = site.send(ALICE, [b["id"], a["id"]])
    assert r.status_code == 201, r.text
    msg = r.json()["message"]
    assert msg["body"] == "" and [x["id"] for x in msg["attachments"]] == [b["id"], a["id"]]
    assert msg["attachments"][0]["name"] == "Rechnung März.pdf"
    assert msg["attachments"][0]["thumb_url"] is None
    # The same in every later reading: the message list and the thread page.
    listed = site.client.get(
        f"/api/v1/threads/{site.thread}/messages", headers=site.headers(BOB)
    ).json()["messages"][0]
    assert [x["id"] for x in listed["attachments"]] == [b["id"], a["id"]]
    # A retried send is the stored message, attachments and all.
    again = site.send(ALICE, [b["id"], a["id"]])
    assert again.status_code == 200 and again.json()["message"] == msg


def test_the_thread_page_shows_thumbnails_with_their_size_and_files_as_rows(site: Site) -> None:
    a = site.upload(ALICE, PHOTO, client_id="a").json()["attachment"]
    b = site.upload(ALICE, pdf(), "bill.pdf", "b", "application/pdf").json()["attachment"]
    assert site.send(ALICE, [a["id"], b["id"]], "The display").status_code == 201
    page = site.client.get(f"/threads/{site.thread}", headers=site.headers(BOB)).text
    assert f'<a class="att-open" href="/files/{a["id"]}" data-width="600" data-height="800"' in page
    assert f'<img src="/files/{a["id"]}/thumb" width="600" height="800" alt="meter.jpg"' in page
    assert 'style="background-image:url(data:image/' in page
    assert f'<a href="/files/{b["id"]}" download="bill.pdf">' in page
    assert '<span class="att-name">bill.pdf</span>' in page


def test_sending_someone_elses_or_another_threads_or_a_sent_upload_stores_nothing(
    site: Site,
) -> None:
    mine = site.upload(ALICE, PHOTO, client_id="a").json()["attachment"]["id"]
    bobs = site.upload(BOB, PHOTO, client_id="b").json()["attachment"]["id"]
    r = site.client.post(
        "/api/v1/threads",
        json={"title": "Another question", "body": "Hello", "client_id": "t2"},
        headers=site.headers(ALICE),
    )
    other_thread = r.json()["thread"]["id"]
    elsewhere = site.upload(ALICE, PHOTO, client_id="c", thread=other_thread).json()["attachment"][
        "id"
    ]
    before = site.client.portal.call(Message.all().count)  # type: ignore[union-attr]
    for ids in ([mine, bobs], [elsewhere], ["A" * 22], ["not an id"]):
        r = site.send(ALICE, ids, "with photos", client_id="x")
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "attachment_not_found", (ids, r.text)
    assert site.client.portal.call(Message.all().count) == before  # type: ignore[union-attr]
    assert all(row.message_id is None for row in site.rows())
    assert site.send(ALICE, [mine], client_id="y").status_code == 201
    r = site.send(ALICE, [mine], client_id="z")  # sent already
    assert r.json()["error"]["code"] == "attachment_not_found"


def test_attachment_lists_that_break_the_rules_are_refused_clearly(site: Site) -> None:
    ids = [site.upload(ALICE, PHOTO, client_id=f"f{i}").json()["attachment"]["id"]
           for i in range(PER_MESSAGE + 1)]  # fmt: skip
    r = site.send(ALICE, ids)
    assert r.json()["error"]["code"] == "too_many_attachments" and r.status_code == 400
    assert f"at most {PER_MESSAGE}" in r.json()["error"]["message"]
    r = site.send(ALICE, [ids[0], ids[0]])
    assert r.json()["error"]["code"] == "invalid_attachments"
    r = site.send(ALICE, [1, 2])
    assert r.json()["error"]["code"] == "invalid_attachments"
    r = site.send(ALICE, [], "   ")
    assert r.json()["error"]["code"] == "empty"  # no caption and no attachment: nothing to send


@pytest.mark.parametrize(
    ("data", "name", "content_type", "status", "code"),
    [
        (b"", "empty.jpg", "image/jpeg", 400, "empty_file"),
        (fake_jpeg(), "meter.jpg", "image/jpeg", 400, "not_an_image"),
        (decompression_bomb(), "bomb.png", "image/png", 400, "image_too_large"),
        (svg_with_script(), "drawing.svg", "image/svg+xml", 415, "unsupported_type"),
        (b"MZ\x90\x00" * 100, "setup.exe", "application/octet-stream", 415, "unsupported_type"),
        (PHOTO, "../../etc/passwd.jpg", "image/jpeg", 400, "bad_name"),
        (PHOTO, "a\\b.jpg", "image/jpeg", 400, "bad_name"),
        (PHOTO, "x" * 1000 + ".jpg", "image/jpeg", 400, "bad_name"),
        (PHOTO, "", "image/jpeg", 400, "bad_name"),
    ],
)
def test_bad_uploads_get_a_clear_error_and_store_nothing(
    site: Site, data: bytes, name: str, content_type: str, status: int, code: str
) -> None:
    r = site.upload(ALICE, data, name, content_type=content_type)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    assert r.json()["error"]["message"]
    assert site.rows() == [] and site.stored() == set()
    if code == "unsupported_type":
        assert "PDF" in r.json()["error"]["message"]  # says what is allowed


def test_an_upload_for_a_thread_one_cannot_post_in_is_refused_before_reading_it(
    site: Site,
) -> None:
    r = site.client.post(
        "/api/v1/threads",
        json={"title": "Internal", "body": "Staff only", "client_id": "i1",
              "visibility": "internal"},
        headers=site.headers(JAN),
    )  # fmt: skip
    internal = r.json()["thread"]["id"]
    r = site.upload(ALICE, PHOTO, thread=internal)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    r = site.upload(ALICE, PHOTO, thread="nosuchthread")
    assert r.status_code == 404
    # Closed: customers can no longer post in it (staff still may, as a staff note).
    r = site.client.patch(
        f"/api/v1/threads/{site.thread}", json={"status": "closed"}, headers=site.headers(JAN)
    )
    assert r.status_code == 200, r.text
    r = site.upload(BOB, PHOTO)
    assert r.status_code == 403, r.text
    assert site.upload(JAN, PHOTO, client_id="jan").status_code == 201
    assert len(site.rows()) == 1
    site.client.cookies.clear()  # a script without a token or cookies
    r = site.client.post(
        f"/api/v1/threads/{site.thread}/attachments", content=PHOTO,
        headers={"X-File-Name": "a.jpg", "X-Client-Id": "anon"},
    )  # fmt: skip
    assert r.status_code == 401


def test_a_file_over_the_limit_is_refused_by_its_declared_length_without_reading_it(
    site: Site,
) -> None:
    read: list[int] = []

    def body() -> Iterator[bytes]:
        for _ in range(200):  # 200 MB claimed; the test counts what the server pulled
            read.append(1)
            yield b"\0" * (1024 * 1024)

    r = site.client.post(
        f"/api/v1/threads/{site.thread}/attachments",
        content=body(),
        headers=site.headers(ALICE, **{"X-File-Name": "big.pdf", "X-Client-Id": "big",
                                       "Content-Length": str(200 * 1024 * 1024)}),
    )  # fmt: skip
    assert (r.status_code, r.json()["error"]["code"]) == (413, "too_large"), r.text
    assert "1 MB" in r.json()["error"]["message"]
    assert len(read) <= 2  # the client's first chunk at most: nothing past the limit
    assert site.rows() == [] and site.stored() == set()


def test_a_streamed_body_over_the_limit_is_cut_off_at_the_limit(site: Site) -> None:
    chunk = b"%PDF-" + b"\0" * (256 * 1024 - 5)
    # No Content-Length: 50 × 256 KiB = 12.5 MB against a limit of 1 MB.
    parts = [{"type": "http.request", "body": chunk, "more_body": True}] * 50
    sent, left = raw_upload(site, parts, client_id="big", length=None)
    assert sent[0]["status"] == 413 and b'"too_large"' in sent[1]["body"]
    assert len(left) >= 50 - 6  # a chunk or so past 1 MB was read, never the whole body
    assert site.rows() == [] and site.stored() == set()


def test_the_daily_quota_counts_what_one_uploaded_in_a_day(
    database_url: str, tmp_path: Path, fast_passwords: None
) -> None:
    with open_site(database_url, tmp_path, attachment_daily_mb=0.1) as site:
        photo = meter_jpeg(300, 400, grain=0.3)  # tens of KB after re-encoding
        sizes = []
        for i in range(20):
            r = site.upload(ALICE, photo, client_id=f"q{i}")
            if r.status_code != 201:
                break
            sizes.append(r.json()["attachment"]["size"])
        assert (r.status_code, r.json()["error"]["code"]) == (413, "quota_exceeded"), r.text
        assert sum(sizes) <= 0.1 * 1024 * 1024 and sizes
        assert site.upload(BOB, photo).status_code == 201  # Bob's own day is untouched


def raw_upload(
    site: Site, parts: list[dict[str, Any]], client_id: str, length: int | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run an upload through the app's ASGI interface with the body in these parts, as a
    server would hand them over one by one; return what the app sent and the parts unread."""
    left = list(parts)

    async def run() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            await asyncio.sleep(0)
            return left.pop(0) if left else {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        headers = [
            (b"authorization", f"Bearer {site.tokens[ALICE]}".encode()),
            (b"x-file-name", b"meter.jpg"), (b"x-client-id", client_id.encode()),
            (b"content-type", b"image/jpeg"),
        ] + ([(b"content-length", str(length).encode())] if length is not None else [])  # fmt: skip
        path = f"/api/v1/threads/{site.thread}/attachments"
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1),
            "server": ("testserver", 80), "root_path": "", "state": {},
        }  # fmt: skip
        await site.client.app(scope, receive, send)
        return sent

    return site.client.portal.call(run), left  # type: ignore[union-attr]


def test_an_abandoned_upload_stores_nothing(site: Site) -> None:
    parts: list[dict[str, Any]] = [
        {"type": "http.request", "body": PHOTO[:1000], "more_body": True},
        {"type": "http.disconnect"},  # the phone lost its connection halfway
    ]
    raw_upload(site, parts, client_id="gone", length=len(PHOTO))
    assert site.rows() == [] and site.stored() == set()
    # The same upload, retried whole, is stored.
    assert site.upload(ALICE, PHOTO, client_id="gone").status_code == 201


async def make_old(ids: list[str]) -> None:
    """Let uploads look older than the sweep waits for (as if left a day ago)."""
    old = datetime.now(UTC) - timedelta(hours=ORPHAN_HOURS + 1)
    await Attachment.filter(id__in=ids).update(created_at=old)


def test_the_sweep_deletes_uploads_never_sent_and_their_bytes(site: Site) -> None:
    kept = site.upload(ALICE, PHOTO, client_id="a").json()["attachment"]["id"]
    orphan = site.upload(ALICE, PHOTO, client_id="b").json()["attachment"]["id"]
    fresh = site.upload(ALICE, pdf(), "fresh.pdf", "c", "application/pdf").json()["attachment"][
        "id"
    ]
    assert site.send(ALICE, [kept]).status_code == 201
    portal = site.client.portal
    assert portal is not None
    portal.call(make_old, [kept, orphan])
    storage = site.client.app.state.storage  # type: ignore[attr-defined]
    assert portal.call(sweep, storage) == 1
    assert {row.id for row in site.rows()} == {kept, fresh}
    assert site.stored() == {f"{kept}/data", f"{kept}/thumb", f"{fresh}/data"}
    assert portal.call(sweep, storage) == 0


def test_what_is_served_has_no_exif_or_gps_and_is_turned_upright(
    database_url: str, tmp_path: Path, fast_passwords: None
) -> None:
    with open_site(database_url, tmp_path) as site:
        original = METER_PHOTO.read_bytes()
        assert gps_of(original)  # the fixture has it
        r = site.upload(ALICE, original, "IMG_0042.jpg")
        assert r.status_code == 201, r.text
        att = r.json()["attachment"]
        assert att["height"] > att["width"]  # portrait, as the phone was held
        assert site.send(ALICE, [att["id"]], "My meter").status_code == 201
        for url in (att["url"], att["thumb_url"]):
            served = site.client.get(url, headers=site.headers(BOB))
            assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
            assert gps_of(served.content) is None
            assert b"Hafenstrasse" not in served.content and b"iPhone" not in served.content


def test_staff_notes_with_photos_go_to_staff_alone_in_the_websocket_frame(site: Site) -> None:
    a = site.upload(JAN, PHOTO, client_id="n").json()["attachment"]["id"]
    with site.client.websocket_connect(
        "/ws", headers={"Authorization": f"Bearer {site.tokens[JAN]}"}
    ) as ws:
        ws.send_json({"type": "send", "thread": site.thread, "client_id": "w1", "body": "",
                      "audience": "staff", "attachments": [a]})  # fmt: skip
        while True:
            frame = ws.receive_json()
            if frame.get("type") == "ack":
                break
            assert frame.get("type") != "error", frame
    msg = site.client.portal.call(  # type: ignore[union-attr]
        lambda: Message.get(client_id="w1")
    )
    assert [row.message_id for row in site.rows()] == [msg.id]
    r = site.client.get(f"/files/{a}", headers=site.headers(ALICE))
    assert r.status_code == 404


def test_a_customer_watching_the_thread_sees_the_photo_arrive_live_and_on_replay(
    site: Site,
) -> None:
    bob = {"Authorization": f"Bearer {site.tokens[BOB]}"}
    with (
        site.client.websocket_connect("/ws", headers=bob) as html_ws,
        site.client.websocket_connect("/ws?format=json", headers=bob) as json_ws,
    ):
        for ws in (html_ws, json_ws):
            ws.send_json({"type": "subscribe", "thread": site.thread, "since": None})
            while ws.receive_json()["type"] != "subscribed":
                pass
        att = site.upload(ALICE, PHOTO).json()["attachment"]
        assert site.send(ALICE, [att["id"]], "Look").status_code == 201
        [live] = events_until_pong(html_ws)
        assert f'<img src="/files/{att["id"]}/thumb" width="600" height="800"' in live["html"]
        [data] = events_until_pong(json_ws)
        assert data["message"]["attachments"] == [att]
    with site.client.websocket_connect("/ws", headers=bob) as ws:
        ws.send_json({"type": "subscribe", "thread": site.thread, "since": 1})
        replayed = events_until_pong(ws)
        assert f'src="/files/{att["id"]}/thumb"' in replayed[-1]["html"]


def test_a_push_about_a_photo_says_photo_with_the_caption_and_a_file_its_name(
    site: Site,
) -> None:
    portal = site.client.portal
    assert portal is not None
    photo = site.upload(ALICE, PHOTO, client_id="p").json()["attachment"]["id"]
    with_caption = site.send(ALICE, [photo], "Error E-17", client_id="m1").json()["message"]
    document = site.upload(ALICE, pdf(), "bill.pdf", "d", "application/pdf").json()
    alone = site.send(ALICE, [document["attachment"]["id"]], client_id="m2").json()["message"]
    bob = portal.call(lambda: User.get(email=BOB))
    notes = []
    for msg in (with_caption, alone):
        job = PushJob(user_id=bob.id, kind=REPLY.name, thread_id=site.thread,
                      message_id=msg["id"])  # fmt: skip
        note = portal.call(compose, job, bob)
        assert isinstance(note, Notification), note
        notes.append(note)
    assert "📷 Photo Error E-17" in notes[0].body
    assert "📎 bill.pdf" in notes[1].body
    # The photo's thumbnail rides along (Android shows it); a file has none.
    assert json.loads(notes[0].encode())["image"] == f"/files/{photo}/thumb"
    assert "image" not in json.loads(notes[1].encode())


def test_the_data_export_lists_ones_sent_attachments(site: Site) -> None:
    photo = site.upload(ALICE, PHOTO, client_id="p").json()["attachment"]
    site.upload(ALICE, pdf(), "unsent.pdf", "u", "application/pdf")
    assert site.send(ALICE, [photo["id"]]).status_code == 201
    site.client.cookies.clear()
    login(site.client, ALICE)
    exported = site.client.get("/settings/export").json()
    [listed] = exported["attachments"]
    assert listed["id"] == photo["id"] and listed["url"] == photo["url"]
    assert (listed["name"], listed["size"], listed["content_type"]) == (
        "meter.jpg", photo["size"], "image/jpeg"
    )  # fmt: skip
    site.client.cookies.clear()


async def _exists(storage: Any, key: str) -> bool:
    try:
        async for _ in storage.read(key):
            break
    except FileNotFoundError:
        return False
    return True


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_both_storage_back_ends_store_serve_and_sweep_alike(
    backend: str, sqlite_url: str, tmp_path: Path, fast_passwords: None,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    extra = {"storage_url": request.getfixturevalue("s3_url")} if backend == "s3" else {}
    with open_site(sqlite_url, tmp_path, **extra) as site:
        portal = site.client.portal
        assert portal is not None
        storage = site.client.app.state.storage  # type: ignore[attr-defined]
        photo = site.upload(ALICE, PHOTO, client_id="p").json()["attachment"]
        document = site.upload(ALICE, pdf(), "bill.pdf", "d", "application/pdf").json()
        assert site.send(ALICE, [photo["id"]]).status_code == 201
        served = site.client.get(photo["url"], headers=site.headers(BOB))
        assert served.status_code == 200 and served.content[:2] == b"\xff\xd8"
        assert len(served.content) == photo["size"]
        thumb = site.client.get(photo["thumb_url"], headers=site.headers(BOB))
        assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
        part = site.client.get(
            photo["url"], headers=site.headers(BOB, Range="bytes=100-199")
        )  # fmt: skip
        assert part.status_code == 206 and part.content == served.content[100:200]
        orphan = document["attachment"]["id"]
        portal.call(make_old, [orphan])
        assert portal.call(sweep, storage) == 1
        assert not portal.call(_exists, storage, f"{orphan}/data")
        assert portal.call(_exists, storage, f"{photo['id']}/data")


def test_chat_stays_responsive_while_photos_are_processed(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = images.process

    def slow(raw: bytes, name: str) -> images.Processed:
        time.sleep(1.5)  # a CPU busy with a big photo (on its worker thread)
        return real(raw, name)

    monkeypatch.setattr(images, "process", slow)
    with ThreadPoolExecutor(3) as pool:
        uploads = [pool.submit(site.upload, ALICE, PHOTO, "meter.jpg", f"s{i}") for i in range(3)]
        time.sleep(0.3)
        started = time.monotonic()
        r = site.client.get("/api/v1/me", headers=site.headers(BOB))
        assert r.status_code == 200 and time.monotonic() - started < 0.5
        assert [u.result().status_code for u in uploads] == [201, 201, 201]
