"""Mail that arrives: a reply to a notification posts into its thread as that person; a mail
to the support address starts a public question. Auto-replies and bounces do nothing.

Every case ends in a `Received` the listener (server/mail_listener.py) turns into an SMTP
reply: posted/started/ignored 250, refused 550 with the reason, too large 552, over the
posting rate 451 (the sending server tries again later). A refusal writes nothing.

Who may post is decided exactly as for the socket and the API — by send_message and
start_thread — as the person the signed reply address names, and only if the mail comes from
that person's own address (a forwarded notification lets nobody else post).

Spoofing: without MAIL_REQUIRE_AUTH, the From header is all that says who wrote a mail, and
anyone can write any From. A reply address is a secret only its person's mails carry, so a
forged From alone cannot post a reply; but a mail to the support address can start a question
in a known customer's name, or make an account (and send an invitation) for any address.
Set MAIL_REQUIRE_AUTH with a relay that checks SPF/DKIM/DMARC to close that.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import anyio
from tortoise.transactions import in_transaction

from server.actions.account_mail import send_invitation
from server.actions.accounts import EMAIL_RE, NAME_MAX_CHARS, clean_name, create_user
from server.actions.attachments import Limits, data_key, keys_of, may_upload, upload
from server.actions.messages import send_message
from server.actions.sanctions import suspended
from server.actions.threads import clean_title, start_thread
from server.errors import ActionError, TooFast
from server.mail.inbound import InboundMail, read_mail
from server.mail.replyaddr import read_reply_address, read_reply_target
from server.markdown import clean_body
from server.models import Attachment, Audience, Role, Thread, User
from server.payloads import TITLE_MAX_CHARS
from server.publisher import Publisher
from server.queries import message_by_client_id
from server.settings import Settings
from server.storage import Storage

log = logging.getLogger(__name__)

MB = 1024 * 1024
MAIL_IMAGES_AT_ONCE = 1  # photos from mail are re-encoded one at a time: chat keeps the CPU


class Outcome(StrEnum):
    POSTED = "posted"  # a reply went into its thread
    STARTED = "started"  # a mail to the support address became a question
    IGNORED = "ignored"  # an auto-reply or bounce: accepted, and nothing done (no loops)
    REFUSED = "refused"  # nothing written; the sender is told why
    TOO_LARGE = "too_large"  # over MAIL_MAX_MB
    DEFERRED = "deferred"  # over the person's posting rate: the sending server tries later


@dataclass(frozen=True)
class Received:
    """What became of one arrived mail."""

    outcome: Outcome
    reason: str = ""  # why it was refused or ignored (English: it goes into an SMTP reply)
    thread_id: str = ""
    message_id: str = ""
    left_out: int = 0  # attachments not stored (no storage, over the limits, unreadable)

    @property
    def accepted(self) -> bool:
        return self.outcome in (Outcome.POSTED, Outcome.STARTED, Outcome.IGNORED)


def refused(reason: str) -> Received:
    return Received(Outcome.REFUSED, reason)


def refusal(err: ActionError) -> Received:
    """Turn an action's refusal into an outcome: too fast is "later", the rest "no"."""
    return Received(Outcome.DEFERRED if isinstance(err, TooFast) else Outcome.REFUSED, err.message)


def is_ours(settings: Settings, recipient: str) -> bool:
    """Tell whether a recipient is a genuine reply address or the support address (what the
    listener accepts at RCPT time: no open relay, no backscatter)."""
    address = recipient.strip().strip("<>").strip().lower()
    if settings.mail_support_address and address == settings.mail_support_address:
        return True
    return read_reply_address(settings, address) is not None


def max_bytes(settings: Settings) -> int:
    return int(settings.mail_max_mb * MB)


async def receive_mail(
    settings: Settings,
    publisher: Publisher,
    raw: bytes,
    sender: str,
    recipients: Sequence[str],
    *,
    storage: Storage | None = None,
) -> Received:
    """Act on one mail as it arrived with its envelope; see the module's docstring."""
    if max_bytes(settings) and len(raw) > max_bytes(settings):  # MAIL_MAX_MB=0: no limit
        return Received(Outcome.TOO_LARGE, f"the mail is larger than {settings.mail_max_mb:g} MB")
    # Parsing a big MIME mail takes a while: off the event loop, so chat stays responsive.
    mail = await anyio.to_thread.run_sync(
        read_mail, raw, sender, recipients, settings.mail_trusted_authserv_id
    )
    if mail.automatic:
        log.info("ignored an automatic mail from %r: %s", mail.sender, mail.automatic)
        return Received(Outcome.IGNORED, mail.automatic)
    if not mail.from_address:
        return refused("the mail has no single From address")
    if settings.mail_require_auth and not mail.authenticated:
        return refused(f"{mail.from_address!r} is not authenticated (SPF/DKIM) by our relay")
    results: list[Received] = []
    for recipient in dict.fromkeys(mail.recipients):  # each once, in order
        target = read_reply_target(settings, recipient)
        if target is not None:
            user_id, thread_id, note = target
            results.append(
                await _reply(settings, publisher, mail, user_id, thread_id, storage, note=note)
            )
        elif settings.mail_support_address and recipient == settings.mail_support_address:
            results.append(await _question(settings, publisher, mail, storage))
    if not results:
        return refused("no recipient of this mail is ours")
    return next((r for r in results if r.accepted), results[0])


def _usable(user: User | None) -> bool:
    return user is not None and user.is_active and not suspended(user)


async def _reply(
    settings: Settings,
    publisher: Publisher,
    mail: InboundMail,
    user_id: str,
    thread_id: str,
    storage: Storage | None,
    *,
    note: bool = False,
) -> Received:
    """Post a reply into the thread its address names, as the person it names (a staff note
    when the address was signed for a staff note's notification)."""
    user = await User.get_or_none(id=user_id)
    if user is None or not _usable(user):
        return refused("this reply address no longer takes replies")
    if mail.from_address != user.email:
        # A notification forwarded to someone else must not let them post as its person.
        return refused(f"this reply address is not for {mail.from_address!r}")
    earlier = await message_by_client_id(user, mail.client_id)
    if earlier is not None:  # a redelivered mail: stored once already
        return Received(Outcome.POSTED, "already posted", earlier.thread_id, earlier.id)
    if not mail.text and not mail.attachments:
        return refused("the mail has no new text")
    try:
        await may_upload(user, thread_id)  # may they post there? (as send_message decides)
        if mail.text:
            clean_body(mail.text)
        files, left_out = await _store_attachments(settings, publisher, user, thread_id, mail,
                                                   storage)  # fmt: skip
    except ActionError as err:
        return refused(err.message)
    if not mail.text and not files:
        return refused("the mail has no new text")
    try:
        audience = Audience.STAFF if note and user.is_staff else Audience.ALL
        message, _ = await send_message(
            publisher,
            user,
            thread_id,
            mail.text,
            mail.client_id,
            audience,
            attachments=[a.id for a in files],
        )
    except ActionError as err:
        await _discard(files, storage)
        return refusal(err)
    except BaseException:
        await _discard(files, storage)
        raise
    log.info("mail %r posted as %s in thread %s", mail.message_id, user.id, thread_id)
    return Received(Outcome.POSTED, "", thread_id, message.id, left_out)


async def _store_attachments(
    settings: Settings,
    publisher: Publisher,
    user: User,
    thread_id: str,
    mail: InboundMail,
    storage: Storage | None,
) -> tuple[list[Attachment], int]:
    """Store a reply's files as uploads of its person for the thread, within the attachment
    rules; return them and how many were left out (and why, in the log)."""
    if not mail.attachments:
        return [], 0
    limit = publisher.policy.attachments_per_message
    if storage is None or limit == 0:
        return [], len(mail.attachments)
    limits = Limits.of(settings.attachment_max_mb, settings.attachment_daily_mb)
    limiter = anyio.CapacityLimiter(MAIL_IMAGES_AT_ONCE)
    stored: list[Attachment] = []
    for index, part in enumerate(mail.attachments[:limit]):

        async def body(data: bytes = part.data) -> AsyncIterator[bytes]:
            yield data

        try:
            att, _ = await upload(
                user, thread_id, f"{mail.client_id}-{index}", part.name, body(),
                declared_size=len(part.data), limits=limits, storage=storage, limiter=limiter,
            )  # fmt: skip
        except ActionError as err:
            log.info("left out %r of mail %r: %s", part.name, mail.message_id, err.message)
            continue
        stored.append(att)
    return stored, len(mail.attachments) - len(stored)


async def _discard(files: Sequence[Attachment], storage: Storage | None) -> None:
    """Take back uploads of a mail whose post was refused: a refusal leaves nothing behind."""
    if not files or storage is None:
        return
    with anyio.CancelScope(shield=True):
        try:
            await storage.delete([key for att in files for key in keys_of(att)])
        except Exception:  # the sweep deletes what stays (rows without a message)
            log.exception("could not delete %r", [data_key(att.id) for att in files])
            return
        await Attachment.filter(id__in=[att.id for att in files]).delete()


async def _question(
    settings: Settings, publisher: Publisher, mail: InboundMail, storage: Storage | None
) -> Received:
    """Start a public question from a mail to the support address: as the customer it comes
    from, or as a new customer invited to choose a password."""
    user = await User.get_or_none(email=mail.from_address)
    if user is not None and user.is_staff:
        return refused("staff addresses do not start customer questions by mail")
    if user is not None and not _usable(user):
        return refused(f"the account of {mail.from_address!r} cannot post")
    try:
        title = clean_title(mail.title[:TITLE_MAX_CHARS])
        text = clean_body(mail.text)
    except ActionError as err:
        return refused(err.message)
    question = Question(settings, publisher, mail, storage, title, text)
    if user is not None:
        return await _start(question, user)
    if not EMAIL_RE.match(mail.from_address):
        return refused(f"{mail.from_address!r} is not an address an account can have")
    return await _start_as_newcomer(question)


@dataclass(frozen=True)
class Question:
    """A mail to the support address, its title and text checked."""

    settings: Settings
    publisher: Publisher
    mail: InboundMail
    storage: Storage | None
    title: str
    text: str


async def _start(question: Question, user: User) -> Received:
    mail = question.mail
    try:
        thread, first, _ = await start_thread(
            question.publisher, user, question.title, question.text, mail.client_id
        )
    except ActionError as err:
        return refusal(err)
    log.info("mail %r started thread %s as %s", mail.message_id, thread.id, user.id)
    left_out = await _files_of_question(question, user, thread.id)
    return Received(Outcome.STARTED, "", thread.id, first.id, left_out)


async def _files_of_question(question: Question, user: User, thread_id: str) -> int:
    """Post a question's photos and files as its second message (uploads need the thread,
    which the first message starts); return how many were left out."""
    mail, storage = question.mail, question.storage
    client_id = f"{mail.client_id}-files"
    if not mail.attachments or await message_by_client_id(user, client_id) is not None:
        return 0  # none, or a redelivered mail whose files are posted already
    files: list[Attachment] = []
    try:
        files, left_out = await _store_attachments(
            question.settings, question.publisher, user, thread_id, mail, storage
        )
        if files:
            await send_message(question.publisher, user, thread_id, "", client_id,
                               attachments=[a.id for a in files])  # fmt: skip
    except ActionError as err:
        log.info("left out the files of mail %r: %s", mail.message_id, err.message)
        await _discard(files, storage)
        return len(mail.attachments)
    return left_out


async def _start_as_newcomer(question: Question) -> Received:
    """Create a customer account for an unknown sender, start the question as them and
    invite them; if the question is refused, the account goes again."""
    mail = question.mail
    user = await create_user(
        mail.from_address, _name_of(mail), secrets.token_urlsafe(32), Role.CUSTOMER
    )
    if mail.language:
        user.language = mail.language
        await user.save(update_fields=["language"])
    received = await _start(question, user)
    if not received.accepted:
        await _forget(user)
        return received
    await send_invitation(question.settings, user)
    return received


async def _forget(user: User) -> None:
    """Delete an account made a moment ago for a question that was then refused."""
    async with in_transaction():
        if not await Thread.exists(author_id=user.id):
            await user.delete()


def _name_of(mail: InboundMail) -> str:
    """Return a display name: the From header's, else the address's local part."""
    for candidate in (mail.from_name, mail.from_address.partition("@")[0]):
        try:
            return clean_name(candidate[:NAME_MAX_CHARS])
        except ActionError:
            continue
    return "Customer"
