"""Reading a mail that arrived: who sent it, to whom, whether a person or a machine wrote it,
whether a trusted relay vouches for its sender, and the new text only (quotes, signatures and
mobile footers stripped; HTML sanitised as messages are, then made text).

Nothing here writes: server/actions/inbound_mail.py decides what a mail does.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from mailparser_reply.parser import EmailMessage as ReplyParser

from server.i18n import LANGUAGES
from server.mail.inbound_text import html_to_text, unflow

log = logging.getLogger(__name__)

MB = 1024 * 1024
PARSE_MAX_CHARS = 16_000  # what the reply parser reads: a post is at most 10,000 characters, and
# the quoted original starts right after it (its regexes are slow on long, odd input)
LONG_LINE = 300  # characters: longer lines are paragraphs, never a quote's header
AUTO_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}  # RFC 3834 section 2
DAEMON_LOCAL_PARTS = {"mailer-daemon", "postmaster"}
REPORT_TYPES = {"message/delivery-status", "message/disposition-notification",
                "message/feedback-report", "message/global-delivery-status"}  # fmt: skip
# Phone and app footers the reply parser does not know (its German list has only "Gesendet
# von"): one line at the end, cut with what follows.
FOOTER_RE = re.compile(
    r"^\s*(?:Sent from my \S.*|Sent from (?:Outlook|Mail|Yahoo Mail)\b.*|Get Outlook for .*"
    r"|Von meinem \S.* gesendet\.?|Gesendet von meinem \S.*|Gesendet von (?:Outlook|Mail)\b.*"
    r"|Outlook für (?:iOS|Android) beziehen.*)\s*$",
    re.IGNORECASE,
)
SIGNATURE_DELIMITER = "-- "  # RFC 3676 section 4.3
# Separators above a forwarded or quoted original that the reply parser knows only in English.
ORIGINAL_RE = re.compile(
    r"^\s*-{3,}\s*(?:Original Message|Ursprüngliche Nachricht|Originalnachricht"
    r"|Weitergeleitete Nachricht|Forwarded message)\s*-{3,}\s*$",
    re.IGNORECASE,
)
REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|antw|fwd?|wg|sv|vs)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


@dataclass(frozen=True)
class Attached:
    """A file that came with a mail (its bytes as sent)."""

    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class InboundMail:
    """What the actions need of one arrived mail."""

    sender: str  # the envelope sender (MAIL FROM), "" for a bounce (<>)
    recipients: tuple[str, ...]  # the envelope recipients (RCPT TO), lowercased
    from_address: str  # the From header's address, lowercased ("" if none)
    from_name: str  # its display name
    message_id: str
    subject: str
    text: str  # the new text only
    language: str  # from Content-Language / Accept-Language, "" if neither says
    automatic: str  # why a machine sent it (auto-reply, bounce, list), "" for a person
    authenticated: bool  # a trusted relay saw SPF or DKIM pass for the From domain
    attachments: tuple[Attached, ...] = ()

    @property
    def client_id(self) -> str:
        """Return the message's idempotency key: a redelivered mail stores once."""
        basis = self.message_id or f"{self.from_address}\n{self.subject}\n{self.text}"
        return "mail-" + hashlib.sha256(basis.encode()).hexdigest()[:40]

    @property
    def title(self) -> str:
        """Return a thread title: the subject without Re:/AW:/Fwd:, else the first line."""
        subject = REPLY_PREFIX.sub("", " ".join(self.subject.split()))
        return subject or (self.text.strip().splitlines() or [""])[0]


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


def read_mail(
    raw: bytes, sender: str, recipients: Sequence[str], trusted_authserv_id: str = ""
) -> InboundMail:
    """Parse one mail as it arrived with its envelope."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    name, address = _from(msg)
    envelope = sender.strip().strip("<>").strip()
    automatic = automatic_reason(msg, envelope, address)
    text = "" if automatic else new_text(msg)
    return InboundMail(
        sender=envelope,
        recipients=tuple(r.strip().strip("<>").lower() for r in recipients),
        from_address=address,
        from_name=name,
        message_id=_header(msg, "Message-ID"),
        subject=_header(msg, "Subject"),
        text=text,
        language=language_of(msg),
        automatic=automatic,
        authenticated=is_authenticated(msg, trusted_authserv_id, domain_of(address)),
        attachments=() if automatic else attachments_of(msg),
    )


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, IndexError, TypeError):  # a header the parser cannot make sense of
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _from(msg: EmailMessage) -> tuple[str, str]:
    """Return the display name and lowercased address of the one From, ("", "") if not one."""
    try:
        header = msg.get("From")
        addresses: Sequence[Address] = header.addresses if header is not None else ()
    except (ValueError, IndexError, TypeError, AttributeError):
        addresses = ()
    if len(addresses) != 1:
        found = getaddresses([str(msg.get("From", ""))])
        if len(found) != 1 or "@" not in found[0][1]:
            return "", ""
        return found[0][0].strip(), found[0][1].strip().lower()
    only = addresses[0]
    if not only.username or not only.domain:
        return "", ""
    return only.display_name.strip(), only.addr_spec.lower()


def automatic_reason(msg: EmailMessage, sender: str, from_address: str) -> str:
    """Tell why a machine sent this mail (RFC 3834, RFC 3464), "" if a person did."""
    if not sender:
        return "null sender (a bounce)"
    auto = _header(msg, "Auto-Submitted").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = _header(msg, "Precedence").lower()
    if precedence in AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if msg.get(name) is not None:
            return f"{name} header"
    if msg.get_content_type() == "multipart/report":
        return "delivery report (multipart/report)"
    for part in msg.walk():
        if part.get_content_type() in REPORT_TYPES:
            return f"delivery report ({part.get_content_type()})"
    for address in (sender, from_address):
        if address.partition("@")[0].lower() in DAEMON_LOCAL_PARTS:
            return f"sent by {address!r}"
    return ""


def language_of(msg: EmailMessage) -> str:
    """Return the sender's language if a header names one we offer, else ""."""
    for name in ("Content-Language", "Accept-Language", "X-Accept-Language"):
        for tag in _header(msg, name).split(","):
            primary = tag.split(";")[0].strip().replace("_", "-").split("-")[0].lower()
            if primary in LANGUAGES:
                return primary
    return ""


def is_authenticated(msg: EmailMessage, trusted_authserv_id: str, from_domain: str) -> bool:
    """Tell whether the trusted relay's Authentication-Results (RFC 8601) say the From
    domain passed: DMARC, DKIM signed by that domain, or SPF for an envelope in that domain.

    Only the topmost header with the trusted authserv-id counts: the relay adds it above
    whatever the mail carried, and anyone can write such a header into a mail they send."""
    if not trusted_authserv_id or not from_domain:
        return False
    for header in msg.get_all("Authentication-Results") or ():
        results = _parse_results(str(header))
        if results is None or results[0] != trusted_authserv_id.lower():
            continue
        return any(_aligned(method, props, from_domain) for method, props in results[1])
    return False


def _aligned(method: tuple[str, str], props: dict[str, str], from_domain: str) -> bool:
    name, result = method
    if result != "pass":
        return False
    if name == "dmarc":
        return _same_org(props.get("header.from", ""), from_domain)
    if name == "dkim":
        return _same_org(props.get("header.d", "") or props.get("header.i", ""), from_domain)
    if name == "spf":
        return _same_org(props.get("smtp.mailfrom", "") or props.get("smtp.helo", ""), from_domain)
    return False


def _same_org(value: str, from_domain: str) -> bool:
    """Relaxed alignment: the domain is the From domain or a subdomain of it (or it of them)."""
    domain = domain_of(value)
    if not domain:
        return False
    return (
        domain == from_domain
        or domain.endswith("." + from_domain)
        or (from_domain.endswith("." + domain) and domain.count(".") >= 1)
    )


_COMMENT = re.compile(r"\([^()]*\)")


def _parse_results(
    value: str,
) -> tuple[str, list[tuple[tuple[str, str], dict[str, str]]]] | None:
    """Parse `authserv-id [version]; method=result prop=value ...; ...` (comments dropped)."""
    text = " ".join(value.split())
    for _ in range(3):  # nested comments, a few levels
        text = _COMMENT.sub(" ", text)
    parts = [part.strip() for part in text.split(";")]
    if not parts or not parts[0]:
        return None
    authserv = parts[0].split()[0].lower()
    found: list[tuple[tuple[str, str], dict[str, str]]] = []
    for part in parts[1:]:
        words = part.split()
        if not words or "=" not in words[0]:
            continue
        method, _, result = words[0].partition("=")
        props = {}
        for word in words[1:]:
            key, eq, val = word.partition("=")
            if eq:
                props[key.lower()] = val.strip('"').lower()
        found.append(((method.split("/")[0].lower(), result.lower()), props))
    return authserv, found


def body_text(msg: EmailMessage) -> str:
    """Return the mail's text: its text/plain part, else its HTML sanitised and made text."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _decoded(part)
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    if _param(part, "format") == "flowed":
        text = unflow(text, delsp=_param(part, "delsp") == "yes")
    return text


def _param(part: MIMEPart, name: str) -> str:
    value = part.get_param(name, "")
    return value.lower() if isinstance(value, str) else ""


def _decoded(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown or broken charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def new_text(msg: EmailMessage) -> str:
    """Return only what the sender wrote now: no quoted mail, signature or phone footer."""
    return strip_reply(body_text(msg), language_of(msg))


def strip_reply(text: str, language: str = "") -> str:
    """Cut a reply's text to its new part (quoted text, signatures, footers removed)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")[:PARSE_MAX_CHARS]
    lines = text.split("\n")
    if SIGNATURE_DELIMITER in lines:  # everything below "-- " is the signature
        lines = lines[: lines.index(SIGNATURE_DELIMITER)]
    for index, line in enumerate(lines):
        if ORIGINAL_RE.match(line):
            lines = lines[:index]
            break
    # The parser's patterns take seconds on one long line that starts like "On …": it sees
    # a stand-in instead (no quote header is that long), and the line comes back after.
    tag = f"longline{secrets.token_hex(8)}n"
    long = {f"{tag}{i}": line.strip() for i, line in enumerate(lines) if len(line) > LONG_LINE}
    if long:
        lines = [f"{tag}{i}" if len(line) > LONG_LINE else line for i, line in enumerate(lines)]
    languages = [language] if language in LANGUAGES else []
    parsed = ReplyParser(
        text="\n".join(lines), languages=[*languages, "de", "en"], keep_hyphen_lists=True
    ).read()
    body = parsed.replies[0].body if parsed.replies else ""
    kept: list[str] = []
    for stand_in in body.split("\n"):
        line = long.get(stand_in, stand_in)
        if FOOTER_RE.match(line):
            break
        if line.startswith(">"):  # a quote left in between: not the sender's new text
            continue
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def attachments_of(msg: EmailMessage) -> tuple[Attached, ...]:
    """Return the files that came with the mail (named parts that are not its text)."""
    body = msg.get_body(preferencelist=("plain", "html"))
    found: list[Attached] = []
    for part in msg.walk():
        if part is body or part.is_multipart() or part.get_content_maintype() == "message":
            continue
        name = part.get_filename() or ""
        if not name and part.get_content_disposition() != "attachment":
            continue
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            found.append(Attached(name or "attachment", part.get_content_type(), data))
    return tuple(found)


def bare_address(address: str) -> str:
    """Return the lowercased addr-spec of an address as written in an envelope or header."""
    return parseaddr(address.strip())[1].lower()
