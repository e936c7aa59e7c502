"""The outbox, mail templates and signed tokens (server/mail/outbox.py, compose.py, tokens.py)."""

from __future__ import annotations

from typing import Any

import pytest
from tortoise.transactions import in_transaction

from server.i18n import gettext_for, localize
from server.mail.compose import render_mail
from server.mail.outbox import Mail, queue_mail
from server.mail.tokens import BadToken, sign, unsign
from server.models import OutboundMail, OutboundMailState

SECRET = "test-secret"


async def test_a_mail_is_stored_once_per_key(weber_and_jan: dict[str, Any]) -> None:
    mail = Mail(to="weber@example.org", subject="Hello", text="Hi", headers={"X-A": "1"})
    assert await queue_mail(mail, "greeting:1") is True
    assert await queue_mail(mail, "greeting:1") is False
    async with in_transaction():  # inside a transaction, the repeated key does not abort it
        assert await queue_mail(mail, "greeting:1") is False
        assert await queue_mail(mail, "greeting:2") is True
    rows = await OutboundMail.all().order_by("id")
    assert [r.key for r in rows] == ["greeting:1", "greeting:2"]
    assert rows[0].state == OutboundMailState.QUEUED
    assert rows[0].recipient == "weber@example.org" and rows[0].headers == {"X-A": "1"}


async def test_a_mail_queued_in_a_transaction_that_fails_is_not_stored(
    weber_and_jan: dict[str, Any],
) -> None:
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await queue_mail(Mail(to="a@example.org", subject="s", text="t"), "k")
            raise RuntimeError("the action failed")
    assert not await OutboundMail.exists()


async def test_a_key_that_is_empty_or_too_long_is_refused(weber_and_jan: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="key"):
        await queue_mail(Mail(to="a@example.org", subject="s", text="t"), "")
    with pytest.raises(ValueError, match="key"):
        await queue_mail(Mail(to="a@example.org", subject="s", text="t"), "k" * 201)
    with pytest.raises(ValueError, match="one address"):
        await queue_mail(Mail(to="a@example.org\nBcc: b@example.org", subject="s", text="t"), "k")


def test_a_mail_is_rendered_in_the_persons_language() -> None:
    common: dict[str, Any] = {"company": "Nordlicht", "name": "Gisela", "link": "http://x/y",
                              "minutes": 60, "base_url": "http://x"}  # fmt: skip
    english = render_mail("password_reset", "en", "w@example.org",
                          "Choose a new password for {company}", **common)  # fmt: skip
    assert english.subject == "Choose a new password for Nordlicht"
    assert "Hello Gisela," in english.text and "http://x/y" in english.text
    assert 'href="http://x/y"' in english.html and english.to == "w@example.org"
    german = render_mail("password_reset", "de", "w@example.org",
                         "Choose a new password for {company}", **common)  # fmt: skip
    hello = gettext_for("de").gettext("Hello {name},").format(name="Gisela")
    assert german.text.startswith(hello)
    assert german.subject == localize("Choose a new password for {company}",
                                      {"company": "Nordlicht"}, "de")  # fmt: skip


def test_html_in_a_name_is_escaped_in_the_html_part_only() -> None:
    mail = render_mail("password_reset", "en", "w@example.org", "Hi",
                       company="A & B", name="<b>x</b>", link="http://x", minutes=60,
                       base_url="http://x")  # fmt: skip
    assert "&lt;b&gt;x&lt;/b&gt;" in mail.html and "<b>x</b>" not in mail.html
    assert "Hello <b>x</b>," in mail.text


def test_a_token_reads_back_for_its_purpose_only() -> None:
    token = sign(SECRET, "reset", {"u": "abc"})
    assert unsign(SECRET, "reset", token, 60) == {"u": "abc"}
    with pytest.raises(BadToken):
        unsign(SECRET, "confirm", token, 60)
    with pytest.raises(BadToken):
        unsign("another-secret", "reset", token, 60)
    with pytest.raises(BadToken):
        unsign(SECRET, "reset", token[:-2] + "xx", 60)


def test_an_old_token_has_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    token = sign(SECRET, "reset", {"u": "abc"})
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(BadToken) as caught:
        unsign(SECRET, "reset", token, 60)
    assert caught.value.expired
