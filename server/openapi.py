"""The OpenAPI description of the JSON API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.markdown import BODY_MAX_CHARS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "Bad input; nothing was written"),
    "401": _json(_ref("Error"), "Not signed in"),
    "404": _json(_ref("Error"), "Not found, or not visible to you"),
    "413": _json(_ref("Error"), "The request body is over 256 KiB (code too_large)"),
}
THREAD_ID = {"name": "thread_id", "in": "path", "required": True, "schema": {"type": "string"}}
MESSAGE_ID = {"name": "message_id", "in": "path", "required": True, "schema": {"type": "string"}}
LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 100},
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


SCHEMA: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Dreiklang API",
        "version": "1",
        "description": "Threads and messages. Live events: WebSocket /ws, see docs/protocol.md.",
    },
    "components": {
        "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        "required": ["code", "message"],
                    }
                },
            },
            "Author": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "staff": {"type": "boolean"},
                    "team": {"type": "string"},
                },
            },
            "Thread": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "kind": {"enum": ["question", "idea", "discussion"]},
                    "visibility": {"enum": ["public", "internal"]},
                    "status": {"enum": ["open", "answered", "closed"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "last_activity_at": {"type": "string", "format": "date-time"},
                    "seq": {"type": "integer", "description": "latest event sequence you can see"},
                    "messages": {"type": "integer"},
                    "unread": {"type": "integer"},
                },
            },
            "Message": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "thread": {"type": "string"},
                    "author": _ref("Author"),
                    "client_id": {"type": "string"},
                    "staff_only": {"type": "boolean"},
                    "body": {"type": "string", "description": "Markdown"},
                    "html": {"type": "string", "description": "sanitized HTML"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "edited_at": {"type": ["string", "null"], "format": "date-time"},
                    "deleted": {"type": "boolean"},
                },
            },
            "NewMessage": {
                "type": "object",
                "required": ["body", "client_id"],
                "properties": {
                    "body": {"type": "string", "maxLength": BODY_MAX_CHARS},
                    "client_id": {
                        "type": "string",
                        "maxLength": 64,
                        "description": "your id for this send; a retry with it is stored once",
                    },
                },
            },
        },
    },
    "security": [{"token": []}],
    "paths": {
        "/api/v1/tokens": {
            "post": {
                "summary": "Trade e-mail and password for an API token",
                "security": [],
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["email", "password"],
                        "properties": {
                            "email": {"type": "string"},
                            "password": {"type": "string"},
                            "name": {"type": "string"},
                        },
                    }
                ),
                "responses": {"201": _json({"type": "object"}, "Created"), **ERRORS},
            }
        },
        "/api/v1/tokens/current": {
            "delete": {
                "summary": "Revoke the token this request carries; its sockets close (4401)",
                "responses": {"204": {"description": "Revoked"}, **ERRORS},
            }
        },
        "/api/v1/me": {"get": {"summary": "Who am I", "responses": {"200": _json(_ref("Author"))}}},
        "/api/v1/threads": {
            "get": {
                "summary": "Threads you can see, newest activity first",
                "parameters": [
                    LIMIT,
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _json({"type": "object"}), **ERRORS},
            },
            "post": {
                "summary": "Start a thread with its first message",
                "requestBody": _body(
                    {
                        "allOf": [_ref("NewMessage")],
                        "properties": {
                            "title": {"type": "string", "maxLength": 200},
                            "kind": {"enum": ["question", "idea", "discussion"]},
                            "visibility": {"enum": ["public", "internal"]},
                        },
                    }
                ),
                "responses": {"201": _json({"type": "object"}, "Created"), **ERRORS},
            },
        },
        "/api/v1/threads/{thread_id}": {
            "parameters": [THREAD_ID],
            "get": {"summary": "One thread", "responses": {"200": _json(_ref("Thread")), **ERRORS}},
            "patch": {
                "summary": "Change title or status",
                "requestBody": _body({"type": "object"}),
                "responses": {"200": _json(_ref("Thread")), **ERRORS},
            },
        },
        "/api/v1/threads/{thread_id}/messages": {
            "parameters": [THREAD_ID],
            "get": {
                "summary": "Messages, newest first; pass next_before as before for older ones",
                "parameters": [
                    LIMIT,
                    {"name": "before", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _json({"type": "object"}), **ERRORS},
            },
            "post": {
                "summary": "Send a message (idempotent by client_id)",
                "requestBody": _body(_ref("NewMessage")),
                "responses": {
                    "201": _json(_ref("Message"), "Stored"),
                    "200": _json(_ref("Message"), "Already stored under this client_id"),
                    **ERRORS,
                },
            },
        },
        "/api/v1/messages/{message_id}": {
            "parameters": [MESSAGE_ID],
            "patch": {
                "summary": "Edit your message",
                "requestBody": _body(
                    {"type": "object", "properties": {"body": {"type": "string"}}}
                ),
                "responses": {"200": _json(_ref("Message")), **ERRORS},
            },
            "delete": {
                "summary": "Delete your message",
                "responses": {"200": _json(_ref("Message")), **ERRORS},
            },
        },
    },
}


async def openapi_schema(request: Request) -> Response:
    return JSONResponse(SCHEMA)
