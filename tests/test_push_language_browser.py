"""The page tells the server the device's language when it turns notifications on (notify.js
sends navigator.language), so a German tablet gets German pushes even when the browser's
Accept-Language says otherwise. With the push stub and the local push service of
tests/test_push_browser.py; the server side is in tests/test_push_language.py."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests import test_push_browser
from tests.live import LiveServer
from tests.pushservice import PushService
from tests.test_browser import JAN, WEBER, api_post, thread_id
from tests.test_push_browser import ANDROID, CHARGING, PUSH_WAIT_SECONDS, Phones, turn_on

pytestmark = pytest.mark.browser

# The push fixtures: a push service, a server that may push to it, phones with the stub.
push_service, server, sessions, phones = (
    test_push_browser.push_service,
    test_push_browser.server,
    test_push_browser.sessions,
    test_push_browser.phones,
)

# The system language is German; the browser's Accept-Language (what the pages use) English.
GERMAN_TABLET: dict[str, Any] = {
    **ANDROID,
    "locale": "de-DE",
    "extra_http_headers": {"Accept-Language": "en-GB,en;q=0.9"},
}


def test_a_device_that_reports_german_gets_german_pushes(
    phones: Phones, server: LiveServer, push_service: PushService
) -> None:
    page = phones.open(WEBER, "/threads", GERMAN_TABLET)
    assert page.evaluate("navigator.language") == "de-DE"
    tid = thread_id(page, CHARGING)
    page.goto(f"/threads/{tid}")
    follow = page.locator("#follow")
    follow.get_by_role("button", name="Follow").tap()
    expect(follow).to_contain_text("You follow this thread.")  # the page is English
    sub = turn_on(page, phones)

    reply = "Vier neue Ladepunkte am Hafen sind bis zum Frühjahr geplant."
    api_post(server, server.token(JAN), tid, reply)
    (received,) = push_service.wait_for(sub, 1, PUSH_WAIT_SECONDS)
    assert received.json()["body"] == f"Jan Petersen (Team): {reply}"
