"""API tokens: listed and revoked in Settings, with their last use and expiry; an expired one
is refused; changing the password revokes them all."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.actions.accounts import create_user
from server.models import ApiToken, Role
from tests.conftest import PASSWORD, csrf_of, login

pytestmark = pytest.mark.usefixtures("fast_passwords")

TOM = "tom@example.org"


@contextlib.contextmanager
def as_script(client: TestClient) -> Iterator[None]:
    """Act without the browser's cookies, then give the browser its cookies back."""
    saved = list(client.cookies.jar)
    client.cookies.clear()
    try:
        yield
    finally:
        client.cookies.clear()
        for cookie in saved:
            client.cookies.jar.set_cookie(cookie)


def script_token(client: TestClient, **extra: object) -> dict[str, object]:
    """Trade the password for a token as a script does (no browser cookies)."""
    with as_script(client):
        r = client.post("/api/v1/tokens", json={"email": TOM, "password": PASSWORD, **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def me(client: TestClient, token: object) -> int:
    """The status of a call with this token alone."""
    with as_script(client):
        return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def rows(client: TestClient) -> list[ApiToken]:
    return list(client.portal.call(lambda: ApiToken.all().order_by("id")))  # type: ignore[union-attr]


@pytest.fixture
def tom(client: TestClient) -> TestClient:
    """Tom, a customer, signed in in the client's browser."""
    client.portal.call(create_user, TOM, "Tom Becker", PASSWORD, Role.CUSTOMER)  # type: ignore[union-attr]
    login(client, TOM)
    return client


def test_settings_lists_tokens_with_their_name_last_use_and_expiry_and_revokes_one(
    tom: TestClient,
) -> None:
    backup = script_token(tom, name="Nightly backup", expires_in_days=30)
    forever = script_token(tom, name="Home Assistant")
    assert isinstance(backup["expires_at"], str) and forever["expires_at"] is None
    expires = datetime.fromisoformat(backup["expires_at"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(UTC) <= timedelta(days=30)
    page = tom.get("/settings").text
    assert "Nightly backup" in page and "Home Assistant" in page
    assert "last used never" in " ".join(page.split())
    assert (
        "does not expire" in page and f'datetime="{expires.isoformat(timespec="seconds")}"' in page
    )
    assert me(tom, backup["token"]) == 200
    page = " ".join(tom.get("/settings").text.split())
    assert page.count("last used never") == 1, "the backup's use shows"
    r = tom.post(f"/settings/tokens/{backup['id']}/revoke", data={"csrftoken": csrf_of(tom)},
                 headers={"HX-Request": "true", "x-csrftoken": csrf_of(tom)})  # fmt: skip
    assert r.status_code == 200 and 'id="tokens"' in r.text
    assert "Nightly backup" not in r.text and "Home Assistant" in r.text
    assert me(tom, backup["token"]) == 401 and me(tom, forever["token"]) == 200
    r = tom.post(f"/settings/tokens/{backup['id']}/revoke", data={"csrftoken": csrf_of(tom)})
    assert r.status_code == 404, "already revoked"


def test_nobody_revokes_someone_elses_token(tom: TestClient) -> None:
    token = script_token(tom)
    tom.cookies.clear()
    tom.portal.call(create_user, "lena@example.org", "Lena", PASSWORD, Role.CUSTOMER)  # type: ignore[union-attr]
    login(tom, "lena@example.org")
    for token_id in (str(token["id"]), "0", "-1", "99999999999", "x"):
        r = tom.post(f"/settings/tokens/{token_id}/revoke", data={"csrftoken": csrf_of(tom)})
        assert r.status_code == 404, token_id
    assert me(tom, token["token"]) == 200


def test_a_token_made_in_settings_is_shown_once_and_can_expire(tom: TestClient) -> None:
    r = tom.post("/settings/tokens", data={"name": "Zählerskript", "expires_in_days": "90",
                                           "csrftoken": csrf_of(tom)})  # fmt: skip
    assert r.status_code == 200 and "it is shown only this once" in r.text
    [token] = re.findall(r'id="new-token" value="(dk_[^"]+)"', r.text)
    assert me(tom, token) == 200
    [row] = rows(tom)
    assert row.name == "Zählerskript" and row.expires_at is not None
    assert token not in tom.get("/settings").text, "shown once only"
    r = tom.post("/settings/tokens", data={"name": "x", "expires_in_days": "0",
                 "csrftoken": csrf_of(tom)}, headers={"Accept-Language": "de"})  # fmt: skip
    assert r.status_code == 400 and "Ein Token läuft nach 1 bis 3650 Tagen ab" in r.text
    assert len(rows(tom)) == 1


def test_an_expired_token_is_refused_with_its_own_error_code(tom: TestClient) -> None:
    token = script_token(tom, expires_in_days=1)
    assert me(tom, token["token"]) == 200
    past = datetime.now(UTC) - timedelta(seconds=1)
    tom.portal.call(lambda: ApiToken.filter(id=token["id"]).update(expires_at=past))  # type: ignore[union-attr]
    tom.cookies.clear()
    r = tom.get("/api/v1/me", headers={"Authorization": f"Bearer {token['token']}"})
    assert r.status_code == 401
    assert r.json() == {"error": {"code": "token_expired",
                                  "message": "the token has expired; get a new one"}}  # fmt: skip
    auth = {"Authorization": f"Bearer {token['token']}"}
    with pytest.raises(WebSocketDisconnect) as refused, tom.websocket_connect("/ws", headers=auth):
        pass  # the handshake is refused (HTTP 403 on a real server)
    assert refused.value.code == 4401


@pytest.mark.parametrize("days", [0, -3, 3651, "30", 1.5, True])
def test_a_token_expiry_out_of_range_is_refused_in_the_documented_shape(
    tom: TestClient, days: object
) -> None:
    tom.cookies.clear()
    r = tom.post("/api/v1/tokens", json={"email": TOM, "password": PASSWORD,
                                         "expires_in_days": days})  # fmt: skip
    assert r.status_code == 400, r.text
    assert set(r.json()["error"]) == {"code", "message"}
    assert rows(tom) == []


def test_a_tokens_use_is_noted_at_most_once_a_minute(tom: TestClient) -> None:
    token = script_token(tom)
    assert me(tom, token["token"]) == 200
    [row] = rows(tom)
    first = row.last_used_at
    assert first is not None
    assert me(tom, token["token"]) == 200
    assert rows(tom)[0].last_used_at == first, "not a write per request"
    earlier = datetime.now(UTC) - timedelta(minutes=2)
    tom.portal.call(lambda: ApiToken.filter(id=row.id).update(last_used_at=earlier))  # type: ignore[union-attr]
    assert me(tom, token["token"]) == 200
    later = rows(tom)[0].last_used_at
    assert later is not None and later > earlier + timedelta(minutes=1)


def test_changing_the_password_revokes_every_token_and_says_so(tom: TestClient) -> None:
    tokens = [script_token(tom, name=f"script {i}") for i in range(2)]
    page = tom.get("/settings").text
    assert "Changing it signs out every other browser and revokes all your API tokens." in page
    r = tom.post("/settings/password", data={"current_password": PASSWORD,
                 "new_password": "a much longer passphrase", "csrftoken": csrf_of(tom)},
                 follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert "Your API tokens are revoked." in tom.get(r.headers["location"]).text
    assert [me(tom, t["token"]) for t in tokens] == [401, 401]
    assert rows(tom) == []
