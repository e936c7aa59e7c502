"""Real Chromium on a phone (390×844) against a real server with the demo company: a customer
chooses when notifications come by e-mail in the settings, and turns them off from the page a
mail's unsubscribe link opens (a button: opening the link alone changes nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from starlette.datastructures import Secret

from server.demo import DEMO_COMPANY
from server.mail.digest import unsubscribe_url
from server.settings import Settings
from tests.live import TIMEOUT_MS, LiveServer, SignedInDemo
from tests.test_browser import PHONE, WEBER

pytestmark = pytest.mark.browser

LIVE_SECRET = "live-test-secret"  # tests/live.py gives every live server this SECRET_KEY


@pytest.fixture
def server(signed_in_demo: SignedInDemo, tmp_path: Path) -> Iterator[LiveServer]:
    with signed_in_demo.server(tmp_path, COMPANY_NAME=DEMO_COMPANY) as s:
        yield s


@pytest.fixture
def phone(browser: Browser, server: LiveServer, signed_in_demo: SignedInDemo) -> Iterator[Page]:
    """Mrs Weber's phone, signed in."""
    state: Any = signed_in_demo.states[WEBER]
    context = browser.new_context(base_url=server.url, storage_state=state, **PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        yield page
    finally:
        context.close()
    assert errors == []


def email_choice(page: Page) -> Any:
    return page.locator("#email-choice")


def test_a_customer_on_a_phone_chooses_mail_always_and_then_turns_it_off_from_a_mails_link(
    phone: Page, server: LiveServer, signed_in_demo: SignedInDemo
) -> None:
    phone.goto("/settings#notifications")
    choice = email_choice(phone)
    expect(choice.get_by_label("When I have no device for notifications")).to_be_checked()
    always = choice.get_by_label("Always, besides notifications on my devices")
    always.scroll_into_view_if_needed()
    expect(always).to_be_in_viewport()
    always.tap()
    phone.locator("form.prefs").get_by_role("button", name="Save").tap()
    phone.wait_for_url("**/settings?saved=1*")
    expect(email_choice(phone).get_by_label("Always, besides notifications")).to_be_checked()

    settings = Settings(secret_key=Secret(LIVE_SECRET), public_url=server.url)
    me = httpx.get(server.url + "/api/v1/me",
                   headers={"Authorization": f"Bearer {server.token(WEBER)}"})  # fmt: skip
    phone.goto(unsubscribe_url(settings, me.json()["id"]))  # the link her mails carry
    button = phone.get_by_role("button", name="Turn off notification e-mails")
    expect(button).to_be_in_viewport()
    phone.goto("/settings#notifications")
    expect(email_choice(phone).get_by_label("Always, besides notifications")).to_be_checked()
    phone.go_back()
    phone.get_by_role("button", name="Turn off notification e-mails").tap()
    expect(phone.locator("#unsubscribed")).to_contain_text("no more notification e-mails")
    phone.goto("/settings#notifications")
    expect(email_choice(phone).get_by_label("Never")).to_be_checked()
