"""Knowledge articles: any employee writes, edits and restores them; every save is a revision.

An edit carries the revision it started from. Saving checks it in the same statement that
writes (`… WHERE revision = ?`): when a colleague saved first, nothing is overwritten, the
editor is told (`edit_conflict`) and shown what changed. Editors with the article open hear of
every save at once (an `article` frame to staff's sockets).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.actions.sanctions import require_voice
from server.actions.threads import clean_title
from server.adapters.tortoise import insert
from server.errors import ActionError, Forbidden, NotFound, StaleEdit
from server.i18n import N_
from server.knowledge import article_for, revision_of
from server.markdown import clean_article, render_article
from server.models import Article, Revision, User
from server.protocol import KNOWLEDGE_CHANNEL, ArticleSaved, encode
from server.publisher import Change, Publisher
from server.queries import thread_for
from server.terms import terms
from server.txscript import Script, run_transaction

NOTE_MAX_CHARS = 200


def _staff(actor: User) -> None:
    if not actor.is_staff:
        raise Forbidden(N_("only staff can write knowledge articles"))
    require_voice(actor)


def _public(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in (None, "", "0", "false", "off"):
        return False
    if value in ("1", "true", "on"):
        return True
    raise ActionError("invalid", N_("public must be on or off, not {value!r}"), value=str(value))


def _note(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    return text[:NOTE_MAX_CHARS]


def _base(value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = -1
    if number < 1:
        raise ActionError(
            "invalid", N_("say which revision the edit started from (a number, not {value!r})"),
            value=str(value)[:20],
        )  # fmt: skip
    return number


async def create_article(
    publisher: Publisher,
    actor: User,
    title: object,
    body: object,
    public: object = False,
    source_thread: object = None,
) -> Article:
    """Write a new article (revision 1); `source_thread`: the question it was promoted from."""
    _staff(actor)
    clean, text, shared = clean_title(title), clean_article(body), _public(public)
    source = None
    if source_thread:
        found = await thread_for(actor, source_thread)
        if found is None:
            raise NotFound()
        source = found.id
    now = datetime.now(UTC)
    html = render_article(text)
    article = Article(
        title=clean, body=text, html=html, terms=terms(f"{clean}\n{text}"), public=shared,
        source_thread_id=source, created_by_id=actor.id, updated_by_id=actor.id,
        created_at=now, updated_at=now,
    )  # fmt: skip
    first = Revision(
        article_id=article.id, number=1, title=clean, body=text, public=shared,
        author_id=actor.id, based_on=0, created_at=now,
    )  # fmt: skip
    change = Change()
    await run_transaction(_create(change, article, first, actor))
    await publisher.publish(change)
    return article


def _create(change: Change, article: Article, first: Revision, actor: User) -> Script[None]:
    yield insert(article)
    yield insert(first)
    _tell(change, article.id, 1, actor)


async def edit_article(
    publisher: Publisher,
    actor: User,
    article_id: object,
    title: object,
    body: object,
    public: object,
    base: object,
    note: object = "",
    restored_from: int | None = None,
) -> Article:
    """Save a new revision if the article is still at `base`; else Conflict, nothing written."""
    _staff(actor)
    article = await article_for(actor, article_id)
    if article is None:
        raise NotFound(N_("article not found"))
    started = _base(base)
    clean, text, shared = clean_title(title), clean_article(body), _public(public)
    if started > article.revision:
        raise ActionError("invalid", N_("revision {number} does not exist"), number=started)
    if started != article.revision:
        raise _conflict(article)
    if (clean, text, shared) == (article.title, article.body, article.public):
        return article  # saving what is there already is no new revision
    now = datetime.now(UTC)
    html = render_article(text)
    fields = {
        "title": clean, "body": text, "html": html, "terms": terms(f"{clean}\n{text}"),
        "public": shared, "updated_by_id": actor.id, "updated_at": now,
    }  # fmt: skip
    revision = Revision(
        article_id=article.id, number=started + 1, title=clean, body=text, public=shared,
        author_id=actor.id, based_on=started, restored_from=restored_from, note=_note(note),
        created_at=now,
    )  # fmt: skip
    change = Change()
    saved = await run_transaction(_save(change, article, fields, revision, started, actor))
    if not saved:
        raise _conflict(await Article.get(id=article.id))  # a colleague saved in between
    await publisher.publish(change)
    return await Article.get(id=article.id)


def _conflict(article: Article) -> StaleEdit:
    return StaleEdit(
        N_("someone saved revision {number} of this article while you were editing; nothing "
           "was overwritten: look at their change, then save yours again"),
        number=article.revision,
    )  # fmt: skip


def _save(
    change: Change, article: Article, fields: dict[str, Any], revision: Revision, base: int,
    actor: User,
) -> Script[bool]:  # fmt: skip
    table = Article._meta.db_table
    names = list(fields)
    assignments = ", ".join(f"{name} = ?" for name in names)
    rows = yield (
        f"UPDATE {table} SET {assignments}, revision = revision + 1 "  # noqa: S608
        "WHERE id = ? AND revision = ? RETURNING id",
        [*[fields[n] for n in names], article.id, base],
    )
    if not rows:
        return False
    yield insert(revision)
    _tell(change, article.id, revision.number, actor)
    return True


def _tell(change: Change, article_id: str, number: int, actor: User) -> None:
    """After commit, staff with the article open hear that it has a new revision."""
    frame = ArticleSaved(article=article_id, revision=number, by=actor.display_name)
    change.notices.append((KNOWLEDGE_CHANNEL, {"staff": encode(frame)}))


async def restore_revision(
    publisher: Publisher, actor: User, article_id: object, number: object, base: object
) -> Article:
    """Make an old revision the newest again (a new revision with its title and text)."""
    _staff(actor)
    article = await article_for(actor, article_id)
    if article is None:
        raise NotFound(N_("article not found"))
    old = await revision_of(article, number)
    if old is None:
        raise NotFound(N_("revision {number} does not exist"), number=str(number)[:20])
    return await edit_article(
        publisher, actor, article.id, old.title, old.body, old.public, base,
        restored_from=old.number,
    )  # fmt: skip
