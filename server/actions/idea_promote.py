"""Staff turn a customer's message in a public thread into an idea, in the customer's name:
the idea quotes the message and links back, and a line in the conversation links to the idea.
A message becomes an idea once: promoting it again (or twice at once) gives that idea."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from server.actions.idea_status import link_to, post_as_staff, staff_message
from server.actions.ideas import submit_idea
from server.community import first_message_id
from server.errors import ActionError, Forbidden, NotFound
from server.i18n import N_, gettext_for
from server.models import Audience, Idea, Message, Thread, ThreadKind, User, Visibility
from server.publisher import Change, Publisher
from server.queries import message_for
from server.txscript import Script, run_transaction

QUOTE_MAX_CHARS = 2_000  # a promoted message is quoted in the idea; the link has the rest
TITLE_SUGGESTION_CHARS = 80  # a title prefilled from a message's first line


async def promotable(actor: User, message_id: object) -> Message:
    """A customer's public message staff may turn into an idea, or a clear error."""
    msg = await message_for(actor, message_id)
    if msg is None:
        raise NotFound(N_("message not found"))
    if not actor.is_staff:
        raise Forbidden(N_("only staff can turn a message into an idea"))
    thread: Thread = msg.thread
    if msg.audience == Audience.STAFF:
        raise ActionError("staff_note", N_("a staff note cannot become an idea"))
    if msg.deleted_at is not None or msg.hidden_at is not None or msg.held_at is not None:
        raise ActionError(
            "not_shown", N_("a deleted, hidden or held message cannot become an idea")
        )
    if thread.visibility != Visibility.PUBLIC or thread.hidden_at is not None:
        raise ActionError("not_public", N_("only a message in a public thread can become an idea"))
    if msg.author.is_staff:
        raise ActionError("not_customer", N_("only a customer's message can become an idea"))
    if thread.kind == ThreadKind.IDEA and await first_message_id(thread.id) == msg.id:
        raise ActionError("already_an_idea", N_("this message describes an idea already"))
    return msg


def suggested_title(msg: Message) -> str:
    """A title for the idea: the message's first line, shortened; else its thread's title."""
    first = next((line.strip(" #>*-") for line in msg.body.splitlines() if line.strip()), "")
    if len(first) > TITLE_SUGGESTION_CHARS:
        first = first[: TITLE_SUGGESTION_CHARS - 1].rstrip() + "…"
    return first or msg.thread.title


async def promoted_from(msg: Message) -> Thread | None:
    """The idea a message was turned into, if it was."""
    idea = await Idea.get_or_none(source_id=msg.id).prefetch_related("thread")
    return idea.thread if idea is not None else None


def _quote(text: str) -> str:
    if len(text) > QUOTE_MAX_CHARS:
        text = text[: QUOTE_MAX_CHARS - 1].rstrip() + "…"
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def _backlink(
    change: Change, actor: User, thread_id: str, line: Message, now: datetime
) -> Script[None]:
    yield from post_as_staff(change, actor, thread_id, line, now)


async def promote_message(
    publisher: Publisher, actor: User, message_id: object, title: object, tags: object = None
) -> tuple[Thread, bool]:
    """Turn a customer's public message into an idea in their name (staff): the idea quotes
    it and links back, and a line in the conversation links to the idea. Promoting it again
    returns the idea it became; return (the idea's thread, whether it is new)."""
    msg = await promotable(actor, message_id)
    earlier = await promoted_from(msg)
    if earlier is not None:
        return earlier, False
    origin: Thread = msg.thread
    _ = gettext_for(actor.language).gettext
    body = "\n\n".join(
        (
            _("From a conversation: {link}").format(
                link=link_to(origin.title, f"/threads/{origin.id}#msg-{msg.id}")
            ),
            _quote(msg.body),
        )
    )
    try:
        thread, _idea, created = await submit_idea(
            publisher, actor, title, body, tags, f"promote-{msg.id}", source=msg.id,
            author_override=msg.author,
        )  # fmt: skip
    except IntegrityError:  # a colleague promoted it at the same moment
        earlier = await promoted_from(msg)
        if earlier is None:
            raise
        return earlier, False
    if created:
        now = datetime.now(UTC)
        line = staff_message(
            actor, origin.id,
            _("This became an idea everyone can vote for: {link}").format(
                link=link_to(thread.title, f"/threads/{thread.id}")
            ),
            now,
        )  # fmt: skip
        change = Change()
        await run_transaction(_backlink(change, actor, origin.id, line, now))
        await publisher.publish(change)
    return thread, created
