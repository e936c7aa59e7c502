"""Moderation: flagging (anyone, on what they can see), the review queue, people and the audit
log (moderators and admins). Thin shells: the actions check every right themselves."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from server import reviews
from server.actions.moderation import flag, item_for, moderate
from server.actions.sanctions import lift, sanction
from server.errors import ActionError, NotFound
from server.i18n import N_
from server.models import AuditAction, FlagReason, ReviewState, User
from server.people import user_by_id
from server.queries import with_attachments
from server.views.common import is_htmx, page, publisher_of, signed_in
from server.views.threads import viewpoint


def _moderators_only(user: User) -> None:
    if not user.moderates or not user.is_active:
        raise NotFound(N_("page not found"))  # a customer or employee learns nothing here


def _kind(request: Request) -> str:
    return "message" if "message_id" in request.path_params else "thread"


def _item_id(request: Request) -> str:
    return str(request.path_params.get("message_id") or request.path_params.get("thread_id"))


@signed_in
async def flag_form(request: Request, user: User) -> Response:
    """The flag form for a message or thread the person can see (fetched when they tap ⚑)."""
    kind, item_id = _kind(request), _item_id(request)
    await item_for(user, kind, item_id)  # 404 for what they cannot see
    return page(request, user, "_flag_form.html", kind=kind, item_id=item_id,
                reasons=[r.value for r in FlagReason])  # fmt: skip


@signed_in
async def add_flag(request: Request, user: User) -> Response:
    form = await request.form()
    kind, item_id = _kind(request), _item_id(request)
    hidden = await flag(
        publisher_of(request), user, kind, item_id, form.get("reason"), form.get("text", "")
    )
    if is_htmx(request):
        return page(request, user, "_flag_done.html", hidden=hidden)
    path = f"/threads/{item_id}" if kind == "thread" else "/threads"
    return RedirectResponse(path, status_code=303)


@signed_in
async def queue_page(request: Request, user: User) -> Response:
    """The review queue: flagged and held items with their context, the oldest first; htmx asks
    for the list alone when an alert says it changed."""
    _moderators_only(user)
    done = request.query_params.get("state") == ReviewState.DONE.value
    thread_id = request.query_params.get("thread", "")
    items = await reviews.queue(user, ReviewState.DONE if done else ReviewState.PENDING, thread_id)
    template = "_review_list.html" if is_htmx(request) else "moderation.html"
    return page(
        request, user, template, items=items, done=done, thread_filter=thread_id,
        pending=await reviews.pending_count(user), view=viewpoint(request, user),
        reasons=[r.value for r in FlagReason],
    )  # fmt: skip


@signed_in
async def decide(request: Request, user: User) -> Response:
    """A moderator's decision on a message or thread (dismiss, hide, restore, …)."""
    _moderators_only(user)
    form = await request.form()
    kind, item_id = _kind(request), _item_id(request)
    await moderate(
        publisher_of(request), user, kind, item_id, form.get("decision"), form.get("reason", ""),
        form.get("title"),
    )  # fmt: skip
    back = str(form.get("back", "")) or "/moderation"
    if not back.startswith("/") or back.startswith("//"):
        back = "/moderation"
    if is_htmx(request):
        return HTMLResponse("", headers={"HX-Trigger": "reviewed"})  # the item leaves the list
    return RedirectResponse(back, status_code=303)


@signed_in
async def hidden_source(request: Request, user: User) -> Response:
    """The text of a hidden message, for staff alone (everyone else: not found)."""
    msg = await reviews.hidden_text(user, request.path_params["message_id"])
    if msg is None:
        raise NotFound(N_("message not found"))
    await with_attachments([msg])
    return page(request, user, "_hidden_text.html", m=msg)


@signed_in
async def person_sanction(request: Request, user: User) -> Response:
    _moderators_only(user)
    form = await request.form()
    person = request.path_params["user_id"]
    if form.get("kind") == "lift":
        await lift(publisher_of(request), user, person, form.get("reason", ""))
    else:
        await sanction(
            publisher_of(request), user, person, form.get("kind"), form.get("hours"),
            form.get("reason"),
        )  # fmt: skip
    if is_htmx(request):
        return HTMLResponse("", headers={"HX-Trigger": "reviewed"})
    return RedirectResponse(f"/moderation/people/{person}", status_code=303)


@signed_in
async def person_page(request: Request, user: User) -> Response:
    """A person as moderators see them: their standing, history and the sanction form."""
    _moderators_only(user)
    person = await user_by_id(str(request.path_params["user_id"]))
    if person is None:
        raise NotFound(N_("person not found"))
    history = await reviews.history_of(person.id)
    entries = await reviews.audit_log(user, reviews.AuditFilter(person=person.email), limit=20)
    return page(request, user, "moderation_person.html", person=person, history=history,
                entries=entries, now=datetime.now(UTC))  # fmt: skip


def _date(value: str | None, what: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise ActionError(
            "invalid_date", N_("{field} must be a date like 2026-12-31, not {value!r:.20}"),
            field=what, value=value,
        ) from None  # fmt: skip


@signed_in
async def audit_page(request: Request, user: User) -> Response:
    """The audit log, newest first, filtered by action, person and dates; never editable."""
    _moderators_only(user)
    q = request.query_params
    action = q.get("action", "")
    if action and action not in {a.value for a in AuditAction}:
        raise ActionError("invalid_action", N_("unknown action {value!r:.32}"), value=action)
    where = reviews.AuditFilter(
        action=action, person=q.get("person", "").strip()[:80],
        since=_date(q.get("since"), "since"), until=_date(q.get("until"), "until"),
    )  # fmt: skip
    entries = await reviews.audit_log(user, where)
    return page(request, user, "audit.html", entries=entries, where=where,
                actions=[a.value for a in AuditAction], q=q)  # fmt: skip
