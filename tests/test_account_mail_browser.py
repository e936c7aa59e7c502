"""A customer who forgot her password, on a phone in real Chromium: she asks for a link, the
mail arrives at a real SMTP server, she opens its link, chooses a password and is signed in."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.live import NEVER_SIGNED_IN, LiveServer, SignedInDemo
from tests.mailserver import MailServer, link_in, mail_server
from tests.test_browser import PHONE
from tests.test_layout import axe
from tests.test_pwa import axe_violations

__all__ = ["axe", "mail_server"]  # the fixtures, imported for the test below

pytestmark = pytest.mark.browser

LENA = NEVER_SIGNED_IN  # a demo customer signed in nowhere


@pytest.fixture
def server(
    signed_in_demo: SignedInDemo, tmp_path: Path, mail_server: MailServer
) -> Iterator[LiveServer]:
    """A real server on a copy of the demo company, sending mail to the local SMTP server."""
    shutil.copyfile(signed_in_demo.database, tmp_path / "demo.sqlite3")
    live = LiveServer(f"sqlite://{tmp_path / 'demo.sqlite3'}", tmp_path)
    live.env_extra.update(SMTP_URL=mail_server.url, PUBLIC_URL=live.url,
                          MAIL_FROM="Nordlicht Energie <care@nordlicht.example>")  # fmt: skip
    live.start()
    try:
        yield live
    finally:
        live.stop()


def test_a_forgotten_password_is_reset_from_the_mail_on_a_phone(
    browser: Browser, server: LiveServer, mail_server: MailServer, axe: str
) -> None:
    context = browser.new_context(**PHONE, base_url=server.url)
    try:
        page = context.new_page()
        page.goto("/login")
        forgot = page.get_by_role("link", name="Forgot your password?")
        box = forgot.bounding_box()
        assert box and box["height"] >= 44, "big enough to tap"
        forgot.click()
        expect(page).to_have_url(re.compile(r"/password/forgot$"))
        found = axe_violations(page, axe)
        page.get_by_label("E-mail").fill(LENA)
        page.get_by_role("button", name="Send me a link").click()
        expect(page.locator("#reset-sent")).to_contain_text(LENA)

        mail = mail_server.wait_for_mail_to(LENA)
        assert mail["From"] == "Nordlicht Energie <care@nordlicht.example>"
        link = link_in(mail, "/password/reset/")
        assert link.startswith(server.url)

        page.goto(link)
        password = page.get_by_label("New password (at least 10 characters)")
        expect(password).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the form is wider than the phone: {width}px"
        found += axe_violations(page, axe)
        assert found == []
        password.fill("lena-new-password-7")
        page.get_by_role("button", name="Save and sign in").click()
        expect(page).to_have_url(re.compile(r"/threads$"))
        me = page.evaluate("fetch('/api/v1/me').then((r) => r.json())")
        assert me["email"] == LENA

        page.goto(link)  # the link worked once
        expect(page.locator("#bad-link")).to_be_visible()
    finally:
        context.close()
    http = server.session(LENA, "lena-new-password-7")  # the new password signs in
    http.close()
