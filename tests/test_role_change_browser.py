"""A role change reaches the open app: in a real Chromium, an employee demoted on the admin page
sees the staff controls go from the thread already open, without touching anything."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_browser import DESK, JAN, OUTAGE, open_thread, thread_id
from tests.test_pwa import ADMIN, Devices

pytestmark = pytest.mark.browser


@pytest.fixture
def devices(own_server_devices: Devices) -> Devices:
    return own_server_devices  # a demo server of its own (tests/conftest.py)


def test_a_demoted_employees_open_thread_loses_the_staff_controls_at_once(
    devices: Devices,
) -> None:
    jan = devices.open(JAN)
    open_thread(jan, thread_id(jan, OUTAGE))
    expect(jan.locator(".staff-ctl")).to_have_count(1)
    expect(jan.locator("body")).to_have_attribute("data-staff", "1")

    admin = devices.open(ADMIN, DESK)
    admin.goto("/admin")
    person = admin.locator("li.device", has=admin.get_by_label("Role of Jan Petersen"))
    person.get_by_label("Role of Jan Petersen").select_option("customer")
    person.get_by_role("button", name="Change role").click()
    expect(admin.locator("p.ok")).to_contain_text("The change applies at once")

    # The server closed Jan's socket; the app comes back as what Jan now is.
    expect(jan.locator("body")).to_have_attribute("data-staff", "0")
    expect(jan.locator(".staff-ctl")).to_have_count(0)
    expect(jan.locator("#conn")).to_have_attribute("data-state", "live")
    expect(jan.locator("#thread h1")).to_contain_text("Stromausfall")
