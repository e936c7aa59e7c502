"""Spaces in a real Chromium on a phone (390×844): an employee finds the company's space from
the thread list, reads Mira's post and comments on it; the comment is live for Mira."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401 - fixtures used by name
    DESK,
    JAN,
    PHONE,
    SCREENSHOTS,
    Screens,
    confirmed,
    no_horizontal_overflow,
    screens,
    server,
    signed_in,
    wait_subscribed,
)

pytestmark = pytest.mark.browser

MIRA = "mira@nordlicht.example"
POST = "Smart-Meter-Rollout startet am 1. Dezember"


def test_an_employee_reads_a_post_in_the_company_space_and_comments_live(
    screens: Screens,  # noqa: F811
) -> None:
    jan = screens.open(JAN, PHONE)
    jan.locator(".list-head").get_by_role("link", name="Spaces").tap()
    jan.get_by_role("link", name="Nordlicht intern").tap()
    expect(jan.locator("h1")).to_have_text("Nordlicht intern")
    expect(jan.get_by_role("button", name="Leave")).to_be_visible()  # the demo: he joined
    no_horizontal_overflow(jan)
    jan.screenshot(path=str(SCREENSHOTS / "phone-space.png"))
    post = jan.locator(".hit-post", has_text=POST)
    expect(post).to_contain_text("Announcement")
    post.tap()
    wait_subscribed(jan, 1)
    expect(jan.locator("#messages")).to_contain_text("fotografiert beim Ausbau")

    mira = screens.open(MIRA, DESK)
    mira.goto(jan.url)
    wait_subscribed(mira, 1)
    jan.locator("#body").fill("Machen wir – Fotos kommen in die App.")
    jan.locator("#composer button[type=submit]").tap()
    confirmed(jan, "Fotos kommen in die App")
    confirmed(mira, "Fotos kommen in die App")
