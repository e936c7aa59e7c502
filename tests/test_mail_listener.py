"""The inbound mail listener (server/mail_listener.py) end to end: a real SMTP (and LMTP)
listener on a free port in the app's own event loop, mail sent with Python's smtplib as a
mail client's server would, and the post read back through the HTTP API."""

from __future__ import annotations

import dataclasses
import smtplib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.inbound_mail import Outcome, Received
from server.actions.threads import start_thread
from server.app import create_app
from server.mail.replyaddr import reply_address
from server.mail_listener import MailListener, open_listener, smtp_reply, split_listen
from server.models import Role, Thread, User
from tests.conftest import PASSWORD, make_settings
from tests.test_api import token_for

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
WEBER = "weber@example.org"
SUPPORT = "support@nordlicht.example"


def crlf(raw: bytes) -> bytes:
    """Return a mail with CRLF line ends, as it travels over SMTP."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@dataclasses.dataclass
class Site:
    client: TestClient
    listener: MailListener
    thread: Thread
    weber: User
    address: str  # Weber's reply address for her thread

    def call(self, fn: Any, *args: Any) -> Any:
        return self.client.portal.call(fn, *args)  # type: ignore[union-attr]

    def messages(self) -> list[dict[str, Any]]:
        r = self.client.get(
            f"/api/v1/threads/{self.thread.id}/messages", headers=token_for(self.client, WEBER)
        )
        assert r.status_code == 200, r.text
        return list(r.json()["messages"])

    def smtp(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.listener.port, timeout=30)


def _site(database_url: str, tmp_path: Path, **extra: Any) -> Iterator[Site]:
    settings = make_settings(
        database_url, tmp_path, mail_reply_domain="reply.nordlicht.example",
        mail_support_address=SUPPORT, mail_max_mb=0.2, **extra,
    )  # fmt: skip
    app = create_app(settings)
    with TestClient(app, base_url="http://testserver") as client:
        assert client.portal is not None
        publisher = app.state.publisher
        weber = client.portal.call(create_user, WEBER, "Gisela Weber", PASSWORD, Role.CUSTOMER, "")
        thread, _, _ = client.portal.call(
            start_thread, publisher, weber, "Meter reading", "It shows 0815.", "q1"
        )
        listening = dataclasses.replace(settings, mail_listen="127.0.0.1:0")
        listener = client.portal.call(open_listener, listening, publisher, app.state.storage)
        assert listener is not None
        try:
            yield Site(
                client, listener, thread, weber, reply_address(settings, weber.id, thread.id)
            )
        finally:
            client.portal.call(listener.close)


@pytest.fixture
def site(database_url: str, tmp_path: Path, fast_passwords: None) -> Iterator[Site]:
    yield from _site(database_url, tmp_path)


def test_a_mail_clients_reply_appears_in_the_thread_with_only_its_new_text(site: Site) -> None:
    raw = crlf((FIXTURES / "gmail_en.eml").read_bytes().replace(b"REPLY_ADDRESS",
                                                                site.address.encode()))  # fmt: skip
    with site.smtp() as smtp:
        smtp.ehlo("mail-wr1-f41.google.com")
        refused = smtp.sendmail(WEBER, [site.address.upper()], raw)
    assert refused == {}
    last = site.messages()[0]  # newest first
    assert last["author"]["id"] == site.weber.id
    assert last["body"] == (
        "Thanks, that worked! The meter now shows 4711 kWh.\n\nI'll send a photo tomorrow."
    )
    assert "wrote" not in last["html"] and "Lindenstra" not in last["html"]
    with site.smtp() as smtp:  # the sending server tries again: stored once
        smtp.sendmail(WEBER, [site.address], raw)
    assert len(site.messages()) == 2


def test_unknown_recipients_are_refused_before_any_data(site: Site) -> None:
    with site.smtp() as smtp, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        smtp.sendmail(WEBER, ["someone@example.com", "reply+abc@reply.nordlicht.example"], b"x")
    codes = {code for code, _ in refused.value.recipients.values()}
    assert codes == {550}


def test_a_reply_from_another_address_is_refused_with_a_reason(site: Site) -> None:
    fixture = (FIXTURES / "iphone_en.eml").read_bytes()
    raw = crlf(fixture.replace(b"REPLY_ADDRESS", site.address.encode()))
    with site.smtp() as smtp, pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("tom.baker@example.net", [site.address], raw)
    assert refused.value.smtp_code == 550
    assert b"tom.baker@example.net" in refused.value.smtp_error
    assert len(site.messages()) == 1


def test_auto_replies_are_accepted_and_do_nothing(site: Site) -> None:
    raw = crlf((FIXTURES / "out_of_office_de.eml").read_bytes())
    with site.smtp() as smtp:
        assert smtp.sendmail(WEBER, [site.address], raw) == {}
        assert smtp.sendmail("", [site.address], raw) == {}  # a bounce: MAIL FROM:<>
    assert len(site.messages()) == 1


def test_too_large_a_mail_is_refused_by_size(site: Site) -> None:
    raw = crlf(b"From: weber@example.org\nSubject: big\n\n" + b"x" * 70 + b"\n") * 4000
    with site.smtp() as smtp:
        smtp.ehlo()
        assert smtp.has_extn("size")
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail(WEBER, [site.address], raw)
    assert refused.value.smtp_code == 552


def test_lmtp_delivers_a_reply_too(database_url: str, tmp_path: Path, fast_passwords: None) -> None:
    for site in _site(database_url, tmp_path, mail_lmtp=True):
        raw = crlf((FIXTURES / "thunderbird_de.eml").read_bytes().replace(
            b"REPLY_ADDRESS", site.address.encode()))  # fmt: skip
        with smtplib.LMTP("127.0.0.1", site.listener.port) as lmtp:
            assert lmtp.sendmail(WEBER, [site.address], raw) == {}
        assert site.messages()[0]["body"].startswith("Guten Abend,\n\nich habe den Zähler")


def test_mail_listen_is_read_as_host_and_port() -> None:
    assert split_listen("127.0.0.1:2525") == ("127.0.0.1", 2525)
    assert split_listen("[::1]:24") == ("::1", 24)
    assert split_listen(":25") == ("0.0.0.0", 25)
    for bad in ("localhost", "host:port", "host:70000"):
        with pytest.raises(ValueError, match=repr(bad)):
            split_listen(bad)


def test_each_outcome_has_its_smtp_reply() -> None:
    assert smtp_reply(Received(Outcome.POSTED)).startswith("250 ")
    assert smtp_reply(Received(Outcome.IGNORED, "auto")).startswith("250 ")
    assert smtp_reply(Received(Outcome.TOO_LARGE, "big")).startswith("552 ")
    assert smtp_reply(Received(Outcome.DEFERRED, "too fast")).startswith("451 ")
    line = smtp_reply(Received(Outcome.REFUSED, "not for 'x@y'\r\n250 OK ü"))
    assert line.startswith("550 ") and "\r" not in line and "\n" not in line and line.isascii()


async def test_several_server_processes_may_share_the_port() -> None:
    from server.publisher import Publisher
    from server.settings import Settings
    from tests.conftest import free_port

    settings = Settings(mail_listen=f"127.0.0.1:{free_port()}")
    first = await open_listener(settings, Publisher())
    second = await open_listener(settings, Publisher())
    assert first is not None and second is not None and first.port == second.port
    await first.close()
    await second.close()


async def test_without_mail_listen_there_is_no_listener() -> None:
    from server.publisher import Publisher
    from server.settings import Settings

    assert await open_listener(Settings(), Publisher()) is None
