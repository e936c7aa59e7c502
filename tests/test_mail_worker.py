"""The mail worker and sender against a real SMTP server (tests/mailserver.py, aiosmtpd)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.datastructures import Secret

from server.mail.outbox import Mail, queue_mail
from server.mail.sender import server_of
from server.mail.worker import MAX_ATTEMPTS, MailWorker, now, prune
from server.models import OutboundMail, OutboundMailState
from server.settings import Settings
from tests.conftest import free_port, make_settings
from tests.mailserver import MailServer, html_of, mail_server, text_of

__all__ = ["mail_server"]  # the fixture, imported for the tests below

FROM = "Nordlicht Energie <care@nordlicht.example>"


@pytest.fixture
async def db(database_url: str, tmp_path: Path) -> Any:
    from server.db import close_database, open_database

    await open_database(make_settings(database_url, tmp_path))
    yield
    await close_database()


def mail_settings(server: MailServer | None, **extra: Any) -> Settings:
    return Settings(smtp_url=server.url if server else "", mail_from=FROM, **extra)


async def test_a_queued_mail_arrives_with_both_parts_and_its_headers(
    db: None, mail_server: MailServer
) -> None:
    mail = Mail(
        to="weber@example.org", subject="Your question", text="Plain words.\n",
        html="<p>Rich words.</p>", reply_to="reply+abc@nordlicht.example",
        headers={"List-Unsubscribe": "<https://x.example/u>", "From": "evil@example.org"},
    )  # fmt: skip
    await queue_mail(mail, "q:1")
    worker = MailWorker(mail_settings(mail_server))
    assert await worker.run_once() == 1
    got = await mail_server.mail_to("weber@example.org")
    assert got["From"] == FROM and got["To"] == "weber@example.org"
    assert got["Subject"] == "Your question" and got["Auto-Submitted"] == "auto-generated"
    assert got["Reply-To"] == "reply+abc@nordlicht.example"
    assert got["List-Unsubscribe"] == "<https://x.example/u>"
    assert got["Date"] and got["Message-ID"].endswith("@nordlicht.example>")
    assert got.get_content_type() == "multipart/alternative"
    assert text_of(got).strip() == "Plain words." and "<p>Rich words.</p>" in html_of(got)
    assert mail_server.received[0].mail_from == "care@nordlicht.example"
    row = await OutboundMail.get(key="q:1")
    assert row.state == OutboundMailState.SENT and row.sent_at is not None
    assert await worker.run_once() == 0  # nothing due any more


async def test_a_plain_text_mail_has_one_part(db: None, mail_server: MailServer) -> None:
    await queue_mail(Mail(to="a@example.org", subject="s", text="only text"), "p")
    await MailWorker(mail_settings(mail_server)).run_once()
    got = await mail_server.mail_to("a@example.org")
    assert got.get_content_type() == "text/plain" and "only text" in got.get_content()


async def test_a_temporary_failure_is_retried_later_with_the_same_message_id(
    db: None, mail_server: MailServer
) -> None:
    mail_server.fail_next(451, "Greylisted, try again later")
    await queue_mail(Mail(to="a@example.org", subject="s", text="t"), "k")
    worker = MailWorker(mail_settings(mail_server))
    await worker.run_once()
    row = await OutboundMail.get(key="k")
    assert row.state == OutboundMailState.QUEUED and row.attempts == 1
    assert "451" in row.outcome and row.due_at > now() + timedelta(seconds=20)
    assert await worker.run_once() == 0  # it waits out its backoff
    await OutboundMail.filter(id=row.id).update(due_at=now())  # ... which has passed
    await worker.run_once()
    got = await mail_server.mail_to("a@example.org")
    row = await OutboundMail.get(key="k")
    assert row.state == OutboundMailState.SENT and row.attempts == 2
    assert got["Message-ID"] == f"<{row.message_id}.{row.id}@nordlicht.example>"


async def test_a_permanent_refusal_marks_the_mail_failed(db: None, mail_server: MailServer) -> None:
    mail_server.fail_next(550, "No such user here")
    await queue_mail(Mail(to="nobody@example.org", subject="s", text="t"), "k")
    await MailWorker(mail_settings(mail_server)).run_once()
    row = await OutboundMail.get(key="k")
    assert row.state == OutboundMailState.FAILED and "550 No such user here" in row.outcome
    assert not mail_server.received


async def test_a_mail_is_given_up_after_its_last_attempt_and_pruned_later(
    db: None, mail_server: MailServer
) -> None:
    await queue_mail(Mail(to="a@example.org", subject="s", text="t"), "k")
    await OutboundMail.filter(key="k").update(attempts=MAX_ATTEMPTS - 1)
    mail_server.fail_next(421, "Service not available")
    await MailWorker(mail_settings(mail_server)).run_once()
    row = await OutboundMail.get(key="k")
    assert row.state == OutboundMailState.FAILED and "421" in row.outcome
    await queue_mail(Mail(to="b@example.org", subject="s", text="t"), "waiting")
    assert await prune(now() - timedelta(days=1)) == 0  # too young
    assert await prune(now() + timedelta(seconds=1)) == 1  # the failed one, not the queued one
    assert await OutboundMail.filter(key="waiting").exists()


async def test_an_unreachable_server_is_a_temporary_failure(db: None) -> None:
    settings = Settings(smtp_url=f"smtp://127.0.0.1:{free_port()}", mail_from=FROM)
    await queue_mail(Mail(to="a@example.org", subject="s", text="t"), "k")
    await MailWorker(settings).run_once()
    row = await OutboundMail.get(key="k")
    assert row.state == OutboundMailState.QUEUED and "unreachable" in row.outcome


async def test_two_workers_never_send_one_mail_twice(db: None, mail_server: MailServer) -> None:
    for n in range(30):
        await queue_mail(Mail(to=f"p{n}@example.org", subject="s", text="t"), f"k{n}")
    settings = mail_settings(mail_server)
    workers = [MailWorker(settings) for _ in range(3)]
    while sum(await asyncio.gather(*(w.run_once() for w in workers))):
        pass
    recipients = sorted(r.rcpt_tos[0] for r in mail_server.received)
    assert recipients == sorted(f"p{n}@example.org" for n in range(30))
    assert await OutboundMail.filter(state=OutboundMailState.SENT).count() == 30


async def test_a_mail_claimed_by_a_process_that_died_is_sent_after_the_lease(
    db: None, mail_server: MailServer
) -> None:
    await queue_mail(Mail(to="a@example.org", subject="s", text="t"), "k")
    settings = mail_settings(mail_server)
    dead = MailWorker(settings, lease_seconds=0.5)
    row = await OutboundMail.get(key="k")
    assert await dead._claim(row.id, now())  # claimed, then the process died
    survivor = MailWorker(settings, lease_seconds=0.5)
    await survivor.run_once()
    assert not mail_server.received  # still leased
    await asyncio.sleep(0.6)
    await survivor.run_once()
    await mail_server.mail_to("a@example.org")


async def test_without_a_mail_server_the_mail_is_logged_and_marked_sent(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    await queue_mail(Mail(to="a@example.org", subject="Reset", text="Open http://x/y"), "k")
    with caplog.at_level(logging.INFO, logger="server.mail.worker"):
        await MailWorker(mail_settings(None)).run_once()
    assert "To: a@example.org" in caplog.text and "Open http://x/y" in caplog.text
    assert (await OutboundMail.get(key="k")).state == OutboundMailState.SENT


async def test_the_running_worker_sends_soon_after_a_wake(
    db: None, mail_server: MailServer
) -> None:
    worker = MailWorker(mail_settings(mail_server), poll_seconds=60)
    worker.start()
    try:
        await asyncio.sleep(0.1)  # its first round found nothing
        await queue_mail(Mail(to="a@example.org", subject="s", text="t"), "k")
        worker.wake()
        await mail_server.mail_to("a@example.org", timeout=5)
    finally:
        await worker.stop()


async def test_mail_goes_through_a_server_that_requires_a_login(db: None) -> None:
    with MailServer(auth=("dreiklang", "s3cret")) as server:
        good = mail_settings(server, smtp_user="dreiklang", smtp_password=Secret("s3cret"))
        await queue_mail(Mail(to="a@example.org", subject="s", text="t"), "k1")
        await MailWorker(good).run_once()
        await server.mail_to("a@example.org")
        bad = mail_settings(server, smtp_user="dreiklang", smtp_password=Secret("wrong"))
        await queue_mail(Mail(to="b@example.org", subject="s", text="t"), "k2")
        await MailWorker(bad).run_once()
        row = await OutboundMail.get(key="k2")
        assert row.state == OutboundMailState.QUEUED and "login as 'dreiklang'" in row.outcome


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_mail_goes_over_tls_when_the_server_offers_it_or_the_url_says_smtps(
    db: None, tls: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MailServer(tls=tls, cert_dir=tmp_path) as server:
        assert server.url.startswith("smtps://" if tls == "implicit" else "smtp://")
        await queue_mail(Mail(to="a@example.org", subject="s", text="t"), "untrusted")
        await MailWorker(mail_settings(server)).run_once()  # a certificate nobody vouches for
        row = await OutboundMail.get(key="untrusted")
        assert row.state == OutboundMailState.QUEUED and "CERTIFICATE_VERIFY_FAILED" in row.outcome
        monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))  # now the client trusts it
        await queue_mail(Mail(to="b@example.org", subject="s", text="t"), "trusted")
        await MailWorker(mail_settings(server)).run_once()
        await server.mail_to("b@example.org")
        assert server.tls_sessions == 1


def test_a_bad_smtp_url_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'http://mail.example'"):
        server_of("http://mail.example")
    with pytest.raises(ValueError, match="SMTP_URL"):
        MailWorker(Settings(smtp_url="mail.example:25"))
    assert server_of("smtps://mail.example").port == 465
    assert server_of("smtp://mail.example").port == 587
