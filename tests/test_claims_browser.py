""" "I'm answering" in a real Chromium: Jan claims a customer's question on his phone; Mira, at
her desk, sees it live and is warned when she starts writing; the customer sees nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_browser import DESK, JAN, OUTAGE, WEBER, open_thread, thread_id
from tests.test_pwa import Devices

pytestmark = pytest.mark.browser

MIRA = "mira@nordlicht.example"


@pytest.fixture
def devices(own_server_devices: Devices) -> Devices:
    return own_server_devices  # a demo server of its own (tests/conftest.py)


def test_a_claim_made_on_a_phone_shows_live_at_a_colleagues_desk_and_never_to_the_customer(
    devices: Devices,
) -> None:
    jan = devices.open(JAN)
    tid = thread_id(jan, OUTAGE)
    mira = devices.open(MIRA, DESK)
    customer = devices.open(WEBER)
    for page in (jan, mira, customer):
        open_thread(page, tid)
    expect(customer.locator("#claim")).to_have_count(0)

    claim = jan.get_by_role("button", name="I'm answering")
    expect(claim).to_be_visible()
    box = claim.bounding_box()
    assert box and box["height"] >= 44, "big enough to tap"
    claim.click()
    expect(jan.locator("#claim")).to_contain_text("Jan Petersen is answering")
    expect(jan.get_by_role("button", name="Release")).to_be_visible()

    expect(mira.locator("#claim")).to_contain_text("Jan Petersen is answering")
    # Her thread list beside it (a desk) says so too, live; the customer's list never does.
    expect(mira.locator(f"#t-{tid}")).to_contain_text("Jan Petersen is answering")
    assert "Jan Petersen is answering" not in customer.content()
    expect(mira.get_by_role("button", name="Release")).to_be_hidden()  # not hers to release
    mira.locator("#body").fill("Ich schaue mir das an")
    expect(mira.locator("#claim-warning")).to_be_visible()
    expect(mira.locator("#claim-warning")).to_contain_text("may cross")

    # Jan answers in public: the claim ends for everyone, the warning goes.
    jan.locator("#body").fill("Der Zähler ist getauscht, Frau Weber.")
    jan.get_by_role("button", name="Send").click()
    expect(mira.get_by_role("button", name="I'm answering")).to_be_visible()
    mira.locator("#body").press_sequentially("!")
    expect(mira.locator("#claim-warning")).to_be_hidden()
    expect(customer.locator("#messages")).to_contain_text("Der Zähler ist getauscht")
    assert "is answering" not in customer.content()
