"""An idea's status in a real Chromium on phones (390×844): an employee sets "Planned" with a
message from the staff controls on the idea; the author's open idea page shows the new status,
the official response and a toast at once, and her phone gets the push from the local push
service. Customers are offered no staff controls."""

from __future__ import annotations

import httpx2 as httpx
import pytest
from playwright.sync_api import expect

from tests.live import LiveServer
from tests.pushservice import PushService
from tests.test_browser import SCREENSHOTS, WEBER, no_horizontal_overflow
from tests.test_push_browser import (  # noqa: F401 - fixtures used by name
    PUSH_WAIT_SECONDS,
    Phones,
    phones,
    push_service,
    server,
    sessions,
    turn_on,
)

pytestmark = pytest.mark.browser

MIRA = "mira@nordlicht.example"  # the demo company's billing employee
DARK_MODE = "Dunkler Modus für die App"  # Frau Weber's idea, new in the demo
WORDS = "Kommt mit dem nächsten App-Update im Frühjahr."


def idea_id(live: LiveServer, title: str) -> str:
    r = httpx.get(
        f"{live.url}/api/v1/threads",
        headers={"Authorization": f"Bearer {live.token(WEBER)}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    data = r.json()
    threads = data["threads"] if isinstance(data, dict) else data
    [found] = [t["id"] for t in threads if t["title"] == title]
    return str(found)


def test_staff_set_planned_and_the_author_sees_it_live_and_gets_a_push(
    phones: Phones,  # noqa: F811 (fixtures)
    server: LiveServer,  # noqa: F811
    push_service: PushService,  # noqa: F811
) -> None:
    customer = phones.open(WEBER, "/settings")
    sub = turn_on(customer, phones)
    tid = idea_id(server, DARK_MODE)
    customer.goto(f"/threads/{tid}")
    expect(customer.locator("#conn")).to_have_attribute("data-state", "live")
    panel = customer.locator("#idea-panel")
    expect(panel.locator(".idea-status")).to_have_text("New")
    expect(customer.locator(".idea-staff")).to_have_count(0)  # no staff controls for her
    expect(customer.locator(".promote-link")).to_have_count(0)

    employee = phones.open(MIRA, f"/threads/{tid}")
    expect(employee.locator("#conn")).to_have_attribute("data-state", "live")
    controls = employee.locator(".idea-staff")
    summary = controls.locator("summary")
    box = summary.bounding_box()
    assert box and box["height"] >= 44, "the staff controls open with a finger"
    summary.tap()
    controls.get_by_label("New status").select_option("planned")
    controls.get_by_label("Message to voters and followers (optional)").fill(WORDS)
    no_horizontal_overflow(employee)
    controls.get_by_role("button", name="Set status").tap()
    expect(employee.locator("#idea-panel .idea-status")).to_have_text("Planned")

    # The author's open page: the new status, the official response, a toast with a link.
    expect(panel.locator(".idea-status")).to_have_text("Planned")
    expect(customer.locator("#official-answer")).to_contain_text(WORDS)
    expect(customer.locator("#official-answer")).to_contain_text("Status: Planned")
    toast = customer.locator("#toast")
    expect(toast).to_contain_text("is now Planned")
    expect(toast.locator("a")).to_have_text(DARK_MODE)
    no_horizontal_overflow(customer)
    customer.screenshot(path=str(SCREENSHOTS / "idea-status.png"))

    # Her phone gets the push, in her language, leading to the idea.
    (received,) = push_service.wait_for(sub, 1, PUSH_WAIT_SECONDS)
    note = received.json()
    assert note["kind"] == "idea_status"
    assert note["title"] == DARK_MODE
    assert "Planned" in note["body"]
    assert note["url"] == f"/threads/{tid}"
