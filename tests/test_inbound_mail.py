"""Reading arrived mail (server/mail/inbound.py): the new text only, from real clients' replies
in English and German; machines told apart from people; trusted relays' verdicts only."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from server.mail.inbound import read_mail, strip_reply
from server.mail.inbound_text import html_to_text, unflow

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
RELAY = "mx.nordlicht.example"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


NEW_TEXT = {
    "gmail_en.eml": "Thanks, that worked! The meter now shows 4711 kWh.\n\n"
    "I'll send a photo tomorrow.",
    "gmail_de.eml": "Hallo Herr Petersen,\n\nder Zähler zeigt jetzt 4711 kWh. Vielen Dank für die "
    "schnelle Hilfe!",
    "outlook_de.eml": "Guten Abend,\n\ndie Abbuchung vom 1. Dezember ist tatsächlich doppelt. "
    "Bitte erstatten Sie einen Betrag.",
    "outlook_en.eml": "It restarted twice more this evening, both times around 8 pm.\n"
    "Is there a log I can send you?",
    "iphone_de.eml": "Passt, danke! Ich bin ab 14 Uhr zu Hause.",
    "iphone_en.eml": "Tuesday works for me.",
    "thunderbird_de.eml": "Guten Abend,\n\nich habe den Zähler noch einmal abgelesen: Er zeigt "
    "4711 kWh, also genau das, was auf der Rechnung steht. Damit ist alles geklärt.",
    "thunderbird_en.eml": "Hi Jan,\n\n- Tuesday is fine\n- please ring twice, the bell is broken",
    "html_only.eml": "The new meter is here <https://example.org/photo>.\n\nSecond paragraph",
}


@pytest.mark.parametrize("name", sorted(NEW_TEXT))
def test_a_real_clients_reply_is_read_as_its_new_text_only(name: str) -> None:
    mail = read_mail(fixture(name), "someone@example.org", ["reply+x@reply.example.com"])
    assert mail.automatic == ""
    assert mail.text == NEW_TEXT[name]
    assert mail.message_id and mail.from_address


def test_the_sender_subject_and_language_are_read() -> None:
    mail = read_mail(fixture("outlook_de.eml"), "max.mustermann@firma.example", ["X@Y.example"])
    assert (mail.from_name, mail.from_address) == ("Max Mustermann", "max.mustermann@firma.example")
    assert mail.title == "Neue Antwort: Rechnung doppelt abgebucht"  # without "AW: "
    assert mail.language == "de"
    assert mail.recipients == ("x@y.example",)
    assert read_mail(fixture("outlook_en.eml"), "a@b.example", []).language == "en"
    assert read_mail(fixture("gmail_en.eml"), "a@b.example", []).language == ""


def test_a_redelivered_mail_has_the_same_client_id() -> None:
    first = read_mail(fixture("gmail_en.eml"), "weber@example.org", ["r@x.example"])
    again = read_mail(b"Received: from relay2\r\n" + fixture("gmail_en.eml"), "", [])
    other = read_mail(fixture("gmail_de.eml"), "weber@example.org", ["r@x.example"])
    assert first.client_id == again.client_id != other.client_id
    assert len(first.client_id) <= 64 and first.client_id.isascii()


AUTOMATIC = {
    "out_of_office_de.eml": "Auto-Submitted: auto-replied",
    "vacation_precedence.eml": "Precedence: bulk",
    "x_autoreply.eml": "X-Autoreply header",
    "bounce_dsn.eml": "Auto-Submitted: auto-replied",
    "bounce_plain_daemon.eml": "sent by 'postmaster@example.org'",
}


@pytest.mark.parametrize("name", sorted(AUTOMATIC))
def test_auto_replies_and_bounces_are_known_as_automatic(name: str) -> None:
    mail = read_mail(fixture(name), "someone@example.org", ["reply+x@reply.example.com"])
    assert mail.automatic == AUTOMATIC[name]
    assert mail.text == ""  # never read for posting


def test_a_null_sender_and_a_delivery_report_are_automatic() -> None:
    assert read_mail(fixture("gmail_en.eml"), "<>", []).automatic == "null sender (a bounce)"
    assert read_mail(fixture("gmail_en.eml"), "", []).automatic == "null sender (a bounce)"
    report = (
        b"From: Mail System <mail@example.org>\r\nSubject: Returned\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\ncould not deliver\r\n--b\r\n"
        b"Content-Type: message/delivery-status\r\n\r\nAction: failed\r\n--b--\r\n"
    )
    assert "delivery report" in read_mail(report, "mail@example.org", []).automatic
    no = fixture("gmail_en.eml").replace(b"MIME-Version", b"Auto-Submitted: no\r\nMIME-Version")
    assert read_mail(no, "weber@example.org", []).automatic == ""


def _with_results(*headers: str) -> bytes:
    added = "".join(f"Authentication-Results: {h}\r\n" for h in headers)
    return added.encode() + fixture("gmail_en.eml")


@pytest.mark.parametrize(
    ("header", "trusted"),
    [
        (f"{RELAY}; dkim=pass header.d=example.org header.s=s1; spf=fail", True),
        (f"{RELAY} 1; spf=pass (sender SPF authorized) smtp.mailfrom=weber@example.org", True),
        (f"{RELAY}; dmarc=pass (p=none) header.from=example.org", True),
        (f"{RELAY}; dkim=pass header.d=mail.example.org", True),  # relaxed alignment
        (f"{RELAY}; dkim=pass header.d=evil.example", False),  # signed, but by someone else
        (f"{RELAY}; spf=pass smtp.mailfrom=bounce@evil.example", False),
        (f"{RELAY}; dkim=fail header.d=example.org; spf=softfail smtp.mailfrom=example.org", False),
        (f"{RELAY}; none", False),
        ("mx.evil.example; dkim=pass header.d=example.org", False),  # not our relay
    ],
)
def test_only_the_trusted_relay_vouches_for_a_sender(header: str, trusted: bool) -> None:
    mail = read_mail(_with_results(header), "weber@example.org", [], RELAY)
    assert mail.authenticated is trusted
    assert read_mail(_with_results(header), "weber@example.org", [], "").authenticated is False


def test_a_forged_verdict_below_the_relays_own_counts_for_nothing() -> None:
    relay = f"{RELAY}; dkim=fail header.d=example.org; spf=fail smtp.mailfrom=example.org"
    forged = f"{RELAY}; dkim=pass header.d=example.org"
    assert read_mail(_with_results(relay, forged), "a@b.example", [], RELAY).authenticated is False


def test_html_is_sanitised_as_messages_are() -> None:
    text = html_to_text(
        '<p onclick="x()">Hi <script>alert(1)</script><style>p{}</style>there</p>'
        '<a href="javascript:alert(1)">click</a><br><img src=x onerror=alert(1)>'
        "<blockquote>quoted<blockquote>twice</blockquote></blockquote>"
    )
    assert "alert" not in text and "script" not in text and "p{}" not in text
    assert text == "Hi there\nclick\n\n> quoted\n> > twice"


def test_flowed_text_is_joined_into_paragraphs() -> None:
    assert unflow("one \ntwo\n> a \n> b\n-- \nsig") == "one two\n> a b\n-- \nsig"
    assert unflow("ab\ncd", delsp=True) == "ab\ncd"
    assert unflow("long \n word", delsp=True) == "longword"


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("Yes.\n\nSent from my iPhone", "Yes."),
        ("Ja.\n\nVon meinem iPhone gesendet", "Ja."),
        ("Ja.\n\nGesendet von meinem Samsung Galaxy", "Ja."),
        ("Ja.\n-- \nMax", "Ja."),
        ("Ok\n\n-----Ursprüngliche Nachricht-----\nVon: A\nGesendet: B\nAn: C\n\nalt", "Ok"),
        ("Ok\n\nVon: Dreiklang <a@b.example>\nGesendet: Montag\nAn: C\nBetreff: D\n\nalt", "Ok"),
        ("Ok\n\nAm Mo., 7. Dez. 2026 um 10:00 Uhr schrieb Dreiklang <a@b.example>:\n> alt", "Ok"),
        ("Ok\n\nOn Mon, Dec 7, 2026 at 10:00 AM Dreiklang <a@b.example> wrote:\n> old", "Ok"),
        ("A list:\n- one\n- two", "A list:\n- one\n- two"),  # not a signature
        ("> only a quote\nmy answer", "my answer"),
    ],
)
def test_quotes_signatures_and_footers_are_cut(text: str, new: str) -> None:
    assert strip_reply(text) == new


def test_attachments_are_found_and_the_text_part_is_not_one() -> None:
    msg = EmailMessage()
    msg["From"] = "Gisela Weber <weber@example.org>"
    msg["Subject"] = "Re: meter"
    msg["Message-ID"] = "<photo-1@example.org>"
    msg.set_content("Here is the photo.\n")
    msg.add_attachment(b"\x89PNG fake", maintype="image", subtype="png", filename="meter.png")
    mail = read_mail(msg.as_bytes(), "weber@example.org", [])
    assert mail.text == "Here is the photo."
    assert [(a.name, a.content_type, a.data) for a in mail.attachments] == [
        ("meter.png", "image/png", b"\x89PNG fake")
    ]


def test_a_mail_without_a_single_from_has_no_sender() -> None:
    raw = fixture("gmail_en.eml").replace(
        b"From: Gisela Weber <weber@example.org>", b"From: a@b.example, c@d.example"
    )
    assert read_mail(raw, "a@b.example", []).from_address == ""
    raw = fixture("gmail_en.eml").replace(b"From: Gisela Weber <weber@example.org>\n", b"")
    assert read_mail(raw, "a@b.example", []).from_address == ""


@pytest.mark.parametrize(
    "text",
    [
        ("word " * 30 + "\n") * 5000 + "\nOn Mon, Dec 7, 2026 Dreiklang wrote:\n> old\n",
        "On " + "x " * 100_000,  # one long line that starts like a quote header
        ("On " + "x " * 148 + "\n") * 2000,
        ("Am " + "x " * 148 + "\n") * 2000,
    ],
)
def test_odd_or_huge_text_is_read_quickly(text: str) -> None:
    import time

    started = time.monotonic()
    strip_reply(text)
    assert time.monotonic() - started < 2


def test_a_long_paragraph_survives_whole() -> None:
    paragraph = "word " * 200
    text = f"Hi,\n\n{paragraph}\n\nOn Mon, Dec 7, 2026 Dreiklang <a@b.example> wrote:\n> old\n"
    assert strip_reply(text) == f"Hi,\n\n{paragraph.strip()}"
