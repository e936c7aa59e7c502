"""Saved replies in a real Chromium: Jan saves a personal reply on his phone, types "/hello"
in a customer's thread, picks it, and the composer holds it filled in for her question."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_browser import JAN, OUTAGE, open_thread, thread_id
from tests.test_pwa import Devices

pytestmark = pytest.mark.browser


@pytest.fixture
def devices(own_server_devices: Devices) -> Devices:
    return own_server_devices  # a demo server of its own (tests/conftest.py)


def test_an_employee_saves_a_reply_and_inserts_it_filled_in_by_typing_a_slash(
    devices: Devices,
) -> None:
    jan = devices.open(JAN)
    tid = thread_id(jan, OUTAGE)

    jan.goto("/desk")
    jan.get_by_role("link", name="Saved replies").click()
    jan.fill("#reply-title", "Hello")
    jan.fill("#reply-text", "Hello {first_name}, about {title}")
    jan.get_by_role("button", name="Save reply").click()
    expect(jan.locator("#saved-replies")).to_contain_text("Hello {first_name}, about {title}")

    open_thread(jan, tid)
    thread_title = jan.locator("#thread-head h1").inner_text().strip()
    assert thread_title.startswith(OUTAGE)
    body = jan.locator("#body")
    body.press_sequentially("/hello")
    choices = jan.locator("#reply-choices")
    expect(choices).to_be_visible()
    expect(choices).to_have_attribute("role", "listbox")
    choice = choices.get_by_role("option", name="Hello")
    expect(choice).to_be_visible()
    box = choice.bounding_box()
    assert box and box["height"] >= 44, "big enough to tap"
    size = choice.evaluate("b => parseFloat(getComputedStyle(b).fontSize)")
    assert size >= 16, "readable"

    # Escape hides the list; typing again brings it back; Enter on a choice picks it.
    body.press("Escape")
    expect(choices).to_be_hidden()
    body.press_sequentially("!")
    body.press("Backspace")
    expect(choice).to_be_visible()
    choice.focus()
    choice.press("Enter")
    expect(choices).to_be_hidden()
    expect(body).to_have_value(f"Hello Gisela, about {thread_title}")
    expect(jan.locator("#messages")).not_to_contain_text("/hello")

    body.fill("")  # and a click picks one as well
    body.press_sequentially("/")
    choice.click()
    expect(choices).to_be_hidden()
    expect(body).to_have_value(f"Hello Gisela, about {thread_title}")
