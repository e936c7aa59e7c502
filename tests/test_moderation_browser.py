"""Moderation in a real Chromium, on phones (390×844): a customer flags a message she finds
abusive; the moderator's phone gets a push from the local push service; tapping it opens the
item in the review queue; the moderator hides it, and it vanishes from the customer's open page
at once — no frame, replay or page ever shows its text to her again."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.live import LiveServer
from tests.pushservice import PushService
from tests.test_browser import OUTAGE, SCREENSHOTS, TOM, WEBER, api_post, thread_id
from tests.test_push_browser import (  # noqa: F401 - fixtures used by name
    CLICK,
    PUSH_WAIT_SECONDS,
    Phones,
    WorkerProbe,
    phones,
    push_service,
    server,
    sessions,
    turn_on,
)

pytestmark = pytest.mark.browser

AYLIN = "aylin@nordlicht.example"  # the demo company's moderator
RUDE = "Ihr seid doch alle unfähig, ihr Betrüger!"


def test_a_customer_flags_the_moderator_is_pushed_taps_hides_and_the_text_vanishes_live(
    phones: Phones,  # noqa: F811 (fixtures)
    server: LiveServer,  # noqa: F811
    push_service: PushService,  # noqa: F811
) -> None:
    moderator = phones.open(AYLIN, "/settings")
    sub = turn_on(moderator, phones)

    customer = phones.open(WEBER, "/threads")
    tid = thread_id(customer, OUTAGE)
    mid = api_post(server, server.token(TOM), tid, RUDE)
    customer.goto(f"/threads/{tid}")
    expect(customer.locator("#conn")).to_have_attribute("data-state", "live")
    rude = customer.locator(f"#msg-{mid}")
    expect(rude).to_contain_text(RUDE)

    # She flags it: a tap on ⚑ (big enough for a finger), a reason, send.
    flag = rude.locator(".flag-button")
    box = flag.bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 44, "the flag is big enough to tap"
    flag.tap()
    form = customer.locator(f"#flag-message-{mid}")
    form.get_by_label("Abusive or insulting").check()
    form.scroll_into_view_if_needed()
    customer.screenshot(path=str(SCREENSHOTS / "phone-flag.png"))
    form.get_by_role("button", name="Flag for moderators").tap()
    expect(customer.locator(".flag-done")).to_contain_text("A moderator will look at it")
    # Her own messages offer no flag (a shared fragment hides it from its author).
    own = api_post(server, server.token(WEBER), tid, "Bei mir ist auch kein Strom.")
    expect(customer.locator(f"#msg-{own}")).to_be_visible()
    expect(customer.locator(f"#msg-{own} .flag-button")).to_be_hidden()

    # The moderator's phone gets the alert from the push service, with where it leads.
    (received,) = push_service.wait_for(sub, 1, PUSH_WAIT_SECONDS)
    note = received.json()
    assert note["kind"] == "moderation"
    assert note["url"] == f"/moderation?thread={tid}"
    assert received.headers["Urgency"] == "high"
    assert RUDE not in json.dumps(note), "a push shows no flagged text on a lock screen"

    # A tap on the notification opens the item in the queue.
    probe = WorkerProbe.attach(moderator, server.url)
    probe.deliver(received.text)  # what the push service hands the phone, byte for byte
    calls = probe.worker.evaluate(CLICK, note["tag"])
    moderator.wait_for_url(server.url + note["url"])
    assert calls["opened"] == [] and calls["focused"], calls
    item = moderator.locator(".review", has_text=RUDE)
    expect(item).to_be_visible()
    expect(item.locator(".reports")).to_contain_text("Gisela Weber")
    expect(item.locator(".reports")).to_contain_text("Abusive or insulting")
    expect(item.locator(".author-history")).to_contain_text("Tom")
    moderator.screenshot(path=str(SCREENSHOTS / "moderation-queue.png"))

    # She hides it with the reason the author will see; the customer's page loses it at once.
    item.get_by_label("Reason the author sees").select_option("abusive")
    item.get_by_role("button", name="Hide").tap()
    expect(item).to_have_count(0)
    expect(rude).to_contain_text("A moderator hid this: Abusive or insulting")
    expect(rude).not_to_contain_text(RUDE)
    customer.reload()
    expect(customer.locator(f"#msg-{mid}")).to_contain_text("A moderator hid this")
    assert RUDE not in customer.content(), "a hidden text never comes back on reload"

    # Staff still can read it, on demand.
    moderator.goto(f"/threads/{tid}")
    hidden = moderator.locator(f"#msg-{mid}")
    expect(hidden).not_to_contain_text(RUDE)
    hidden.get_by_role("button", name="Show the hidden text (staff only)").tap()
    expect(hidden).to_contain_text(RUDE)

    # The audit log says who did it, when and why.
    moderator.goto("/moderation/audit")
    expect(moderator.locator("table.audit tbody tr").first).to_contain_text("Aylin Kaya")
    expect(moderator.locator("table.audit tbody tr").first).to_contain_text("hidden")
