"""The app starts with its real lifespan and serves a health check and the sign-in page."""

from __future__ import annotations

from starlette.testclient import TestClient


def test_health_check_answers_ok_when_the_database_answers(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_sign_in_page_is_served_in_german_for_a_german_browser(client: TestClient) -> None:
    r = client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert r.status_code == 200
    assert '<html lang="de">' in r.text
