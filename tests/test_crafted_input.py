"""Crafted input gets a clear refusal in the documented shape, never a crash.

Deeply nested JSON (msgspec and json stop at Python's recursion limit) over the JSON API and
over a real socket, and multipart forms, which asgi-csrf 0.11 cannot read with python-multipart
0.0.26+ (server/adapters/asgi_csrf.py).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asgi_csrf
import pytest
from starlette.testclient import TestClient

from server.adapters import asgi_csrf as adapter
from tests.conftest import PASSWORD, csrf_of, signup
from tests.live import DemoTemplates, LiveServer
from tests.live_helpers import CUSTOMER, Scene, new_client_id

pytestmark = pytest.mark.usefixtures("fast_passwords")

DEEP = 5_000  # levels; Python's recursion limit is 1,000
UNCLOSED = "[" * 100_000  # 100 KB: under the body and frame limits
BALANCED = "[" * DEEP + "]" * DEEP  # valid JSON, only too deep


# -- the JSON API ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        UNCLOSED,
        '{"email": "a@example.org", "password": "x", "x": ' + UNCLOSED,
        '{"email": "a@example.org", "password": "x", "x": ' + BALANCED + "}",
    ],
    ids=["unclosed", "unclosed-in-a-field", "balanced-in-an-unknown-field"],
)
def test_deeply_nested_json_is_a_400_error_envelope(client: TestClient, body: str) -> None:
    r = client.post("/api/v1/tokens", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_json"


def test_deeply_nested_json_to_a_signed_in_endpoint_is_a_400_naming_the_nesting(
    client: TestClient,
) -> None:
    signup(client, "weber@example.org", "Gisela Weber")
    client.cookies.clear()  # a script, not a browser
    r = client.post("/api/v1/tokens", json={"email": "weber@example.org", "password": PASSWORD})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    body = '{"title": "t", "body": "b", "client_id": "c", "x": ' + BALANCED + "}"
    r = client.post(
        "/api/v1/threads",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert (r.status_code, r.json()) == (
        400,
        {"error": {"code": "bad_json", "message": "the request body is nested too deeply"}},
    )


# -- a real socket ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, demo_templates: DemoTemplates
) -> Iterator[LiveServer]:
    folder: Path = tmp_path_factory.mktemp("crafted")
    live = LiveServer(f"sqlite://{folder / 'demo.sqlite3'}", folder)
    demo_templates.load_into(live)
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
async def scene(server: LiveServer) -> AsyncIterator[Scene]:
    async with Scene(server) as s:
        yield s


async def test_deeply_nested_frames_get_an_error_frame_and_the_socket_keeps_working(
    scene: Scene,
) -> None:
    customer = await scene.person(CUSTOMER)
    thread = await customer.start_thread("Zählerwechsel")
    ws = await scene.socket(customer)
    cid = new_client_id()
    frames = [
        UNCLOSED,
        '{"type": "ping", "t": ' + BALANCED + "}",  # the one field that takes any JSON
        f'{{"type": "send", "thread": "{thread["id"]}", "client_id": "{cid}", "body": "x", '
        f'"extra": {BALANCED}}}',
    ]
    for raw in frames:
        await ws.send_raw(raw)
        error = await ws.next_of_type("error")
        assert error["code"] == "bad_frame", error
        assert error["message"] == "frame is nested too deeply"
    await ws.sync()  # still open, still answering
    assert not ws.closed
    ack = await ws.send_message(thread["id"], "Danke!", client_id=cid)
    assert ack["client_id"] == cid


# -- multipart forms and CSRF ----------------------------------------------------------------


def multipart(*fields: tuple[str, str, str | None], boundary: str = "b0undary") -> bytes:
    """Encode (name, value, file name or None) parts as a browser would."""
    out = []
    for name, value, filename in fields:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n")
    return ("".join(out) + f"--{boundary}--\r\n").encode()


SIGN_IN = (("email", "weber@example.org", None), ("password", PASSWORD, None))


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data; boundary=b0undary",
        "multipart/form-data;boundary=b0undary",  # legal, and split differently by asgi-csrf
        'multipart/form-data; charset=utf-8; boundary="b0undary"',
        "multipart/form-data",  # no boundary at all
    ],
)
def test_a_multipart_post_without_the_csrf_token_is_a_403_error_page(
    client: TestClient, content_type: str
) -> None:
    csrf_of(client)  # a browser that visited the site holds the CSRF cookie
    r = client.post(
        "/login",
        content=multipart(*SIGN_IN),
        headers={"Content-Type": content_type, "Accept-Language": "de"},
        follow_redirects=False,
    )
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert 'role="alert">Dieses Formular ist veraltet' in r.text


def test_a_multipart_post_to_the_api_from_a_browser_without_the_token_is_a_json_403(
    client: TestClient,
) -> None:
    signup(client, "weber@example.org", "Gisela Weber")  # the browser holds a session
    r = client.post(
        "/api/v1/threads",
        content=multipart(("title", "t", None), ("body", "b", None)),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden"


def test_a_multipart_form_carrying_its_token_goes_through_and_a_file_before_it_does_not(
    client: TestClient,
) -> None:
    signup(client, "weber@example.org", "Gisela Weber")
    client.post("/logout", data={"csrftoken": csrf_of(client)})
    token = csrf_of(client)
    headers = {"Content-Type": "multipart/form-data; boundary=b0undary"}
    r = client.post(
        "/login",
        content=multipart(("file", "x" * 100, "meter.jpg"), ("csrftoken", token, None), *SIGN_IN),
        headers=headers,
        follow_redirects=False,
    )
    assert r.status_code == 403, r.text
    r = client.post(
        "/login",
        content=multipart(("csrftoken", "forged", None), *SIGN_IN),
        headers=headers,
        follow_redirects=False,
    )
    assert r.status_code == 403, r.text
    r = client.post(
        "/login",
        content=multipart(("csrftoken", token, None), *SIGN_IN),
        headers=headers,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text  # the token was read and the form parsed after it


def test_asgi_csrf_still_reads_multipart_tokens_through_the_function_the_adapter_replaces(
    client: TestClient,
) -> None:
    # An upgrade of asgi-csrf that renames or stops calling it must fail here, not in use.
    source = inspect.getsource(asgi_csrf)
    assert "await _parse_multipart_form_data(boundary, receive)" in source
    assert 'split(b"; boundary=")[1]' in source  # why canonical_content_type exists
    assert issubclass(asgi_csrf.TokenFound, Exception)
    assert issubclass(asgi_csrf.FileBeforeToken, Exception)
    assert asgi_csrf._parse_multipart_form_data is adapter.read_multipart_token  # create_app
