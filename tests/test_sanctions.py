"""Sanctions and the audit log page, on SQLite and PostgreSQL: a muted person reads but every
way of writing is refused, a suspended one cannot sign in or use a token, lifting restores both;
moderators act on customers, admins also on staff, nobody on an admin; each step is audited, and
the audit log is for moderators and admins alone, filtered by action, person and date.

Sockets closing at once: tests/test_moderation_live.py."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.moderation import flag
from server.actions.sanctions import lift, sanction, suspended
from server.app import create_app
from server.errors import ActionError, Forbidden, NotFound
from server.models import AuditAction, AuditEntry, Message, Role, Thread, User, new_id
from tests.conftest import NOT_LIVE, PASSWORD, csrf_of, login, make_settings
from tests.test_access import bearer, token_for

pytestmark = pytest.mark.usefixtures("fast_passwords")

ADMIN, AYLIN, JAN = "admin@nordlicht.example", "aylin@nordlicht.example", "jan@nordlicht.example"
WEBER, TOM = "weber@example.org", "tom@example.org"
PUSH_PREFIX = "http://127.0.0.1:9/push/"
ACTIONS = {a.value for a in AuditAction}
T = TypeVar("T")


@dataclass
class Site:
    client: TestClient
    ids: dict[str, str]  # e-mail -> user id
    tokens: dict[str, str]  # e-mail -> API token
    thread: str  # Mrs Weber's thread
    message: str  # her first message in it

    def db(self, query: Callable[[], Awaitable[T]]) -> T:
        """Run a query on the app's event loop (where its database connections live)."""

        async def run() -> T:
            return await query()

        return self.client.portal.call(run)  # type: ignore[union-attr]

    def user(self, email: str) -> User:
        return self.db(lambda: User.get(id=self.ids[email]))

    def be(self, email: str | None) -> None:
        """Sign the browser in as someone (None: nobody)."""
        self.client.cookies.clear()
        if email is not None:
            login(self.client, email)

    def form(self, path: str, **data: str) -> int:
        data["csrftoken"] = csrf_of(self.client)
        return self.client.post(path, data=data, follow_redirects=False).status_code

    def audit(self, query: str = "") -> list[str]:
        """The actions the audit page lists, newest first."""
        r = self.client.get("/moderation/audit" + query)
        assert r.status_code == 200, r.text
        return [a for a in re.findall(r"<td>([a-z_]+)[ <]", r.text) if a in ACTIONS]


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    settings = make_settings(
        database_url, tmp_path, posts_per_minute={}, login_attempts_per_minute=1000,
        push_test_endpoint_prefix=PUSH_PREFIX,
    )  # fmt: skip
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        people = ((ADMIN, "Sabine Admin", Role.ADMIN), (AYLIN, "Aylin Kaya", Role.MODERATOR),
                  (JAN, "Jan Petersen", Role.EMPLOYEE), (WEBER, "Gisela Weber", Role.CUSTOMER),
                  (TOM, "Tom Becker", Role.CUSTOMER))  # fmt: skip
        ids = {}
        for email, name, role in people:
            made = client.portal.call(create_user, email, name, PASSWORD, role)  # type: ignore[union-attr]
            ids[email] = made.id
        tokens = {email: token_for(client, email) for email, _, _ in people}
        first = {"title": "Meter", "body": "Is it wrong?", "client_id": "w-1"}
        r = client.post("/api/v1/threads", headers=bearer(tokens[WEBER]), json=first)
        assert r.status_code == 201, r.text
        yield Site(client, ids, tokens, r.json()["thread"]["id"], r.json()["message"]["id"])


def stored(s: Site) -> tuple[int, int]:
    async def count() -> tuple[int, int]:
        return await Message.all().count(), await Thread.all().count()

    return s.db(count)


def entries(s: Site, action: AuditAction) -> list[AuditEntry]:
    return s.db(lambda: AuditEntry.filter(action=action.value).order_by("id"))


def test_a_muted_persons_crafted_requests_are_all_refused_and_lifting_restores_them(
    site: Site,
) -> None:
    s = site
    s.be(AYLIN)
    weber = s.ids[WEBER]
    assert s.form(f"/moderation/people/{weber}", kind="mute", hours="2", reason="Cool down") == 303
    [muted] = entries(s, AuditAction.MUTED)
    assert (muted.actor_id, muted.subject_id, muted.reason) == (s.ids[AYLIN], weber, "Cool down")
    before = stored(s)
    s.be(WEBER)
    assert s.client.get(f"/threads/{s.thread}").status_code == 200, "she still reads"
    for path, data in (
        (f"/threads/{s.thread}/messages", {"body": "Hello?", "client_id": "x-1"}),
        ("/threads", {"title": "New", "body": "Hello?", "client_id": "x-2"}),
        (f"/messages/{s.message}/edit", {"body": "Changed"}),
    ):
        assert s.form(path, **data) == 403, path
    r = s.client.post(f"/threads/{s.thread}/messages", data={"body": "Hi", "client_id": "x-3"},
                      headers={"HX-Request": "true", "x-csrftoken": csrf_of(s.client)})  # fmt: skip
    assert r.status_code == 403 and "muted until" in r.text and "Cool down" in r.text
    api = bearer(s.tokens[WEBER])
    for method, path, body in (
        ("POST", f"/api/v1/threads/{s.thread}/messages", {"body": "Hi", "client_id": "x-4"}),
        ("POST", "/api/v1/threads", {"title": "New", "body": "Hi", "client_id": "x-5"}),
        ("PATCH", f"/api/v1/messages/{s.message}", {"body": "Changed"}),
    ):
        r = s.client.request(method, path, json=body, headers=api)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["code"] == "forbidden" and "muted" in r.json()["error"]["message"]
    start = {"title": "Tom's", "body": "Hi", "client_id": "t-1"}
    tom_thread = s.client.post("/api/v1/threads", headers=bearer(s.tokens[TOM]), json=start).json()
    assert s.form(f"/threads/{tom_thread['thread']['id']}/flag", reason="spam") == 403
    with pytest.raises(Forbidden, match="muted"):
        s.client.portal.call(flag, NOT_LIVE, s.user(WEBER), "message",  # type: ignore[union-attr]
                             tom_thread["message"]["id"], "spam")  # fmt: skip
    assert stored(s) == (before[0] + 1, before[1] + 1), "only Tom's thread was stored"

    s.be(AYLIN)
    assert s.form(f"/moderation/people/{weber}", kind="lift", reason="Calmer now") == 303
    assert len(entries(s, AuditAction.SANCTION_LIFTED)) == 1
    s.be(WEBER)
    assert s.form(f"/threads/{s.thread}/messages", body="Thank you", client_id="x-6") == 303


def test_a_suspended_person_cannot_sign_in_or_use_a_token_until_it_is_lifted(
    site: Site,
) -> None:
    s = site
    s.be(WEBER)
    session = dict(s.client.cookies)
    s.be(AYLIN)
    weber = s.ids[WEBER]
    assert (
        s.form(f"/moderation/people/{weber}", kind="suspend", hours="48", reason="Spam wave") == 303
    )
    [entry] = entries(s, AuditAction.SUSPENDED)
    assert entry.reason == "Spam wave" and entry.subject_id == weber
    s.client.cookies.clear()
    s.client.cookies.update(session)
    r = s.client.get("/threads", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login"), "session ended"
    s.client.cookies.clear()
    r = s.client.post("/login", data={"email": WEBER, "password": PASSWORD,
                                      "csrftoken": csrf_of(s.client)})  # fmt: skip
    assert r.status_code == 403
    assert "This account is suspended until" in r.text and "Spam wave" in r.text
    r = s.client.post("/login", data={"email": WEBER, "password": "wrong password!",
                                      "csrftoken": csrf_of(s.client)})  # fmt: skip
    assert "suspended" not in r.text, "only the password's owner learns why"
    r = s.client.post("/api/v1/tokens", json={"email": WEBER, "password": PASSWORD})
    assert r.status_code == 403 and r.json()["error"]["code"] == "suspended"
    r = s.client.get("/api/v1/me", headers=bearer(s.tokens[WEBER]))
    assert r.status_code == 401, "her token is refused while suspended"

    s.be(AYLIN)
    assert s.form(f"/moderation/people/{weber}", kind="lift") == 303
    s.client.cookies.clear()
    assert s.client.get("/api/v1/me", headers=bearer(s.tokens[WEBER])).status_code == 200
    s.be(WEBER)
    assert s.client.get("/threads").status_code == 200
    user = s.user(WEBER)
    assert (user.muted_until, user.suspended_until, user.sanction_reason) == (None, None, "")


def test_moderators_act_on_customers_admins_also_on_staff_nobody_on_an_admin(site: Site) -> None:
    s = site
    aylin, admin, jan, weber, tom = (s.user(e) for e in (AYLIN, ADMIN, JAN, WEBER, TOM))
    second_admin = s.client.portal.call(  # type: ignore[union-attr]
        create_user, "it@nordlicht.example", "Ida Admin", PASSWORD, Role.ADMIN
    )

    def refused(actor: User, target: str | None, kind: str = "mute", hours: object = 1,
                reason: object = "Because") -> ActionError:  # fmt: skip
        with pytest.raises(ActionError) as err:
            s.client.portal.call(sanction, NOT_LIVE, actor, target, kind, hours, reason)  # type: ignore[union-attr]
        return err.value

    for actor, target in (
        (aylin, admin.id), (aylin, jan.id), (admin, second_admin.id), (admin, admin.id),
        (aylin, aylin.id), (jan, tom.id), (weber, tom.id),
    ):  # fmt: skip
        assert isinstance(refused(actor, target), Forbidden), (actor.email, target)
    assert isinstance(refused(aylin, new_id()), NotFound)
    assert isinstance(refused(aylin, None), NotFound)
    for kind, hours, reason, code in (
        ("ban", 1, "Because", "invalid_sanction"),
        ("mute", 0, "Because", "invalid_duration"),
        ("mute", -3, "Because", "invalid_duration"),
        ("mute", "soon", "Because", "invalid_duration"),
        ("mute", "nan", "Because", "invalid_duration"),
        ("mute", 366 * 24 + 1, "Because", "invalid_duration"),
        ("mute", 1, "", "reason_required"),
        ("mute", 1, "x" * 201, "reason_too_long"),
    ):
        assert refused(aylin, tom.id, kind, hours, reason).code == code, (kind, hours, reason)
    with pytest.raises(Forbidden):
        s.client.portal.call(lift, NOT_LIVE, aylin, jan.id)  # type: ignore[union-attr]
    assert entries(s, AuditAction.MUTED) == []
    s.client.portal.call(sanction, NOT_LIVE, admin, jan.id, "mute", 1, "Rude to a customer")  # type: ignore[union-attr]
    s.client.portal.call(sanction, NOT_LIVE, aylin, tom.id, "suspend", 1, "Spam")  # type: ignore[union-attr]
    assert [e.subject_id for e in entries(s, AuditAction.MUTED)] == [jan.id]
    assert [e.subject_id for e in entries(s, AuditAction.SUSPENDED)] == [tom.id]
    tom = s.user(TOM)
    assert suspended(tom) and not suspended(tom, datetime.now(UTC) + timedelta(hours=2))
    s.be(AYLIN)  # over HTTP the same refusals (403), and nothing written
    assert s.form(f"/moderation/people/{s.ids[ADMIN]}", kind="suspend", hours="1",
                  reason="Power trip") == 403  # fmt: skip
    assert len(entries(s, AuditAction.SUSPENDED)) == 1


# -- the audit log page ----------------------------------------------------------------------


@pytest.mark.parametrize("who", [WEBER, JAN])
def test_moderation_pages_are_404_for_customers_and_employees_and_change_nothing(
    site: Site, who: str
) -> None:
    s = site
    s.be(who)
    for path in ("/moderation", "/moderation/audit", "/moderation?state=done",
                 f"/moderation/people/{s.ids[TOM]}"):  # fmt: skip
        assert s.client.get(path).status_code == 404, path
    for path, data in (
        (f"/moderation/messages/{s.message}", {"decision": "hide", "reason": "spam"}),
        (f"/moderation/threads/{s.thread}", {"decision": "lock"}),
        (f"/moderation/people/{s.ids[TOM]}", {"kind": "suspend", "hours": "1", "reason": "x"}),
    ):
        assert s.form(path, **data) == 404, path
    assert s.db(lambda: AuditEntry.all().count()) == 0
    assert not s.user(TOM).suspended_until
    s.be(AYLIN)
    for path in ("/moderation", "/moderation/audit", f"/moderation/people/{s.ids[TOM]}"):
        assert s.client.get(path).status_code == 200, path


def test_the_audit_log_lists_moderation_roles_and_devices_and_filters_them(site: Site) -> None:
    s = site
    s.be(AYLIN)
    assert s.form(f"/moderation/messages/{s.message}", decision="hide", reason="Insulting") == 303
    assert s.form(f"/moderation/people/{s.ids[TOM]}", kind="mute", hours="1", reason="Calm") == 303
    s.be(ADMIN)
    assert s.form(f"/admin/users/{s.ids[JAN]}/role", role="moderator") == 303
    endpoint = PUSH_PREFIX + "shared-tablet"
    for who in (WEBER, TOM):  # the kitchen tablet changes hands
        s.be(who)
        r = s.client.post(
            "/push/devices",
            json={"endpoint": endpoint, "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22}},
            headers={"x-csrftoken": csrf_of(s.client)},
        )
        assert r.status_code == 201, r.text
    everything = ["push_device_moved", "role_changed", "muted", "hidden"]
    s.be(AYLIN)
    assert s.audit() == everything
    assert s.audit("?action=role_changed") == ["role_changed"]
    assert s.audit("?action=hidden") == ["hidden"]
    assert s.audit("?person=Gisela") == ["push_device_moved", "hidden"]  # subject of both
    assert s.audit("?person=tom@example") == ["push_device_moved", "muted"]
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    assert s.audit(f"?since={today}") == everything
    assert s.audit(f"?since={tomorrow}") == []
    assert s.audit(f"?until={today}") == []
    assert s.audit(f"?since={today}&until={tomorrow}&action=muted") == ["muted"]
    page = s.client.get("/moderation/audit?action=role_changed").text
    assert "employee → moderator" in page and "Jan Petersen" in page
    for bad in ("?since=31.12.2026", "?until=soon", "?action=edited_history"):
        assert s.client.get("/moderation/audit" + bad).status_code == 400, bad
