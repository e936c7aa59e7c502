"""The care desk in a real Chromium: a customer asks on her phone (390×844); Jan on his phone
and Mira at her desk (1280×800) see the question arrive in their queues live; Jan claims it,
Mira's queue shows who is answering, the customer sees only that an employee is; Jan's staff
note stays among staff, his answer reaches the customer live and leaves the queue."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.test_browser import DESK, JAN, SCREENSHOTS, WEBER, open_thread
from tests.test_pwa import Devices

pytestmark = pytest.mark.browser

MIRA = "mira@nordlicht.example"
QUESTION = "Mein Zähler zeigt Err 42"


@pytest.fixture
def devices(own_server_devices: Devices) -> Devices:
    return own_server_devices  # a demo server of its own (tests/conftest.py)


def open_desk(page: Page) -> None:
    page.goto("/desk")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def test_a_question_reaches_two_queues_live_one_employee_answers_and_the_customer_sees_it(
    devices: Devices,
) -> None:
    jan = devices.open(JAN)
    mira = devices.open(MIRA, DESK)
    customer = devices.open(WEBER)
    for page in (jan, mira):
        open_desk(page)
    waiting_before = int(mira.locator(".desk-tabs .count[data-filter=open]").inner_text())

    # The customer asks on her phone.
    customer.goto("/threads/new")
    customer.fill("#title", QUESTION)
    customer.fill("#body", "Seit heute Morgen blinkt das Display.")
    customer.get_by_role("button", name="Post").click()
    expect(customer.locator("#thread-head h1")).to_have_text(QUESTION)
    tid = customer.url.rsplit("/", 1)[1]

    # Both queues show it at once, with its waiting time and the new count.
    for page in (jan, mira):
        row = page.locator(f"#q-{tid}")
        expect(row).to_be_visible()
        expect(row.locator(".waited")).to_contain_text("min")
    expect(mira.locator(".desk-tabs .count[data-filter=open]")).to_have_text(
        str(waiting_before + 1)
    )
    box = jan.locator(f"#q-{tid} > a").bounding_box()
    assert box and box["height"] >= 44, "a queue row is big enough to tap"

    # At the desk the question opens beside the queue; on the phone it replaces it.
    assert mira.locator(f"#q-{tid} > a").get_attribute("target") == "desk-pane"
    assert jan.locator(f"#q-{tid} > a").get_attribute("target") is None

    # Jan claims it on his phone: Mira's queue says so, the customer learns only "an employee".
    open_thread(customer, tid)
    open_thread(jan, tid)
    jan.get_by_role("button", name="I'm answering").click()
    expect(mira.locator(f"#q-{tid}")).to_contain_text("Jan Petersen is answering")
    expect(customer.locator("#answering")).to_contain_text("An employee is answering")
    assert "Jan Petersen is answering" not in customer.content()
    # Jan hands it to Mira with a note: she is told at once, wherever she is in the app.
    jan.locator("#desk-panel summary").click()
    jan.locator("#assign-person").select_option(label="Mira Yilmaz")
    jan.locator("#assign-note").fill("Abrechnungsfrage?")
    jan.get_by_role("button", name="Assign").click()
    expect(jan.locator("#desk-panel summary")).to_contain_text("Mira Yilmaz")
    expect(mira.locator("#toast")).to_contain_text("Jan Petersen assigned a question to you")
    expect(mira.locator("#toast a")).to_have_text(QUESTION)
    expect(mira.locator(f"#q-{tid}")).to_contain_text("Mira Yilmaz")
    mira.locator(f"#q-{tid} > a").click()  # opens beside the queue
    pane = mira.frame_locator(".desk-pane")
    expect(pane.locator("#claim")).to_contain_text("Jan Petersen is answering")
    expect(mira).to_have_url(re.compile(r"/desk"))
    mira.screenshot(path=str(SCREENSHOTS / "desk-queue.png"))

    # A staff note looks like one before and after sending, and stays among staff.
    jan.get_by_label("Staff note").check()
    expect(jan.locator(".note-hint")).to_be_visible()
    jan.locator("#body").fill("Err 42 = Batterie, Tausch nötig.")
    jan.get_by_role("button", name="Send").click()
    note = jan.locator("#messages > li", has_text="Err 42 = Batterie")
    expect(note).to_have_class(re.compile(r"\bstaff-note\b"))
    expect(note).not_to_have_class(re.compile(r"\bpending\b"))

    # His answer reaches the customer live; the question leaves the waiting queue.
    jan.get_by_label("Reply").check()
    jan.locator("#body").fill("Frau Weber, die Batterie ist leer: wir tauschen sie morgen.")
    jan.get_by_role("button", name="Send").click()
    expect(customer.locator("#messages")).to_contain_text("wir tauschen sie morgen")
    expect(customer.locator("#thread-head .chip.status-answered")).to_be_visible()
    expect(customer.locator("#answering")).to_be_hidden()
    expect(mira.locator(f"#q-{tid}")).to_have_count(0)
    assert "Batterie, Tausch" not in customer.content(), "a staff note never reaches a customer"
