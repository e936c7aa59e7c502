"""The company is a setting: COMPANY_NAME, COMPANY_LOGO_URL and COMPANY_COLOR reach the pages,
the manifest, the staff badges (on the page and in live frames), and no template names the
demo company."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.app import create_app
from server.demo import DEMO_COMPANY, demo_settings
from server.models import Role
from server.settings import DEFAULT_COMPANY, Settings, load_settings
from server.templating import TEMPLATE_DIR
from tests.conftest import PASSWORD, login, make_settings

pytestmark = pytest.mark.usefixtures("fast_passwords")

ACME = "Acme Energie & Wasser"
PLUM = "#7a1f5c"
LOGO = "/static/acme-logo.svg"
WEBER, JAN = "weber@example.org", "jan@acme.example"


@pytest.fixture
def acme(sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(sqlite_url, tmp_path, company_name=ACME, company_color=PLUM,
                             company_logo_url=LOGO)  # fmt: skip
    with TestClient(create_app(settings), base_url="http://testserver") as c:
        yield c


def test_no_template_names_the_demo_company() -> None:
    named = [p.name for p in TEMPLATE_DIR.glob("*.html") if "Nordlicht" in p.read_text()]
    assert named == []


def test_the_pages_and_the_manifest_show_the_configured_company_and_colour(
    acme: TestClient,
) -> None:
    page = acme.get("/login").text
    assert "Customers and staff of Acme Energie &amp; Wasser, in one conversation." in page
    assert f'<meta name="theme-color" content="{PLUM}">' in page
    assert f"--brand:{PLUM};" in page
    assert f'<img src="{LOGO}" alt="">' in page
    assert '<span class="brand-name">Acme Energie &amp; Wasser</span>' in page
    assert "staff of Acme Energie &amp; Wasser in one conversation" in page  # description
    german = acme.get("/login", headers={"Accept-Language": "de"}).text
    assert "Kundschaft und Team von Acme Energie &amp; Wasser" in german

    manifest = acme.get("/manifest.webmanifest").json()
    assert manifest["theme_color"] == PLUM
    assert ACME in manifest["description"]


def test_the_staff_badge_names_the_company_on_the_page_and_in_live_frames(
    acme: TestClient,
) -> None:
    for email, name, role in ((WEBER, "Gisela Weber", Role.CUSTOMER),
                              (JAN, "Jan Petersen", Role.EMPLOYEE)):  # fmt: skip
        acme.portal.call(create_user, email, name, PASSWORD, role, "Field")  # type: ignore[union-attr]
    r = acme.post("/api/v1/tokens", json={"email": WEBER, "password": PASSWORD})
    weber = {"Authorization": f"Bearer {r.json()['token']}", "Accept-Language": "en"}
    r = acme.post("/api/v1/tokens", json={"email": JAN, "password": PASSWORD})
    jan = {"Authorization": f"Bearer {r.json()['token']}"}
    r = acme.post("/api/v1/threads", headers=weber,
                  json={"title": "Meter", "body": "Hello", "client_id": "w-1"})  # fmt: skip
    thread = r.json()["thread"]["id"]
    title = 'title="Employee of Acme Energie &amp; Wasser"'
    with acme.websocket_connect("/ws", headers=weber) as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_json({"type": "subscribe", "thread": thread, "since": None})
        assert ws.receive_json()["type"] == "subscribed"
        acme.post(f"/api/v1/threads/{thread}/messages", headers=jan,
                  json={"body": "On my way", "client_id": "j-1"})  # fmt: skip
        frame = ws.receive_json()
        while frame["type"] != "event":  # notices about the thread may come first
            frame = ws.receive_json()
        assert frame["name"] == "message.created" and title in frame["html"]
    login(acme, WEBER)
    assert title in acme.get(f"/threads/{thread}").text


def test_a_neutral_name_by_default_and_the_demo_company_for_the_demo(tmp_path: Path) -> None:
    plain = Settings()
    assert plain.company == DEFAULT_COMPANY == "Dreiklang"
    assert plain.accent_color == plain.theme_color
    assert demo_settings(plain).company == DEMO_COMPANY == "Stadtwerke Nordlicht"
    named = plain.with_overrides(company_name=ACME)
    assert demo_settings(named).company == ACME, "an explicit COMPANY_NAME wins in the demo too"


def test_company_settings_are_read_and_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setenv("COMPANY_NAME", f" {ACME} ")
    monkeypatch.setenv("COMPANY_COLOR", "#7A1F5C")
    monkeypatch.setenv("COMPANY_LOGO_URL", "https://acme.example/logo.png")
    settings = load_settings()
    assert (settings.company, settings.accent_color, settings.company_logo_url) == (
        ACME,
        PLUM,
        "https://acme.example/logo.png",
    )
    for colour, reason in (("red", "like #1f6f5c"), ("#12345", "like #1f6f5c"),
                           ("#ffdd00", "too light")):  # fmt: skip
        monkeypatch.setenv("COMPANY_COLOR", colour)
        with pytest.raises(ValueError, match=reason):
            load_settings()
    monkeypatch.setenv("COMPANY_COLOR", "#000")
    monkeypatch.setenv("COMPANY_LOGO_URL", "javascript:alert(1)")
    with pytest.raises(ValueError, match="COMPANY_LOGO_URL"):
        load_settings()
