"""Knowledge articles as a reader may see them: staff read and edit every one, customers read
the public ones (the help centre); revisions, and a readable difference between two of them."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from server.models import Article, Audience, Message, Revision, Thread, User
from server.queries import is_id, thread_for

CONTEXT_LINES = 2  # unchanged lines shown around each change


async def articles_for(user: User, limit: int = 200) -> list[Article]:
    """Articles the user may read, most recently changed first."""
    found = Article.all() if user.is_staff else Article.filter(public=True)
    return await found.order_by("-updated_at").limit(limit)


async def article_for(user: User, article_id: object) -> Article | None:
    """Return an article the user may read (a customer: a public one), or None."""
    if not is_id(article_id):
        return None
    article = await Article.get_or_none(id=article_id)
    if article is None or not (user.is_staff or article.public):
        return None
    return article


async def revisions_of(article: Article) -> list[Revision]:
    """Every revision, newest first, with its author."""
    return (
        await Revision.filter(article_id=article.id).order_by("-number").prefetch_related("author")
    )


async def revision_of(article: Article, number: object) -> Revision | None:
    """Return one revision by its number, or None (not a number, or none such)."""
    try:
        wanted = int(str(number))
    except ValueError:
        return None
    return await Revision.get_or_none(article_id=article.id, number=wanted)


@dataclass(frozen=True)
class Line:
    kind: str  # same | added | removed | gap (unchanged lines left out)
    text: str


def difference(old: str, new: str) -> list[Line]:
    """Return the lines that changed between two texts, with a little context around each."""
    before, after = old.splitlines(), new.splitlines()
    lines: list[Line] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        if lines:
            lines.append(Line("gap", ""))
        for op, a1, a2, b1, b2 in group:
            if op == "equal":
                lines += [Line("same", t) for t in before[a1:a2]]
                continue
            lines += [Line("removed", t) for t in before[a1:a2]]
            lines += [Line("added", t) for t in after[b1:b2]]
    return lines


PERSONAL = (
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),  # e-mail addresses
    re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b"),  # IBANs
    re.compile(r"\+?\d[\d /-]{6,}\d"),  # phone, contract and meter numbers
)
LEFT_OUT = "[…]"


def without_personal(text: str, person: User) -> str:
    """Return a customer's text without their name, handle, addresses and long numbers."""
    for part in sorted(set(person.display_name.split()), key=len, reverse=True):
        if len(part) >= 3:
            text = re.sub(rf"\b{re.escape(part)}\b", LEFT_OUT, text, flags=re.IGNORECASE)
    handle = person.email.split("@", 1)[0]
    text = re.sub(rf"@{re.escape(handle)}\b", LEFT_OUT, text, flags=re.IGNORECASE)
    for pattern in PERSONAL:
        text = pattern.sub(LEFT_OUT, text)
    return text


@dataclass(frozen=True)
class Draft:
    title: str
    body: str
    thread: Thread


async def draft_from(
    user: User, thread_id: object, keep_personal: bool, answer_heading: str
) -> Draft | None:
    """Return an article drafted from a customer question and its answer (the official
    answer, else staff's public replies), for staff; None if there is nothing to promote."""
    if not user.is_staff:
        return None
    thread = await thread_for(user, thread_id)
    if thread is None:
        return None
    await thread.fetch_related("author")
    public = Message.filter(thread_id=thread.id, audience=Audience.ALL, deleted_at__isnull=True,
                            hidden_at__isnull=True).order_by("seq")  # fmt: skip
    messages = await public.prefetch_related("author")
    if not messages:
        return None
    question = messages[0]
    answers = [m for m in messages if m.id == thread.answer_id] or [
        m for m in messages[1:] if m.author.is_staff
    ]
    parts = [question.body, *[f"## {answer_heading}\n\n{m.body}" for m in answers[:3]]]
    body = "\n\n".join(parts)
    title = thread.title
    if not keep_personal and not thread.author.is_staff:
        body, title = without_personal(body, thread.author), without_personal(title, thread.author)
    return Draft(title=title, body=body, thread=thread)
