"""Ideas in a real Chromium on phones: a customer submits an idea; others vote from its page and
from the board, and every open board and idea page shows the new count at once; the roadmap
stacks its columns on a phone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.test_browser import (  # noqa: F401 - fixtures used by name
    DESK,
    JAN,
    PHONE,
    SCREENSHOTS,
    TOM,
    WEBER,
    Screens,
    no_horizontal_overflow,
    screens,
    server,
    signed_in,
    wait_subscribed,
)
from tests.test_layout import measure
from tests.test_pwa import axe_script, axe_violations  # noqa: F401 - a fixture used by name

pytestmark = pytest.mark.browser

TITLE = "Zählerstand per Foto melden"


def listening(page: Page) -> None:
    """Wait until the page's socket says hello: it hears the board's notices from then on."""
    page.wait_for_function("() => window.__frames.some(f => f.type === 'hello')")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def count_of(scope: Any) -> Any:
    return scope.locator(".vote-count")


def test_a_customers_idea_gets_votes_that_every_open_board_and_idea_page_shows_live(
    screens: Screens,  # noqa: F811
) -> None:
    weber = screens.open(WEBER, PHONE)
    weber.get_by_role("link", name="Ideas").click()  # the thread list's button on a phone
    expect(weber.locator("h1")).to_have_text("Ideas")
    weber.get_by_role("link", name="New idea").click()
    weber.fill("#title", TITLE)
    weber.fill("#body", "Ein Foto vom Zähler statt Abtippen – die App liest die Zahl.")
    weber.fill("#tags", "App, meter")
    no_horizontal_overflow(weber)
    weber.get_by_role("button", name="Submit idea").click()
    weber.wait_for_url("**/threads/*")
    wait_subscribed(weber, 1)
    panel = weber.locator("#idea-panel")
    expect(count_of(panel)).to_have_text("0")
    expect(panel.locator(".chip.tag")).to_have_text(["#app", "#meter"])
    thread_id = weber.url.rsplit("/", 1)[1]

    tom = screens.open(TOM, PHONE)  # Tom has the board open
    tom.goto("/ideas?sort=new")
    listening(tom)
    card = tom.locator(f"#idea-{thread_id}")
    expect(card).to_contain_text(TITLE)
    expect(count_of(card)).to_have_text("0")

    jan = screens.open(JAN, DESK)  # Jan votes on the idea's page
    jan.goto(f"/threads/{thread_id}")
    wait_subscribed(jan, 1)
    jan.locator("#idea-panel button.vote").click()
    expect(jan.locator("#idea-panel button.vote")).to_have_attribute("aria-pressed", "true")
    expect(count_of(panel)).to_have_text("1")  # Weber's page, live
    expect(count_of(card)).to_have_text("1")  # Tom's board, live

    card.locator("button.vote").click()  # Tom votes from the board
    expect(card.locator("button.vote")).to_have_attribute("aria-pressed", "true")
    expect(count_of(card)).to_have_text("2")
    expect(count_of(panel)).to_have_text("2")
    expect(count_of(jan.locator("#idea-panel"))).to_have_text("2")
    # Someone else's vote changes the count, never whether this person voted.
    expect(jan.locator("#idea-panel button.vote")).to_have_attribute("aria-pressed", "true")
    expect(panel.locator("button.vote")).to_have_attribute("aria-pressed", "false")

    jan.locator("#idea-panel button.vote").click()  # Jan takes his vote back
    expect(jan.locator("#idea-panel button.vote")).to_have_attribute("aria-pressed", "false")
    expect(count_of(card)).to_have_text("1")
    expect(count_of(panel)).to_have_text("1")
    no_horizontal_overflow(weber)

    tom.goto("/ideas")
    listening(tom)
    no_horizontal_overflow(tom)
    tom.screenshot(path=str(SCREENSHOTS / "ideas-board.png"))
    # Words as one types: the board narrows to the idea.
    tom.fill("#idea-q", "fot")
    expect(tom.locator(".idea-card")).to_have_count(1)
    expect(tom.locator(".idea-card")).to_contain_text(TITLE)


def test_the_roadmap_stacks_planned_in_progress_and_done_on_a_phone(
    screens: Screens,  # noqa: F811
) -> None:
    tom = screens.open(TOM, PHONE)
    tom.get_by_role("link", name="Ideas").click()
    tom.get_by_role("link", name="Roadmap").click()
    listening(tom)
    columns = {  # the demo's staff decisions (server/demo.py IDEA_STATUSES)
        "planned": "More charging points at the harbour",
        "in_progress": "App-Erinnerung vor der Zählerablesung",
        "done": "Ökostrom-Anteil auf der Rechnung zeigen",
    }
    for status, title in columns.items():
        expect(tom.locator(f".roadmap-{status}")).to_contain_text(title)
    expect(tom.locator(".roadmap")).not_to_contain_text("Abschlag selbst")  # declined
    boxes = [tom.locator(f".roadmap-{s}").bounding_box() for s in columns]
    tops = [box["y"] for box in boxes if box is not None]
    assert len(tops) == 3 and tops == sorted(tops), "one column under the other on a phone"
    no_horizontal_overflow(tom)
    tom.screenshot(path=str(SCREENSHOTS / "roadmap.png"), full_page=True)


def test_the_ideas_pages_are_readable_tappable_and_accessible_on_a_phone(
    screens: Screens,  # noqa: F811
    axe_script: str,  # noqa: F811
) -> None:
    tom = screens.open(TOM, PHONE)
    found: list[str] = []
    for path in ("/ideas", "/roadmap", "/ideas/new"):
        tom.goto(path)
        found += measure(tom) + axe_violations(tom, axe_script)
    tom.goto("/ideas")
    tom.locator(".idea-card .idea-title").first.click()
    wait_subscribed(tom, 1)
    found += measure(tom) + axe_violations(tom, axe_script)
    assert found == [], "\n".join(found)
