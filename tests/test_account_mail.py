"""Account mails end to end: password reset, address confirmation and change, read from a
real SMTP server (tests/mailserver.py) as a mail client would, over HTTP as a browser does."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.actions.account_mail import (
    password_link,
    reset_password,
    send_invitation,
    user_of_password_link,
)
from server.actions.accounts import create_user
from server.app import create_app
from server.mail.policy import may_mail
from server.mail.tokens import BadToken
from server.models import OutboundMail, Role, User
from tests.conftest import NOT_LIVE, PASSWORD, csrf_of, login, make_settings, signup
from tests.mailserver import MailServer, html_of, link_in, mail_server, text_of
from tests.test_accounts import other_browser, signed_in_with, token_for, without_cookies

__all__ = ["mail_server"]  # the fixture, imported for the tests below

pytestmark = pytest.mark.usefixtures("fast_passwords")

WEBER = "weber@example.org"
NEW_PASSWORD = "a-new-password-42"


@pytest.fixture
def site(database_url: str, tmp_path: Path, mail_server: MailServer) -> Iterator[TestClient]:
    """The app with its real lifespan (and mail worker) sending to the local SMTP server."""
    settings = make_settings(
        database_url, tmp_path, smtp_url=mail_server.url, public_url="https://care.example",
        mail_from="Nordlicht <care@nordlicht.example>",
    )  # fmt: skip
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        yield client


def path_of(link: str) -> str:
    assert link.startswith("https://care.example/"), link
    return link.removeprefix("https://care.example")


def forgot(client: TestClient, email: str) -> Any:
    return client.post("/password/forgot", data={"email": email, "csrftoken": csrf_of(client)})


def answer_text(html: str, email: str) -> str:
    """The page's answer with the address and per-request tokens taken out."""
    found = re.search(r'id="reset-sent">(.*?)</p>', html, re.S)
    assert found, html
    return found.group(1).replace(email, "ADDRESS")


def test_a_forgotten_password_is_reset_by_the_link_in_the_mail_and_every_session_ends(
    site: TestClient, mail_server: MailServer
) -> None:
    signup(site, WEBER, "Gisela Weber")
    with other_browser(site) as laptop:  # another device, signed in with the old password
        login(site, WEBER)
    token = token_for(site, WEBER)
    site.cookies.clear()  # a browser that forgot everything
    r = forgot(site, WEBER)
    assert r.status_code == 200 and 'id="reset-sent"' in r.text
    mail = mail_server.wait_for_mail_to(WEBER, count=2)  # after the confirmation mail
    assert "new password" in mail["Subject"] and mail["Auto-Submitted"] == "auto-generated"
    link = link_in(mail, "/password/reset/")
    assert link in html_of(mail) and "60 minutes" in text_of(mail)
    form = site.get(path_of(link))
    assert form.status_code == 200 and 'name="password"' in form.text
    assert form.headers["referrer-policy"] == "no-referrer"  # the token stays here
    r = site.post(path_of(link), data={"password": NEW_PASSWORD, "csrftoken": csrf_of(site)},
                  follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/threads"
    assert site.get("/api/v1/me").json()["email"] == WEBER  # signed in afresh here
    assert not signed_in_with(site, laptop)  # the other device is signed out
    with without_cookies(site):
        bearer = {"Authorization": f"Bearer {token}"}
        assert site.get("/api/v1/me", headers=bearer).status_code == 401
    site.cookies.clear()
    login(site, WEBER, NEW_PASSWORD)


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(
    site: TestClient, mail_server: MailServer
) -> None:
    signup(site, WEBER, "Gisela Weber")
    mail_server.wait_for_mail_to(WEBER)  # the confirmation
    site.cookies.clear()
    known = forgot(site, WEBER)
    unknown = forgot(site, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert answer_text(known.text, WEBER) == answer_text(unknown.text, "nobody@example.org")
    mail_server.wait_for_mail_to(WEBER, count=2)
    assert not mail_server.to("nobody@example.org")


def test_reset_mails_are_limited_per_address(site: TestClient, mail_server: MailServer) -> None:
    for _ in range(3):
        assert forgot(site, WEBER).status_code == 200
    r = forgot(site, WEBER)
    assert r.status_code == 429 and "Too many requests" in r.text


def test_a_reset_link_works_once(site: TestClient, mail_server: MailServer) -> None:
    signup(site, WEBER, "Gisela Weber")
    site.cookies.clear()
    forgot(site, WEBER)
    forgot(site, WEBER)  # two links: using one voids the other too
    first = link_in(mail_server.wait_for_mail_to(WEBER, count=2), "/password/reset/")
    second = link_in(mail_server.wait_for_mail_to(WEBER, count=3), "/password/reset/")
    r = site.post(path_of(first), data={"password": NEW_PASSWORD, "csrftoken": csrf_of(site)},
                  follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    for link in (first, second):
        again = site.get(path_of(link))
        assert again.status_code == 400 and 'id="bad-link"' in again.text
        r = site.post(
            path_of(link), data={"password": "yet-another-one", "csrftoken": csrf_of(site)}
        )
        assert r.status_code == 400
    site.cookies.clear()
    login(site, WEBER, NEW_PASSWORD)


def test_a_weak_new_password_is_refused_and_the_link_still_works(
    site: TestClient, mail_server: MailServer
) -> None:
    signup(site, WEBER, "Gisela Weber")
    site.cookies.clear()
    forgot(site, WEBER)
    link = link_in(mail_server.wait_for_mail_to(WEBER, count=2), "/password/reset/")
    r = site.post(path_of(link), data={"password": "short", "csrftoken": csrf_of(site)})
    assert r.status_code == 400 and "at least 10 characters" in r.text
    assert site.get(path_of(link)).status_code == 200


def test_a_broken_link_gets_a_clear_page(site: TestClient) -> None:
    r = site.get("/password/reset/not-a-token")
    assert r.status_code == 400 and "no longer works" in r.text and "/password/forgot" in r.text
    r = site.get("/email/confirm/not-a-token")
    assert r.status_code == 400 and "no longer works" in r.text


async def test_a_reset_link_expires_after_an_hour(
    weber_and_jan: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings("sqlite://:memory:", tmp_path)
    weber = weber_and_jan["weber"]
    real = time.time
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: real() - 3601)
        old = password_link(settings, weber).rpartition("/")[2]
    fresh = password_link(settings, weber).rpartition("/")[2]
    with pytest.raises(BadToken) as caught:
        await user_of_password_link(settings, old)
    assert caught.value.expired
    assert (await user_of_password_link(settings, fresh)).id == weber.id


async def test_an_invitation_sets_a_first_password_and_confirms_the_address(
    weber_and_jan: dict[str, Any], tmp_path: Path
) -> None:
    settings = make_settings("sqlite://:memory:", tmp_path)
    weber = weber_and_jan["weber"]
    assert weber.email_verified_at is None and not may_mail(weber)
    await send_invitation(settings, weber)
    await send_invitation(settings, weber)  # once per person
    row = await OutboundMail.get(recipient=WEBER)
    assert row.key == f"invite:{weber.id}" and "Welcome" in row.subject
    token = re.search(r"/password/reset/(\S+)", row.text).group(1)  # type: ignore[union-attr]
    user = await reset_password(NOT_LIVE, settings, token, NEW_PASSWORD)
    assert user.email_verified_at is not None and may_mail(user)


async def test_staff_made_by_an_admin_count_as_confirmed(weber_and_jan: dict[str, Any]) -> None:
    assert may_mail(weber_and_jan["jan"]) and not may_mail(weber_and_jan["weber"])
    demo = await create_user("demo@example.org", "Demo Customer", PASSWORD, Role.CUSTOMER,
                             verified=True)  # fmt: skip
    assert may_mail(demo)


def test_sign_up_mails_a_link_that_confirms_the_address(
    site: TestClient, mail_server: MailServer
) -> None:
    signup(site, WEBER, "Gisela Weber")
    assert "not confirmed yet" in site.get("/settings").text
    mail = mail_server.wait_for_mail_to(WEBER)
    assert "Confirm your e-mail address" in mail["Subject"]
    link = link_in(mail, "/email/confirm/")
    r = site.get(path_of(link))
    assert r.status_code == 200 and f"{WEBER} is confirmed" in r.text
    assert 'class="badge email-confirmed"' in site.get("/settings").text
    user = site.portal.call(lambda: User.get(email=WEBER))  # type: ignore[union-attr]
    assert may_mail(user)


def test_the_confirmation_can_be_sent_again(site: TestClient, mail_server: MailServer) -> None:
    signup(site, WEBER, "Gisela Weber")
    r = site.post("/settings/email/again", data={"csrftoken": csrf_of(site)},
                  follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert link_in(mail_server.wait_for_mail_to(WEBER, count=2), "/email/confirm/")


def test_a_new_address_takes_effect_once_confirmed_and_the_old_one_is_told(
    site: TestClient, mail_server: MailServer
) -> None:
    signup(site, WEBER, "Gisela Weber")
    new = "gisela@example.net"
    wrong = site.post("/settings/email", data={"email": new, "password": "wrong-password",
                                                "csrftoken": csrf_of(site)})  # fmt: skip
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    form = {"email": new, "password": PASSWORD, "csrftoken": csrf_of(site)}
    r = site.post("/settings/email", data=form, follow_redirects=False)
    assert r.status_code == 303
    notice = mail_server.wait_for_mail_to(WEBER, count=2)
    assert new in text_of(notice) and "/settings" in text_of(notice)
    assert site.get("/api/v1/me").json()["email"] == WEBER  # not yet
    assert new in site.get("/settings").text
    link = link_in(mail_server.wait_for_mail_to(new), "/email/confirm/")
    assert site.get(path_of(link)).status_code == 200
    assert site.get("/api/v1/me").json()["email"] == new
    site.cookies.clear()
    login(site, new)
    old_confirmation = link_in(mail_server.wait_for_mail_to(WEBER), "/email/confirm/")
    assert site.get(path_of(old_confirmation)).status_code == 400  # that address is gone


def test_an_address_of_another_account_cannot_be_taken(
    site: TestClient, mail_server: MailServer
) -> None:
    signup(site, "tom@example.org", "Tom Baker")
    site.cookies.clear()
    signup(site, WEBER, "Gisela Weber")
    r = site.post("/settings/email", data={"email": "tom@example.org", "password": PASSWORD,
                                           "csrftoken": csrf_of(site)})  # fmt: skip
    assert r.status_code == 409
    assert site.get("/api/v1/me").json()["email"] == WEBER


def test_without_a_mail_server_the_pages_say_so_and_the_link_is_in_the_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    page = client.get("/password/forgot")
    assert "E-mail is not set up" in page.text
    signup(client, WEBER, "Gisela Weber")
    assert "E-mail is not set up" in client.get("/settings").text
    client.cookies.clear()
    with caplog.at_level(logging.INFO, logger="server.mail.worker"):
        forgot(client, WEBER)
        deadline = time.monotonic() + 10
        while "/password/reset/" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    link = re.search(r"http://\S+(/password/reset/\S+)", caplog.text)
    assert link, caplog.text
    r = client.post(link.group(1), data={"password": NEW_PASSWORD, "csrftoken": csrf_of(client)},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
