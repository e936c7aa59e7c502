"""Push text in the device's language: with the language set to "as in the browser" (""), each
device's pushes speak the language it reported when it subscribed; a language the person chose
in Settings wins on every device.

Through the real flow (tests/test_push_flow.py): a demo server sends through pywebpush to the
local push service, which decrypts and records what each device got."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from server.actions.notifications import device_language
from tests.live import DemoTemplates
from tests.test_push_flow import (
    JAN,
    WEBER,
    Browser,
    Cast,
    Device,
    PushSite,
    exactly,
    running_site,
)

REPLY = "We swap the meter on Tuesday, 8-12."
IN_GERMAN = f"Jan Petersen (Team): {REPLY}"
IN_ENGLISH = f"Jan Petersen (staff): {REPLY}"


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, demo_templates: DemoTemplates
) -> Iterator[PushSite]:
    tmp = tmp_path_factory.mktemp("push-language")
    with running_site(f"sqlite://{tmp / 'db.sqlite3'}", tmp, demo_templates) as s:
        yield s


async def add_device(
    browser: Browser, label: str, language: str | None, header: str = "en"
) -> Device:
    """Register a subscription as notify.js does: JSON with the device's navigator.language
    (None: an older page that sent none), from a browser whose Accept-Language is `header`."""
    sub = await asyncio.to_thread(browser.site.service.subscribe, browser.site.key)
    data = {**sub.to_json(), "label": label}
    if language is not None:
        data["language"] = language
    r = await browser.http.post(
        "/push/devices", json=data,
        headers={"x-csrftoken": browser.csrf, "Accept-Language": header},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    device = Device(sub, str(r.json()["id"]), label)
    browser.devices.append(device)
    return device


async def set_language(browser: Browser, language: str) -> None:
    r = await browser.form("/settings", language=language)
    assert r.status_code == 303, r.text


def test_a_device_language_is_the_nearest_one_we_speak() -> None:
    assert device_language("de-AT") == "de"
    assert device_language("de-DE,de;q=0.9,en;q=0.5") == "de"
    assert device_language("en-GB") == "en"
    assert device_language("fr-FR") == "en"
    assert device_language("") == ""
    assert device_language(None) == ""
    assert device_language(42) == ""


async def test_each_device_gets_its_own_language_while_the_setting_follows_the_browser(
    site: PushSite,
) -> None:
    async with Cast(site) as cast:
        weber = await cast.browser(WEBER)
        await set_language(weber, "")  # "as in the browser"
        thread = await weber.start_thread("Meter swap date")
        tablet = await add_device(weber, "Tablet", "de-DE")
        laptop = await add_device(weber, "Laptop", "en-US", header="de")
        older = await add_device(weber, "Old page", None, header="de-AT,de;q=0.9")
        jan = await cast.api(JAN)

        await jan.post(thread, REPLY)
        [on_tablet] = await exactly(site, tablet, 1)
        [on_laptop] = await exactly(site, laptop, 1)
        [on_older] = await exactly(site, older, 1)
        assert on_tablet.json()["body"] == IN_GERMAN
        assert on_laptop.json()["body"] == IN_ENGLISH  # what the device said, not the header
        assert on_older.json()["body"] == IN_GERMAN  # no language sent: the browser's header


async def test_the_language_chosen_in_settings_wins_on_every_device(site: PushSite) -> None:
    async with Cast(site) as cast:
        weber = await cast.browser(WEBER)
        thread = await weber.start_thread("Meter swap date, once more")
        tablet = await add_device(weber, "Tablet", "de-DE")
        laptop = await add_device(weber, "Laptop", "en-US")
        jan = await cast.api(JAN)
        try:
            await set_language(weber, "en")
            await jan.post(thread, REPLY)
            [first] = await exactly(site, tablet, 1)
            assert first.json()["body"] == IN_ENGLISH

            await set_language(weber, "de")
            await weber.http.get(f"/threads/{thread}")  # read: the next push is one reply
            await jan.post(thread, REPLY)
            [_, second] = await exactly(site, laptop, 2)
            assert second.json()["body"] == IN_GERMAN
        finally:
            await set_language(weber, "")


async def test_subscribing_again_from_the_same_device_takes_its_new_language(
    site: PushSite,
) -> None:
    async with Cast(site) as cast:
        weber = await cast.browser(WEBER)
        await set_language(weber, "")
        thread = await weber.start_thread("Meter swap date, a third time")
        phone = await add_device(weber, "Phone", "en-GB")
        # The person switched the phone to German and turned notifications on again.
        r = await weber.http.post(
            "/push/devices", json={**phone.sub.to_json(), "language": "de-DE"},
            headers={"x-csrftoken": weber.csrf},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        jan = await cast.api(JAN)
        await jan.post(thread, REPLY)
        [push] = await exactly(site, phone, 1)
        assert push.json()["body"] == IN_GERMAN
