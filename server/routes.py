"""The URL map, read top to bottom."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from server.assets import STATIC_DIR, CachedStaticFiles
from server.openapi import openapi_schema
from server.views import (
    account_mail,
    accounts,
    api,
    community,
    customers,
    desk,
    files,
    health,
    idea_admin,
    ideas,
    knowledge,
    moderation,
    notifications,
    people,
    pwa,
    replies,
    search,
    sessions,
    spaces,
    threads,
)
from server.ws import websocket_endpoint

View = Callable[[Request], Awaitable[Response]]


def url(path: str, **views: View) -> Route:
    """One route per URL with its view per method (GET=…, POST=…): a method the URL does not
    take is answered 405 with every method it does take (Allow)."""
    table = {method.upper(): view for method, view in views.items()}

    async def endpoint(request: Request) -> Response:
        return await table["GET" if request.method == "HEAD" else request.method](request)

    endpoint.views = table  # type: ignore[attr-defined]  # what server/openapi.py describes
    return Route(path, endpoint, methods=list(table))


def routes() -> list[BaseRoute]:
    """Return every route of the app."""
    return [
        url("/", GET=threads.home),
        url("/healthz", GET=health.healthz),
        # installable app
        url("/manifest.webmanifest", GET=pwa.manifest),
        url("/sw.js", GET=pwa.service_worker),
        url("/offline", GET=pwa.offline),
        # accounts
        url("/login", GET=accounts.login_form, POST=accounts.login),
        url("/logout", POST=accounts.logout),
        url("/signup", GET=accounts.signup_form, POST=accounts.signup),
        url("/password/forgot", GET=account_mail.forgot_form, POST=account_mail.forgot),
        url("/password/reset/{token}", GET=account_mail.reset_form, POST=account_mail.reset),
        url("/email/confirm/{token}", GET=account_mail.confirm),
        url("/settings", GET=accounts.settings_page, POST=accounts.save_settings),
        url("/settings/password", POST=accounts.new_password),
        url("/settings/email", POST=account_mail.new_email),
        url("/settings/email/again", POST=account_mail.confirm_again),
        url("/settings/email/cancel", POST=account_mail.cancel_change),
        url(
            "/settings/notifications",
            GET=notifications.notifications_section,
            POST=notifications.preferences,
        ),
        url("/settings/devices", GET=notifications.devices),
        url("/settings/sessions/others/end", POST=sessions.end_others),
        url("/settings/sessions/{session_id}/end", POST=sessions.end_one),
        url("/settings/tokens", POST=accounts.new_token),
        url("/settings/tokens/{token_id}/revoke", POST=accounts.revoke_one_token),
        url("/settings/export", GET=customers.export),
        url("/admin", GET=accounts.admin_page),
        url("/admin/users", POST=accounts.admin_create_user),
        url("/admin/teams", POST=accounts.admin_create_team),
        url("/admin/users/{user_id}/role", POST=accounts.admin_role),
        url("/admin/users/{user_id}/deactivate", POST=accounts.admin_deactivate),
        url("/admin/users/{user_id}/reactivate", POST=accounts.admin_reactivate),
        # threads and messages (HTML, htmx)
        url("/threads", GET=threads.thread_list, POST=threads.create_thread),
        url("/threads/new", GET=threads.new_thread_form),
        url("/threads/{thread_id}", GET=threads.thread_page, POST=threads.change_thread),
        url("/threads/{thread_id}/messages", POST=threads.post_message),
        url("/threads/{thread_id}/claim", POST=threads.claim),
        url("/threads/{thread_id}/release", POST=threads.release),
        url("/threads/{thread_id}/assign", POST=desk.assign),
        url(
            "/threads/{thread_id}/follow", GET=notifications.follow_form, POST=notifications.follow
        ),
        url("/messages/{message_id}", GET=threads.show_message),
        url("/messages/{message_id}/edit", GET=threads.edit_form, POST=threads.change_message),
        url("/messages/{message_id}/delete", POST=threads.remove_message),
        url("/messages/{message_id}/answer", POST=community.accept),
        url("/messages/{message_id}/helpful", POST=community.helpful),
        url("/messages/{message_id}/flag", GET=moderation.flag_form, POST=moderation.add_flag),
        url("/messages/{message_id}/hidden", GET=moderation.hidden_source),
        url("/threads/{thread_id}/flag", GET=moderation.flag_form, POST=moderation.add_flag),
        # moderation (moderators and admins)
        url("/moderation", GET=moderation.queue_page),
        url("/moderation/messages/{message_id}", POST=moderation.decide),
        url("/moderation/threads/{thread_id}", POST=moderation.decide),
        url("/moderation/audit", GET=moderation.audit_page),
        url(
            "/moderation/people/{user_id}",
            GET=moderation.person_page,
            POST=moderation.person_sanction,
        ),
        url("/search", GET=search.search_page),
        # spaces (staff): teams', the company's and any subject's threads and posts
        url("/spaces", GET=spaces.spaces_page, POST=spaces.add_space),
        url("/spaces/{space_id}", GET=spaces.space_page),
        url("/spaces/{space_id}/membership", POST=spaces.membership),
        # knowledge: staff write and edit; customers read the public articles
        url("/knowledge", GET=knowledge.articles, POST=knowledge.add_article),
        url("/knowledge/new", GET=knowledge.new_article),
        url("/knowledge/{article_id}", GET=knowledge.article_page, POST=knowledge.save_article),
        url("/knowledge/{article_id}/edit", GET=knowledge.edit_form),
        url("/knowledge/{article_id}/history", GET=knowledge.history),
        url("/knowledge/{article_id}/compare", GET=knowledge.compare),
        url("/knowledge/{article_id}/restore", POST=knowledge.restore),
        url("/mentions", GET=people.mentions_page),
        url("/mentions/unread", GET=people.unread_count),
        url("/people/{user_id}", GET=people.person_page),
        # the customer profile (staff): tags and private notes about a customer
        url("/customers/{user_id}", GET=customers.profile_page),
        url("/customers/{user_id}/tags", POST=customers.tags),
        url("/customers/{user_id}/notes", POST=customers.notes),
        url("/threads/{thread_id}/mentionable", GET=people.mentionable),
        # ideas: the board, a new idea, voting, the roadmap (everyone signed in)
        url("/ideas", GET=ideas.board_page, POST=ideas.create_idea),
        url("/ideas/new", GET=ideas.new_idea_form),
        url("/ideas/{thread_id}/vote", POST=ideas.cast_vote),
        url("/roadmap", GET=ideas.roadmap_page),
        # ideas, staff: a new status, merging a duplicate, a message turned into an idea
        url("/ideas/{thread_id}/status", POST=idea_admin.status),
        url("/ideas/{thread_id}/merge", POST=idea_admin.merge),
        url(
            "/messages/{message_id}/promote",
            GET=idea_admin.promote_form,
            POST=idea_admin.promote,
        ),
        # the care desk (staff)
        url("/desk", GET=desk.desk_page),
        url("/desk/replies", GET=replies.replies_page, POST=replies.add_reply),
        url("/desk/replies/search", GET=replies.search),
        url("/desk/replies/{reply_id}/delete", POST=replies.remove_reply),
        # live
        WebSocketRoute("/ws", websocket_endpoint),
        # Web Push devices
        url("/push/key", GET=notifications.vapid_key),
        url(
            "/mail/unsubscribe/{token}",
            GET=notifications.unsubscribe_form,
            POST=notifications.unsubscribe,
        ),
        url("/push/devices", POST=notifications.add_device),
        url("/push/devices/forget", POST=notifications.forget_device),
        url("/push/devices/{device_id}/test", POST=notifications.test_device),
        url("/push/devices/{device_id}/delete", POST=notifications.delete_device),
        # JSON API
        url("/api/openapi.json", GET=openapi_schema),
        url("/api/v1/tokens", POST=api.issue_token),
        url("/api/v1/tokens/current", DELETE=api.revoke_token),
        url("/api/v1/me", GET=api.me),
        url("/api/v1/threads", GET=api.list_threads, POST=api.create_thread),
        url("/api/v1/threads/{thread_id}", GET=api.get_thread, PATCH=api.patch_thread),
        url("/api/v1/threads/{thread_id}/messages", GET=api.list_messages, POST=api.post_message),
        url("/api/v1/threads/{thread_id}/claim", POST=api.post_claim, DELETE=api.remove_claim),
        url("/api/v1/messages/{message_id}", PATCH=api.patch_message, DELETE=api.remove_message),
        # attachments: the raw file as the body (not multipart), so its own body limit
        Route(
            "/api/v1/threads/{thread_id}/attachments",
            files.upload_attachment,
            methods=["POST"],
            max_body_size=files.UPLOAD_ROUTE_MAX_BYTES,
        ),
        url("/files/{attachment_id}", GET=files.serve_file),
        url("/files/{attachment_id}/thumb", GET=files.serve_thumb),
        Mount("/static", CachedStaticFiles(directory=STATIC_DIR), name="static"),
    ]
