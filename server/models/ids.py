"""Public ids of rows that appear in URLs."""

from __future__ import annotations

import secrets

ID_BYTES = 9  # 12 url-safe characters: unguessable, and gaps reveal nothing


def new_id() -> str:
    """Return a random public id (never sequential, so ids leak no counts)."""
    return secrets.token_urlsafe(ID_BYTES)
