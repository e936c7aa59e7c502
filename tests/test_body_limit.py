"""A message body over 10,000 characters is refused with a clear error on the HTML forms (new
thread, reply, edit), never cut; one of exactly 10,000 is stored whole. The JSON API and the
socket refuse it alike (tests/test_api.py, tests/test_live_access.py); the page refuses it
before sending (tests/test_browser_field.py)."""

from __future__ import annotations

from starlette.testclient import TestClient

from server.markdown import BODY_MAX_CHARS
from tests.conftest import csrf_of, signup

GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}
TOO_LONG = "ü" * (BODY_MAX_CHARS + 1)
REFUSED_EN = '<p class="error" role="alert">message is 10,001 characters; the limit is 10,000</p>'
REFUSED_DE = (
    '<p class="error" role="alert">Die Nachricht hat 10.001 Zeichen; erlaubt sind höchstens '
    "10.000</p>"
)


def htmx(client: TestClient, **extra: str) -> dict[str, str]:
    return {"HX-Request": "true", "x-csrftoken": csrf_of(client), **extra}


def test_every_form_refuses_a_body_over_the_limit_clearly_and_stores_a_full_one_whole(
    client: TestClient,
) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    r = client.post(
        "/threads", data={"title": "Too long", "body": TOO_LONG, "client_id": "t-1"},
        headers=htmx(client),
    )  # fmt: skip
    assert (r.status_code, r.text) == (400, REFUSED_EN)

    r = client.post(
        "/threads",
        data={"title": "Long", "body": "a", "client_id": "t-2", "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )
    thread = str(r.headers["location"]).rsplit("/", 1)[1]
    r = client.post(
        f"/threads/{thread}/messages", data={"body": TOO_LONG, "client_id": "m-1"},
        headers=htmx(client, **GERMAN),
    )  # fmt: skip
    assert (r.status_code, r.text) == (400, REFUSED_DE)

    full = "ß" * BODY_MAX_CHARS
    r = client.post(
        f"/threads/{thread}/messages", data={"body": full, "client_id": "m-2"},
        headers=htmx(client),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    message_id = r.text.split('id="msg-', 1)[1].split('"', 1)[0]

    r = client.post(f"/messages/{message_id}/edit", data={"body": TOO_LONG}, headers=htmx(client))
    assert (r.status_code, r.text) == (400, REFUSED_EN)

    page = client.get(f"/threads/{thread}").text
    assert page.count('class="msg') == 2
    assert page.count("ß") == BODY_MAX_CHARS and "ü" not in page
