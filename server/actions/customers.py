"""What staff keep about a customer: tags and private notes (the customer profile). Customers
never see any of it. Not audited, but each row says who added it and when."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from server.adapters.tortoise import insert, table_of
from server.customers import customer_for
from server.errors import ActionError, NotFound
from server.i18n import N_
from server.markdown import clean_body, render
from server.models import CustomerNote, CustomerTag, Role, User
from server.people import user_by_id
from server.protocol import CUSTOMERS_CHANNEL, CustomerChanged, encode
from server.publisher import Change, Publisher
from server.queries import is_id
from server.txscript import Script, run_transaction

TAG_MAX_CHARS = 30  # as CustomerTag.tag
TAGS_MAX = 20  # per customer: beyond that a tag says nothing any more
TAG_RE = re.compile(r"[^\W_]+(?:[ -][^\W_]+)*")  # letters and digits, single spaces and hyphens


def clean_tag(tag: object) -> str:
    """Return a tag in lower case with its spaces tidied, or raise ActionError naming it."""
    text = " ".join(tag.split()).lower() if isinstance(tag, str) else ""
    if not text:
        raise ActionError("empty", N_("the tag is empty"))
    if len(text) > TAG_MAX_CHARS or not TAG_RE.fullmatch(text):
        raise ActionError(
            "invalid_tag",
            N_("{tag!r:.40} is not a tag: at most {limit} letters, digits, spaces and hyphens"),
            tag=text, limit=TAG_MAX_CHARS,
        )  # fmt: skip
    return text


async def _customer(actor: User, user_id: object) -> User:
    """The customer a staff member acts on; a staff account is refused, naming why."""
    customer = await customer_for(actor, user_id)
    if customer is not None:
        return customer
    other = await user_by_id(user_id) if actor.is_staff and actor.is_active and is_id(
        user_id) else None  # fmt: skip
    if other is not None and other.role != Role.CUSTOMER:
        raise ActionError(
            "not_a_customer",
            N_("{name} is on staff: tags and notes are kept about customers only"),
            name=other.display_name,
        )  # fmt: skip
    raise NotFound(N_("page not found"))  # a customer learns nothing here, nor of the id


async def _tell(publisher: Publisher, customer_id: str, section: str) -> None:
    """Tell colleagues with the customer's profile open, after commit."""
    frame = encode(CustomerChanged(customer=customer_id, section=section))
    await publisher.publish(Change(notices=[(CUSTOMERS_CHANNEL, {"staff": frame})]))


async def tag_customer(
    publisher: Publisher, actor: User, user_id: object, tag: object, remove: bool = False
) -> bool:
    """Add a tag to a customer (a tag they have already: nothing happens) or remove one;
    return whether anything changed."""
    customer = await _customer(actor, user_id)
    clean = clean_tag(tag)
    if remove:
        removed = await run_transaction(_remove_tag(customer.id, clean))
        if removed:
            await _tell(publisher, customer.id, "tags")
        return removed
    row = CustomerTag(customer_id=customer.id, tag=clean, added_by_id=actor.id,
                      created_at=datetime.now(UTC))  # fmt: skip
    added = await run_transaction(_add_tag(row))
    if added is None:
        raise ActionError(
            "too_many_tags", N_("a customer has at most {limit} tags: remove one first"),
            limit=TAGS_MAX,
        )  # fmt: skip
    if added:
        await _tell(publisher, customer.id, "tags")
    return added


def _add_tag(row: CustomerTag) -> Script[bool | None]:
    """Insert the tag unless the customer has it (False) or has TAGS_MAX already (None)."""
    table = table_of(CustomerTag)
    found = yield (
        f'SELECT "tag" FROM "{table}" WHERE "customer_id" = ?',  # noqa: S608
        [row.customer_id],
    )
    tags = {r["tag"] for r in found}
    if row.tag in tags:
        return False
    if len(tags) >= TAGS_MAX:
        return None
    sql, params = insert(row, on_conflict=("customer_id", "tag"), returning="id")
    added = yield sql, params
    return bool(added)


def _remove_tag(customer_id: str, tag: str) -> Script[bool]:
    table = table_of(CustomerTag)
    removed = yield (
        f'DELETE FROM "{table}" WHERE "customer_id" = ? AND "tag" = ? RETURNING "id"',  # noqa: S608
        [customer_id, tag],
    )
    return bool(removed)


async def note_customer(
    publisher: Publisher, actor: User, user_id: object, body: object
) -> CustomerNote:
    """Keep a private staff note about a customer (Markdown, as long as a message may be)."""
    customer = await _customer(actor, user_id)
    text = clean_body(body)
    note = CustomerNote(customer_id=customer.id, author_id=actor.id, body=text,
                        html=render(text), created_at=datetime.now(UTC))  # fmt: skip
    await run_transaction(_add_note(note))
    await _tell(publisher, customer.id, "notes")
    return note


def _add_note(note: CustomerNote) -> Script[None]:
    yield insert(note)
