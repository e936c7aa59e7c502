"""Notification mails through the real app: a reply reaches a real SMTP server (tests/
mailserver.py) and is read as a mail client reads it; its one-click unsubscribe (RFC 8058)
works without cookies, its GET changes nothing; the settings page saves the e-mail choice."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.actions.account_mail import confirm_email, confirm_link
from server.actions.accounts import create_user
from server.actions.threads import start_thread
from server.app import create_app
from server.db import close_database, open_database
from server.mail.digest import unsubscribe_url, unsubscribing
from server.mail.replyaddr import read_reply_address
from server.models import Role
from server.settings import Settings
from tests.conftest import NOT_LIVE, PASSWORD, csrf_of, login, make_settings
from tests.mailserver import MailServer, html_of, mail_server, text_of

__all__ = ["mail_server"]  # the fixture, used by name

pytestmark = pytest.mark.usefixtures("fast_passwords")

WEBER = "weber@example.org"
TOM = "tom@example.org"
JAN = "jan@nordlicht.example"
ALL_KINDS = {"replies": "1", "mentions": "1", "status_changes": "1"}


def prepare(settings: Settings) -> dict[str, str]:
    """Mrs Weber (address confirmed) with a thread, Tom (not confirmed), Jan (staff)."""

    async def run() -> dict[str, str]:
        await open_database(settings)
        try:
            weber = await create_user(WEBER, "Gisela Weber", PASSWORD, Role.CUSTOMER)
            token = confirm_link(settings, weber, WEBER).rsplit("/", 1)[1]
            await confirm_email(settings, token)
            tom = await create_user(TOM, "Tom Becker", PASSWORD, Role.CUSTOMER)
            await create_user(JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "Field service")
            thread, _, _ = await start_thread(NOT_LIVE, weber, "Meter swap", "When?", "c-0")
            return {"weber": weber.id, "tom": tom.id, "thread": thread.id}
        finally:
            await close_database()

    return asyncio.run(run())


@pytest.fixture
def site(
    database_url: str, tmp_path: Path, mail_server: MailServer
) -> Iterator[tuple[TestClient, Settings, dict[str, str]]]:
    settings = make_settings(
        database_url, tmp_path, smtp_url=mail_server.url, email_batch_minutes=0.0,
        public_url="http://testserver", mail_reply_domain="reply.care.example.com",
    )  # fmt: skip
    ids = prepare(settings)
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        yield client, settings, ids


def email_choice_on_settings_page(client: TestClient, email: str) -> str:
    """Sign in as someone and read which e-mail choice their settings page has checked."""
    client.cookies.clear()
    login(client, email)
    page = client.get("/settings/notifications").text
    [checked] = re.findall(r'name="email" value="(\w+)" checked', page)
    client.cookies.clear()
    return str(checked)


def test_a_reply_arrives_as_a_mail_a_client_reads_and_its_one_click_unsubscribe_works(
    site: tuple[TestClient, Settings, dict[str, str]], mail_server: MailServer
) -> None:
    client, settings, ids = site
    login(client, JAN)
    r = client.post(
        f"/threads/{ids['thread']}/messages",
        data={"body": "We come on **Tuesday**.", "client_id": "c-1", "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code in (200, 303), r.text
    mail = mail_server.wait_for_mail_to(WEBER)
    assert mail["Subject"] == "New in “Meter swap”"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert "Jan Petersen (staff): We come on Tuesday." in text_of(mail)
    assert "<strong>" not in text_of(mail)
    html = html_of(mail)
    assert f'href="http://testserver/threads/{ids["thread"]}' in html
    assert read_reply_address(settings, str(mail["Reply-To"])) == (ids["weber"], ids["thread"])
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(mail["List-Unsubscribe"]).strip("<>")
    assert link.startswith("http://testserver/mail/unsubscribe/")
    assert unsubscribing(settings, link.rsplit("/", 1)[1]) == ids["weber"]

    client.cookies.clear()
    page = client.get(link)  # what a link scanner does
    assert page.status_code == 200
    assert "Turn off notification e-mails" in page.text
    assert email_choice_on_settings_page(client, WEBER) == "no_device", "a GET changes nothing"

    # The mail provider's one-click POST: no cookie, no CSRF token (RFC 8058).
    r = client.post(
        link,
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    assert "no more notification e-mails" in r.text
    assert email_choice_on_settings_page(client, WEBER) == "never"


def test_a_forged_unsubscribe_link_is_refused_and_changes_nothing(
    site: tuple[TestClient, Settings, dict[str, str]],
) -> None:
    client, settings, ids = site
    other = settings.with_overrides(secret_key=type(settings.secret_key)("another-secret"))
    forged = unsubscribe_url(other, ids["weber"])
    assert client.get(forged).status_code == 404
    client.cookies.clear()  # as the mail provider posts
    r = client.post(forged, content="List-Unsubscribe=One-Click",
                    headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 404
    assert "This link is not valid." in r.text
    assert email_choice_on_settings_page(client, WEBER) == "no_device"


def test_the_settings_page_saves_the_email_choice_and_refuses_an_unknown_one(
    site: tuple[TestClient, Settings, dict[str, str]],
) -> None:
    client, _, _ = site
    login(client, WEBER)
    form = {**ALL_KINDS, "time_zone": "Europe/Berlin", "csrftoken": csrf_of(client)}
    r = client.post("/settings/notifications", data={**form, "email": "always"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert email_choice_on_settings_page(client, WEBER) == "always"
    login(client, WEBER)
    form["csrftoken"] = csrf_of(client)
    r = client.post("/settings/notifications", data={**form, "email": "weekly"})
    assert r.status_code == 400
    assert "&#39;weekly&#39;" in r.text
    assert email_choice_on_settings_page(client, WEBER) == "always"


def test_staff_default_to_no_mail_and_an_unconfirmed_address_is_told_so(
    site: tuple[TestClient, Settings, dict[str, str]],
) -> None:
    client, _, _ = site
    assert email_choice_on_settings_page(client, JAN) == "never"
    login(client, TOM)
    page = client.get("/settings/notifications").text
    assert "Notification e-mails go only to a confirmed address" in page
    login(client, WEBER)
    assert (
        "Notification e-mails go only to a confirmed address"
        not in client.get("/settings/notifications").text
    )
