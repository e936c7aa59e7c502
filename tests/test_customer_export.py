"""A person's own data as a JSON download (Settings → "Download my data"): their profile,
threads, messages, ideas, votes, helpful marks and mentions, and nothing else — not other
people's posts or staff notes, and never what staff keep about them (tags, notes)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.community import mark_helpful
from server.actions.customers import note_customer, tag_customer
from server.actions.ideas import submit_idea, vote
from server.actions.messages import send_message
from server.actions.threads import start_thread
from server.app import create_app
from server.models import Audience, Role, User
from tests.conftest import NOT_LIVE, PASSWORD, login, make_settings

pytestmark = pytest.mark.usefixtures("fast_passwords")

SECRET_NOTE = "Grid: cable fault, do not tell customers yet"
PROFILE_NOTE = "Complains a lot, be patient"


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """Weber asks; Jan answers and writes a staff note; Tom replies and mentions Weber; staff
    tag Weber and keep a note about her; each votes and marks a reply helpful."""
    with TestClient(create_app(make_settings(database_url, tmp_path))) as client:

        def call(fn: Any, *args: Any) -> Any:
            return client.portal.call(fn, *args)  # type: ignore[union-attr]

        jan = call(create_user, "jan@nordlicht.example", "Jan Petersen", PASSWORD,
                   Role.EMPLOYEE, "Field service")  # fmt: skip
        weber = call(create_user, "weber@example.org", "Gisela Weber", PASSWORD, Role.CUSTOMER, "")
        tom = call(create_user, "tom@example.org", "Tom Brandt", PASSWORD, Role.CUSTOMER, "")
        thread, _, _ = call(
            start_thread, NOT_LIVE, weber, "Stromausfall", "Seit 21:40 dunkel", "w-1"
        )
        answer, _ = call(send_message, NOT_LIVE, jan, thread.id, "Wir sind dran.", "j-1")
        call(send_message, NOT_LIVE, jan, thread.id, SECRET_NOTE, "j-2", Audience.STAFF)
        call(send_message, NOT_LIVE, tom, thread.id, "@weber bei uns auch, Tom hier", "t-1")
        _, idea, _ = call(
            submit_idea, NOT_LIVE, weber, "App-Erinnerung", "Vor dem Ablesen", "", "w-2"
        )
        _, toms, _ = call(submit_idea, NOT_LIVE, tom, "Ladesäulen", "Am Hafen", "", "t-2")
        call(vote, NOT_LIVE, weber, toms.thread_id, "1")
        call(vote, NOT_LIVE, tom, idea.thread_id, "1")
        call(mark_helpful, NOT_LIVE, weber, answer.id, "1")
        call(tag_customer, NOT_LIVE, jan, weber.id, "key account")
        call(note_customer, NOT_LIVE, jan, weber.id, PROFILE_NOTE)
        yield client


def download(client: TestClient, email: str) -> dict[str, Any]:
    login(client, email)
    r = client.get("/settings/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert r.headers["content-disposition"] == (
        f'attachment; filename="dreiklang-export-{today}.json"')  # fmt: skip
    assert r.headers["cache-control"] == "private, no-store"
    data: dict[str, Any] = r.json()
    return data


def test_a_customer_downloads_her_own_data_and_nothing_staff_keep_about_her(
    site: TestClient,
) -> None:
    data = download(site, "weber@example.org")
    assert data["profile"]["name"] == "Gisela Weber" and data["profile"]["email"] == (
        "weber@example.org")  # fmt: skip
    assert data["profile"]["role"] == "customer" and data["profile"]["notifications"]["replies"]
    assert "work_hours" not in data["profile"]["notifications"], "a staff setting"
    assert [t["title"] for t in data["threads"]] == ["Stromausfall", "App-Erinnerung"]
    assert [m["body"] for m in data["messages"]] == ["Seit 21:40 dunkel", "Vor dem Ablesen"]
    assert [(i["title"], i["votes"]) for i in data["ideas"]] == [("App-Erinnerung", 1)]
    assert len(data["votes"]) == 1 and len(data["helpful"]) == 1
    assert [m["by"] for m in data["mentions"]] == ["Tom Brandt"]
    text = json.dumps(data)
    for absent in (SECRET_NOTE, PROFILE_NOTE, "key account", "Wir sind dran", "bei uns auch",
                   "tom@example.org", "jan@nordlicht.example", "password"):  # fmt: skip
        assert absent not in text, absent


def test_an_employee_gets_his_own_staff_notes_but_not_other_peoples_posts(
    site: TestClient,
) -> None:
    data = download(site, "jan@nordlicht.example")
    assert [(m["body"], m["staff_note"]) for m in data["messages"]] == [
        ("Wir sind dran.", False), (SECRET_NOTE, True)]  # fmt: skip
    assert data["threads"] == [] and data["ideas"] == [] and data["votes"] == []
    assert "work_hours" in data["profile"]["notifications"]
    text = json.dumps(data)
    for absent in ("Seit 21:40 dunkel", "weber@example.org", PROFILE_NOTE, "key account"):
        assert absent not in text, absent


def test_the_download_needs_a_sign_in_and_settings_offer_it(site: TestClient) -> None:
    r = site.get("/settings/export", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    login(site, "tom@example.org")
    page = site.get("/settings").text
    assert re.search(r'<a [^>]*href="/settings/export"[^>]*>Download my data</a>', page)
    assert "/customers/" not in page
    tom = site.portal.call(lambda: User.get(email="tom@example.org"))  # type: ignore[union-attr]
    assert download(site, "tom@example.org")["profile"]["id"] == tom.id
