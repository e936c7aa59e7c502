"""The URL map, read top to bottom."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from server.assets import STATIC_DIR, CachedStaticFiles
from server.openapi import openapi_schema
from server.views import accounts, api, health, notifications, pwa, sessions, threads
from server.ws import websocket_endpoint


def routes() -> list[BaseRoute]:
    """Return every route of the app."""
    return [
        Route("/", threads.home),
        Route("/healthz", health.healthz),
        # installable app
        Route("/manifest.webmanifest", pwa.manifest, methods=["GET"]),
        Route("/sw.js", pwa.service_worker, methods=["GET"]),
        Route("/offline", pwa.offline, methods=["GET"]),
        # accounts
        Route("/login", accounts.login_form, methods=["GET"]),
        Route("/login", accounts.login, methods=["POST"]),
        Route("/logout", accounts.logout, methods=["POST"]),
        Route("/signup", accounts.signup_form, methods=["GET"]),
        Route("/signup", accounts.signup, methods=["POST"]),
        Route("/settings", accounts.settings_page, methods=["GET"]),
        Route("/settings", accounts.save_settings, methods=["POST"]),
        Route("/settings/password", accounts.new_password, methods=["POST"]),
        Route("/settings/notifications", notifications.notifications_section, methods=["GET"]),
        Route("/settings/notifications", notifications.preferences, methods=["POST"]),
        Route("/settings/devices", notifications.devices, methods=["GET"]),
        Route("/settings/sessions/others/end", sessions.end_others, methods=["POST"]),
        Route("/settings/sessions/{session_id}/end", sessions.end_one, methods=["POST"]),
        Route("/admin", accounts.admin_page, methods=["GET"]),
        Route("/admin/users", accounts.admin_create_user, methods=["POST"]),
        # threads and messages (HTML, htmx)
        Route("/threads", threads.thread_list, methods=["GET"]),
        Route("/threads", threads.create_thread, methods=["POST"]),
        Route("/threads/new", threads.new_thread_form, methods=["GET"]),
        Route("/threads/{thread_id}", threads.thread_page, methods=["GET"]),
        Route("/threads/{thread_id}", threads.change_thread, methods=["POST"]),
        Route("/threads/{thread_id}/messages", threads.post_message, methods=["POST"]),
        Route("/threads/{thread_id}/follow", notifications.follow_form, methods=["GET"]),
        Route("/threads/{thread_id}/follow", notifications.follow, methods=["POST"]),
        Route("/messages/{message_id}", threads.show_message, methods=["GET"]),
        Route("/messages/{message_id}/edit", threads.edit_form, methods=["GET"]),
        Route("/messages/{message_id}/edit", threads.change_message, methods=["POST"]),
        Route("/messages/{message_id}/delete", threads.remove_message, methods=["POST"]),
        # live
        WebSocketRoute("/ws", websocket_endpoint),
        # Web Push devices
        Route("/push/key", notifications.vapid_key, methods=["GET"]),
        Route("/push/devices", notifications.add_device, methods=["POST"]),
        Route("/push/devices/forget", notifications.forget_device, methods=["POST"]),
        Route("/push/devices/{device_id}/test", notifications.test_device, methods=["POST"]),
        Route("/push/devices/{device_id}/delete", notifications.delete_device, methods=["POST"]),
        # JSON API
        Route("/api/openapi.json", openapi_schema, methods=["GET"]),
        Route("/api/v1/tokens", api.issue_token, methods=["POST"]),
        Route("/api/v1/tokens/current", api.revoke_token, methods=["DELETE"]),
        Route("/api/v1/me", api.me, methods=["GET"]),
        Route("/api/v1/threads", api.list_threads, methods=["GET"]),
        Route("/api/v1/threads", api.create_thread, methods=["POST"]),
        Route("/api/v1/threads/{thread_id}", api.get_thread, methods=["GET"]),
        Route("/api/v1/threads/{thread_id}", api.patch_thread, methods=["PATCH"]),
        Route("/api/v1/threads/{thread_id}/messages", api.list_messages, methods=["GET"]),
        Route("/api/v1/threads/{thread_id}/messages", api.post_message, methods=["POST"]),
        Route("/api/v1/messages/{message_id}", api.patch_message, methods=["PATCH"]),
        Route("/api/v1/messages/{message_id}", api.remove_message, methods=["DELETE"]),
        Mount("/static", CachedStaticFiles(directory=STATIC_DIR), name="static"),
    ]
