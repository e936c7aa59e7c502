"""Knowledge (`/knowledge`): articles staff write and edit together, with their history; the
public ones are the help centre customers read."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server import knowledge
from server.actions.knowledge import create_article, edit_article, restore_revision
from server.errors import ActionError, NotFound
from server.i18n import N_
from server.markdown import contents_of
from server.models import Article, User
from server.views.common import (
    language_of,
    page,
    publisher_of,
    signed_in,
    staff_only,
    translate,
)


async def _article(request: Request, user: User) -> Article:
    article = await knowledge.article_for(user, request.path_params["article_id"])
    if article is None:
        raise NotFound(N_("article not found"))
    return article


@signed_in
async def articles(request: Request, user: User) -> Response:
    """Every article for staff; the public ones (the help centre) for customers."""
    return page(request, user, "knowledge.html", articles=await knowledge.articles_for(user))


@signed_in
async def article_page(request: Request, user: User) -> Response:
    article = await _article(request, user)
    contents = contents_of(article.html)
    await article.fetch_related("updated_by")
    return page(request, user, "article.html", article=article, contents=contents)


@signed_in
@staff_only
async def new_article(request: Request, user: User) -> Response:
    """The form for a new article; `?thread=` drafts one from a customer question and its
    answer, without the customer's personal details unless `keep=1`."""
    thread = request.query_params.get("thread")
    keep = request.query_params.get("keep") == "1"
    draft = None
    if thread:
        heading = translate(request, user, "Answer")
        draft = await knowledge.draft_from(user, thread, keep, heading)
        if draft is None:
            raise NotFound()
    return page(request, user, "article_form.html", article=None, draft=draft, keep=keep,
                title=draft.title if draft else "", body=draft.body if draft else "",
                public=False, base=0, error="")  # fmt: skip


@signed_in
@staff_only
async def add_article(request: Request, user: User) -> Response:
    form = await request.form()
    try:
        article = await create_article(
            publisher_of(request), user, form.get("title"), form.get("body"),
            form.get("public"), form.get("thread") or None,
        )  # fmt: skip
    except ActionError as err:
        return await _form_again(request, user, None, form, err)
    return RedirectResponse(f"/knowledge/{article.id}", status_code=303)


@signed_in
@staff_only
async def edit_form(request: Request, user: User) -> Response:
    article = await _article(request, user)
    return page(request, user, "article_form.html", article=article, draft=None, keep=False,
                title=article.title, body=article.body, public=article.public,
                base=article.revision, error="")  # fmt: skip


@signed_in
@staff_only
async def save_article(request: Request, user: User) -> Response:
    """Save an edit; if a colleague saved first, show the form again with the editor's own
    text kept, what the colleague changed, and the newer revision to start from."""
    article = await _article(request, user)
    form = await request.form()
    try:
        await edit_article(
            publisher_of(request), user, article.id, form.get("title"), form.get("body"),
            form.get("public"), form.get("base"), form.get("note"),
        )  # fmt: skip
    except ActionError as err:
        return await _form_again(request, user, article, form, err)
    return RedirectResponse(f"/knowledge/{article.id}", status_code=303)


async def _form_again(
    request: Request, user: User, article: Article | None, form: FormData, err: ActionError
) -> Response:
    """The form with what the person wrote, the error, and for a conflict what changed."""
    theirs: list[knowledge.Line] = []
    base = str(form.get("base") or 0)
    if err.code == "edit_conflict" and article is not None:
        current = await Article.get(id=article.id)
        started = await knowledge.revision_of(current, base)
        theirs = knowledge.difference(started.body if started else "", current.body)
        article, base = current, str(current.revision)
    return page(
        request, user, "article_form.html", err.status, article=article, draft=None,
        keep=False, title=str(form.get("title") or ""), body=str(form.get("body") or ""),
        public=bool(form.get("public")), base=base, theirs=theirs,
        error=err.localized(language_of(request, user)), thread=str(form.get("thread") or ""),
    )  # fmt: skip


@signed_in
async def history(request: Request, user: User) -> Response:
    article = await _article(request, user)
    return page(request, user, "article_history.html", article=article,
                revisions=await knowledge.revisions_of(article))  # fmt: skip


@signed_in
async def compare(request: Request, user: User) -> Response:
    """The difference between two revisions (`?from=&to=`, any two, either order)."""
    article = await _article(request, user)
    older = await knowledge.revision_of(article, request.query_params.get("from", ""))
    newer = await knowledge.revision_of(article, request.query_params.get("to", article.revision))
    if older is None or newer is None:
        raise NotFound(N_("revision not found"))
    if older.number > newer.number:
        older, newer = newer, older
    lines = knowledge.difference(older.body, newer.body)
    return page(request, user, "article_diff.html", article=article, older=older, newer=newer,
                lines=lines)  # fmt: skip


@signed_in
@staff_only
async def restore(request: Request, user: User) -> Response:
    article = await _article(request, user)
    form = await request.form()
    await restore_revision(
        publisher_of(request), user, article.id, form.get("number"), form.get("base")
    )
    return RedirectResponse(f"/knowledge/{article.id}", status_code=303)
