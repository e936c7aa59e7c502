"""The admin page and its actions: roles, deactivation, the last admin, the audit trail (who
sees it, what it records, including a push device that moves to another account)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.actions.accounts import create_user
from server.actions.admin import change_role, deactivate, reactivate
from server.actions.notifications import save_subscription
from server.db import close_database, open_database
from server.errors import ActionError, Conflict, Forbidden, NotFound
from server.models import AuditEntry, Role, User
from server.people import audit_entries
from tests.conftest import NOT_LIVE, PASSWORD, csrf_of, login, make_settings

pytestmark = pytest.mark.usefixtures("fast_passwords")

PUSH_PREFIX = "http://127.0.0.1:9/push/"  # passes the endpoint guard in these tests only
KEYS = {"p256dh": "B" + "A" * 86, "auth": "A" * 22}


@pytest.fixture
async def people(database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """An open database (each configured kind) with an admin, an employee and a customer."""
    settings = make_settings(database_url, tmp_path, push_test_endpoint_prefix=PUSH_PREFIX)
    await open_database(settings)
    try:
        yield {
            "settings": settings,
            "sabine": await create_user("admin@nordlicht.example", "Sabine Admin", PASSWORD,
                                        Role.ADMIN, "IT"),
            "jan": await create_user("jan@nordlicht.example", "Jan Petersen", PASSWORD,
                                     Role.EMPLOYEE, "Field service"),
            "weber": await create_user("weber@example.org", "Gisela Weber", PASSWORD),
        }  # fmt: skip
    finally:
        await close_database()


async def test_the_last_admin_cannot_demote_or_deactivate_themselves(
    people: dict[str, Any],
) -> None:
    sabine, jan = people["sabine"], people["jan"]
    for change in (
        change_role(NOT_LIVE, sabine, sabine.id, "employee"),
        deactivate(NOT_LIVE, sabine, sabine.id),
    ):
        with pytest.raises(Conflict) as refused:
            await change
        assert refused.value.message == (
            "Sabine Admin is the last admin: make someone else an admin first"
        )
    assert (await User.get(id=sabine.id)).role == Role.ADMIN
    assert (await User.get(id=sabine.id)).is_active
    await change_role(NOT_LIVE, sabine, jan.id, "admin")
    await change_role(NOT_LIVE, sabine, sabine.id, "employee")  # another admin is left
    assert (await User.get(id=sabine.id)).role == Role.EMPLOYEE
    jan = await User.get(id=jan.id)
    with pytest.raises(Conflict):
        await deactivate(NOT_LIVE, jan, jan.id)


async def test_only_an_admin_changes_accounts_and_bad_input_is_named(
    people: dict[str, Any],
) -> None:
    sabine, jan, weber = people["sabine"], people["jan"], people["weber"]
    with pytest.raises(Forbidden):
        await change_role(NOT_LIVE, jan, weber.id, "admin")
    with pytest.raises(Forbidden):
        await deactivate(NOT_LIVE, jan, weber.id)
    with pytest.raises(NotFound):
        await change_role(NOT_LIVE, sabine, "nobody-at-all", "employee")
    with pytest.raises(NotFound):
        await deactivate(NOT_LIVE, sabine, "x\x00y")
    with pytest.raises(ActionError) as bad:
        await change_role(NOT_LIVE, sabine, jan.id, "superuser")
    assert bad.value.code == "invalid_role"
    assert await AuditEntry.all().count() == 0


async def test_the_audit_trail_records_who_changed_what_about_whom_for_admins_only(
    people: dict[str, Any],
) -> None:
    sabine, jan, weber = people["sabine"], people["jan"], people["weber"]
    await change_role(NOT_LIVE, sabine, jan.id, "customer")
    await change_role(NOT_LIVE, sabine, jan.id, "customer")  # no change: nothing recorded
    await save_subscription(people["settings"], jan, PUSH_PREFIX + "phone", KEYS["p256dh"],
                            KEYS["auth"], "Pixel")  # fmt: skip
    await deactivate(NOT_LIVE, sabine, jan.id)
    await reactivate(sabine, jan.id)
    # A shared tablet: Jan's push device is subscribed again by Frau Weber.
    endpoint = PUSH_PREFIX + "tablet"
    await save_subscription(people["settings"], jan, endpoint, KEYS["p256dh"], KEYS["auth"],
                            "Galaxy Tab")  # fmt: skip
    await save_subscription(people["settings"], weber, endpoint, KEYS["p256dh"], KEYS["auth"],
                            "Mein Tablet")  # fmt: skip
    entries = await audit_entries(sabine)
    assert [
        (e.action, e.actor_id, e.subject_id) for e in reversed(entries)
    ] == [
        ("role_changed", sabine.id, jan.id),
        ("deactivated", sabine.id, jan.id),
        ("reactivated", sabine.id, jan.id),
        ("push_device_moved", weber.id, jan.id),
    ]  # fmt: skip
    role, gone, _, moved = reversed(entries)
    assert role.details == {
        "actor": {"name": "Sabine Admin", "email": "admin@nordlicht.example"},
        "subject": {"name": "Jan Petersen", "email": "jan@nordlicht.example"},
        "old": "employee", "new": "customer",
    }  # fmt: skip
    assert gone.details["devices"] == 1 and gone.details["sessions"] == 0
    assert moved.details["device"] == "Galaxy Tab"
    assert moved.details["push_service"] == "127.0.0.1"
    assert await audit_entries(jan) == [] and await audit_entries(weber) == []
    await change_role(NOT_LIVE, sabine, jan.id, "moderator")
    assert await audit_entries(await User.get(id=jan.id)), "moderators read the audit log"


# -- the page --------------------------------------------------------------------------------


def sign_in_as(client: TestClient, email: str, role: Role) -> str:
    client.portal.call(create_user, email, email.split("@")[0].title(), PASSWORD, role)  # type: ignore[union-attr]
    login(client, email)
    found: User = client.portal.call(lambda: User.get(email=email))  # type: ignore[union-attr]
    return found.id


def test_the_admin_page_changes_a_role_and_explains_a_refusal(client: TestClient) -> None:
    jan = sign_in_as(client, "jan@nordlicht.example", Role.EMPLOYEE)
    client.cookies.clear()
    sabine = sign_in_as(client, "sabine@nordlicht.example", Role.ADMIN)
    page = client.get("/admin").text
    assert f'action="/admin/users/{jan}/role"' in page and "Nothing recorded yet." in page
    r = client.post(f"/admin/users/{jan}/role", data={"role": "moderator",
                    "csrftoken": csrf_of(client)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "The change applies at once" in page
    assert "Sabine changed the role of Jan: Employee → Moderator" in " ".join(page.split())
    r = client.post(f"/admin/users/{sabine}/deactivate", data={"csrftoken": csrf_of(client)})
    assert r.status_code == 409
    assert "Sabine is the last admin: make someone else an admin first" in r.text
    r = client.post(f"/admin/users/{jan}/role", data={"role": "root",
                    "csrftoken": csrf_of(client)}, headers={"Accept-Language": "de"})  # fmt: skip
    assert r.status_code == 400 and "Unbekannte Rolle &#39;root&#39;" in r.text


def test_people_who_are_not_admins_cannot_use_the_admin_page(client: TestClient) -> None:
    jan = sign_in_as(client, "jan@nordlicht.example", Role.MODERATOR)
    for path, form in (
        ("/admin", None),
        (f"/admin/users/{jan}/role", {"role": "admin"}),
        (f"/admin/users/{jan}/deactivate", {}),
        (f"/admin/users/{jan}/reactivate", {}),
    ):
        if form is None:
            r = client.get(path)
        else:
            r = client.post(path, data={**form, "csrftoken": csrf_of(client)})
        assert r.status_code == 404, path
    assert client.portal.call(lambda: User.get(id=jan)).role == Role.MODERATOR  # type: ignore[union-attr]


def test_an_admin_who_deactivates_themselves_is_signed_out(client: TestClient) -> None:
    other = sign_in_as(client, "ole@nordlicht.example", Role.ADMIN)
    client.cookies.clear()
    sabine = sign_in_as(client, "sabine@nordlicht.example", Role.ADMIN)
    assert other != sabine
    r = client.post(f"/admin/users/{sabine}/deactivate", data={"csrftoken": csrf_of(client)},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/api/v1/me").status_code == 401


def test_an_admin_finds_a_customer_by_e_mail_and_deactivates_the_account(
    client: TestClient,
) -> None:
    weber = sign_in_as(client, "weber@example.org", Role.CUSTOMER)
    client.cookies.clear()
    sign_in_as(client, "sabine@nordlicht.example", Role.ADMIN)
    page = client.get("/admin").text
    assert f'action="/admin/users/{weber}/deactivate"' not in page, "the list shows staff only"
    found = client.get("/admin", params={"q": "WEBER@example"}).text
    assert f'action="/admin/users/{weber}/deactivate"' in found
    assert client.get("/admin", params={"q": "nobody-here"}).text.count("Nobody matches") == 1
    r = client.post(f"/admin/users/{weber}/deactivate", data={"csrftoken": csrf_of(client)},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    client.cookies.clear()
    r = client.post("/login", data={"email": "weber@example.org", "password": PASSWORD,
                    "csrftoken": csrf_of(client)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 403


def test_a_role_change_while_a_socket_opens_is_not_missed(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change lands after the socket identified the person but before it listens for
    account notices (so its notice goes unheard): the socket must not open with staff rights."""
    from server.fanout import Fanout

    jan = sign_in_as(client, "jan@nordlicht.example", Role.EMPLOYEE)
    listen = Fanout.listen

    async def demoted_meanwhile(self: Fanout, channel: str, member: Any) -> None:
        if channel == f"user:{jan}":
            await User.filter(id=jan).update(role=Role.CUSTOMER)  # its notice: already gone
        await listen(self, channel, member)

    monkeypatch.setattr(Fanout, "listen", demoted_meanwhile)
    origin = {"Origin": "http://testserver"}
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/ws?format=json", headers=origin) as ws,
    ):
        ws.receive_json()  # would be `hello` with staff: true
    assert refused.value.code == 4401
    monkeypatch.setattr(Fanout, "listen", listen)
    with client.websocket_connect("/ws?format=json", headers=origin) as ws:
        assert ws.receive_json()["staff"] is False
