"""Error messages: English with stable codes for API clients, the reader's language for people."""

from __future__ import annotations

import ast
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient, WebSocketTestSession

from server.actions.accounts import clean_email, create_user
from server.errors import ActionError, Conflict, Forbidden, NotFound
from server.i18n import N_
from server.markdown import BODY_MAX_CHARS, clean_body
from server.models import Role
from server.settings import Settings
from tests.conftest import PASSWORD, csrf_of, login, signup

ROOT = Path(__file__).resolve().parent.parent
GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}
ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}
ERROR_CLASSES = {"ActionError": 1, "NotFound": 0, "Forbidden": 0, "Conflict": 0}

pytestmark = pytest.mark.usefixtures("fast_passwords")


# -- the error objects -------------------------------------------------------------------------


def test_an_error_is_english_for_clients_and_german_when_localized() -> None:
    err = ActionError(
        "too_long",
        N_("message is {length:,} characters; the limit is {limit:,}"),
        length=10_001,
        limit=BODY_MAX_CHARS,
    )
    assert err.code == "too_long"
    assert err.message == str(err) == "message is 10,001 characters; the limit is 10,000"
    assert err.localized("en") == err.message
    # German groups digits with a dot.
    assert err.localized("de") == "Die Nachricht hat 10.001 Zeichen; erlaubt sind höchstens 10.000"
    assert err.localized("xx") == err.message, "an unknown language falls back to English"


def test_the_subclasses_keep_their_codes_and_statuses() -> None:
    assert (NotFound().code, NotFound().status, NotFound().message) == (
        "not_found",
        404,
        "thread not found",
    )
    assert NotFound().localized("de") == "Unterhaltung nicht gefunden"
    assert NotFound(N_("message not found")).localized("de") == "Nachricht nicht gefunden"
    closed = Forbidden(N_("this thread is closed"))
    assert (closed.code, closed.status) == ("forbidden", 403)
    assert closed.localized("de") == "Diese Unterhaltung ist geschlossen"
    taken = Conflict(N_("an account for {email!r} exists already"), email="a@example.org")
    assert (taken.code, taken.status) == ("conflict", 409)
    assert taken.message == "an account for 'a@example.org' exists already"
    assert taken.localized("de") == "Ein Konto für 'a@example.org' gibt es bereits"


def test_user_values_are_quoted_cut_short_and_never_read_as_placeholders() -> None:
    with pytest.raises(ActionError) as caught:
        clean_email("{0}{email}" + "x" * 200)
    err = caught.value
    assert err.code == "invalid_email"
    assert err.message.startswith("'{0}{email}xxx")
    assert len(err.message) == 80 + len(" is not an e-mail address")
    assert err.localized("de") == err.message[:80] + " ist keine E-Mail-Adresse"


def test_a_message_without_params_is_shown_as_it_is_even_with_braces() -> None:
    # An f-string built before the error (not translatable, but it must not crash).
    err = ActionError("invalid_zone", f"unknown time zone {'{Mars}'!r}")
    assert err.message == "unknown time zone '{Mars}'"
    assert err.localized("de") == err.message


def test_a_refused_body_is_an_action_error_that_is_still_translatable() -> None:
    with pytest.raises(ActionError) as caught:
        clean_body("\n")
    assert (caught.value.code, caught.value.message) == ("empty", "message is empty")
    assert caught.value.localized("de") == "Die Nachricht ist leer"


def _error_calls() -> Iterator[tuple[str, str, ast.Call, int]]:
    """Yield every construction of an error class in server/, with its message's position."""
    for path in sorted((ROOT / "server").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                position = ERROR_CLASSES.get(node.func.id)
                if position is not None:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    yield where, node.func.id, node, position


def test_every_error_raised_by_the_server_has_a_message_marked_for_translation() -> None:
    unmarked = []
    calls = 0
    for where, name, call, position in _error_calls():
        calls += 1
        if len(call.args) <= position:
            if name == "NotFound" and not call.args:
                continue  # its default, "thread not found", is marked
            unmarked.append(f"{where}: no message")
            continue
        message = call.args[position]
        marked = (
            isinstance(message, ast.Call)
            and isinstance(message.func, ast.Name)
            and message.func.id == "N_"
            and isinstance(message.args[0], ast.Constant)
        )
        # Passing on a caught error's `err.template` is fine: it was marked where it was raised.
        passed_on = isinstance(message, ast.Attribute) and message.attr == "template"
        if not (marked or passed_on):
            unmarked.append(f"{where}: {ast.unparse(message)}")
    assert calls > 30
    assert not unmarked, "wrap error messages in N_() with {placeholders}:\n" + "\n".join(unmarked)


# -- through the app ---------------------------------------------------------------------------


def german_user(client: TestClient, email: str = "frau.weber@example.org") -> None:
    """Sign up and choose German in the settings (the browser asks for English)."""
    signup(client, email, "Frau Weber")
    r = client.post(
        "/settings", data={"language": "de", "csrftoken": csrf_of(client)}, headers=ENGLISH
    )
    assert '<html lang="de">' in r.text


def new_thread(client: TestClient) -> str:
    r = client.post(
        "/threads",
        data={"title": "Zählerwechsel", "body": "Wann kommt der Monteur?", "client_id": "t-1",
              "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    return str(r.headers["location"]).rsplit("/", 1)[1]


def test_a_german_user_sending_an_empty_message_reads_the_error_in_german(
    client: TestClient,
) -> None:
    german_user(client)
    thread = new_thread(client)
    r = client.post(
        f"/threads/{thread}/messages",
        data={"body": "  ", "client_id": "m-1"},
        headers={"HX-Request": "true", "x-csrftoken": csrf_of(client), **ENGLISH},
    )
    assert r.status_code == 400
    assert r.headers["HX-Retarget"] == "#form-error"
    assert r.text == '<p class="error" role="alert">Die Nachricht ist leer</p>'


def test_an_english_user_sending_an_empty_message_reads_the_error_in_english(
    client: TestClient,
) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    thread = new_thread(client)
    r = client.post(
        f"/threads/{thread}/messages",
        data={"body": "", "client_id": "m-1"},
        headers={"HX-Request": "true", "x-csrftoken": csrf_of(client), **ENGLISH},
    )
    assert r.status_code == 400
    assert "message is empty" in r.text


def test_a_form_over_the_size_limit_is_refused_in_the_browsers_language(
    client: TestClient,
) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    thread = new_thread(client)
    huge = {"body": "x" * (300 * 1024), "client_id": "m-1"}
    r = client.post(
        f"/threads/{thread}/messages",
        data=huge,
        headers={"HX-Request": "true", "x-csrftoken": csrf_of(client), **GERMAN},
    )
    assert r.status_code == 413
    assert r.headers["HX-Retarget"] == "#form-error"
    assert r.text == '<p class="error" role="alert">Die Anfrage ist größer als 256 KiB</p>'
    r = client.post(
        f"/threads/{thread}/messages",
        data={**huge, "csrftoken": csrf_of(client)},
        headers=ENGLISH,
    )
    assert r.status_code == 413
    assert '<html lang="en">' in r.text and "the request is larger than 256 KiB" in r.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts as it reads
        for _ in range(300):
            yield b"x" * 1024

    r = client.post(
        f"/threads/{thread}/messages",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true",
                 "x-csrftoken": csrf_of(client), **GERMAN},
    )  # fmt: skip
    assert r.status_code == 413
    assert "Die Anfrage ist größer als 256 KiB" in r.text
    r = client.get(f"/threads/{thread}")
    assert r.text.count('class="msg') == 1, "only the first message is stored"


def test_error_pages_speak_the_browsers_language(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    r = client.get("/threads/nosuchthread", headers=GERMAN)
    assert r.status_code == 404
    assert '<html lang="de">' in r.text
    assert "Unterhaltung nicht gefunden" in r.text
    r = client.get("/threads/nosuchthread", headers=ENGLISH)
    assert r.status_code == 404
    assert "thread not found" in r.text
    r = client.get("/no/such/page", headers=GERMAN)
    assert r.status_code == 404
    assert "Seite nicht gefunden" in r.text
    assert "page not found" in client.get("/no/such/page", headers=ENGLISH).text


def test_sign_up_with_a_short_password_explains_it_in_german(client: TestClient) -> None:
    form = {"email": "frau.weber@example.org", "name": "Frau Weber", "password": "kurz"}
    r = client.post("/signup", data={**form, "csrftoken": csrf_of(client)}, headers=GERMAN)
    assert r.status_code == 400
    assert "Das Passwort muss mindestens 10 Zeichen lang sein" in r.text
    assert "the password needs" not in r.text
    r = client.post("/signup", data={**form, "csrftoken": csrf_of(client)}, headers=ENGLISH)
    assert r.status_code == 400
    assert "the password needs at least 10 characters" in r.text


def test_sign_up_with_a_taken_address_quotes_it_safely_in_german(client: TestClient) -> None:
    signup(client, "frau.weber@example.org", "Frau Weber")
    client.cookies.clear()
    form = {"email": "Frau.Weber@example.org", "name": "Frau Weber", "password": PASSWORD}
    r = client.post("/signup", data={**form, "csrftoken": csrf_of(client)}, headers=GERMAN)
    assert r.status_code == 409
    assert "Ein Konto für &#39;frau.weber@example.org&#39; gibt es bereits" in r.text


def test_the_json_api_answers_in_english_with_the_same_code_for_a_german_user(
    client: TestClient,
) -> None:
    german_user(client)
    thread = new_thread(client)
    client.cookies.clear()
    r = client.post(
        "/api/v1/tokens", json={"email": "frau.weber@example.org", "password": PASSWORD}
    )
    auth = {"Authorization": f"Bearer {r.json()['token']}", **GERMAN}
    r = client.post(
        f"/api/v1/threads/{thread}/messages", json={"body": "", "client_id": "m-1"}, headers=auth
    )
    assert r.status_code == 400
    assert r.json() == {"error": {"code": "empty", "message": "message is empty"}}
    r = client.get("/api/v1/threads/nosuchthread", headers=auth)
    assert r.json() == {"error": {"code": "not_found", "message": "thread not found"}}


@contextlib.contextmanager
def socket(client: TestClient, query: str = "") -> Iterator[WebSocketTestSession]:
    with client.websocket_connect(
        "/ws" + query, headers={"Origin": "http://testserver", **ENGLISH}
    ) as ws:
        assert ws.receive_json()["type"] == "hello"
        yield ws


def test_browser_sockets_get_errors_in_the_users_language_and_json_sockets_in_english(
    client: TestClient,
) -> None:
    german_user(client)
    thread = new_thread(client)
    send = {"type": "send", "thread": thread, "body": " ", "client_id": "m-1"}
    with socket(client) as ws:
        ws.send_json(send)
        error = ws.receive_json()
        assert error == {
            "type": "error", "code": "empty", "message": "Die Nachricht ist leer",
            "thread": thread, "client_id": "m-1",
        }  # fmt: skip
        ws.send_text("not json")
        assert ws.receive_json()["message"] == "Der Frame ist kein JSON"
    with socket(client, "?format=json") as ws:
        ws.send_json(send)
        error = ws.receive_json()
        assert (error["code"], error["message"]) == ("empty", "message is empty")


def test_the_admin_page_names_roles_in_german(client: TestClient) -> None:
    client.portal.call(  # type: ignore[union-attr]
        create_user, "admin@nordlicht.example", "Sabine Admin", PASSWORD, Role.ADMIN, "IT"
    )
    login(client, "admin@nordlicht.example")
    r = client.get("/admin", headers=GERMAN)
    assert '<option value="employee">Mitarbeitende</option>' in r.text
    assert '<option value="moderator">Moderation</option>' in r.text
    assert '<span class="badge staff-badge">Verwaltung</span>' in r.text
    r = client.post(
        "/admin/users",
        data={"email": "jan@nordlicht.example", "name": "Jan", "role": "superuser",
              "password": "jans initial pw", "csrftoken": csrf_of(client)},
        headers=GERMAN,
    )  # fmt: skip
    assert r.status_code == 400
    assert "Unbekannte Rolle &#39;superuser&#39;" in r.text


# -- a bug or an outage ------------------------------------------------------------------------


def test_an_outage_is_a_500_in_the_documented_shape_not_plain_text(settings: Settings) -> None:
    """A table gone from under the server (a real fault, no patched code): the API answers its
    one error shape, a person gets the error page in their language, and nothing leaks."""
    from server.app import create_app

    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        signup(client, "weber@example.org", "Frau Weber")
        path = settings.database_url.removeprefix("sqlite://")
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("ALTER TABLE threads RENAME TO threads_gone")
        api = client.get("/api/v1/threads")
        page = client.get("/threads", headers=GERMAN)
    assert api.status_code == 500
    assert api.headers["content-type"] == "application/json"
    assert api.json() == {
        "error": {
            "code": "internal",
            "message": "something went wrong on our side; please try again",
        }
    }
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "Auf unserer Seite ist etwas schiefgegangen" in page.text
    for text in (api.text, page.text):
        assert "Traceback" not in text and "threads_gone" not in text and "sqlite" not in text
