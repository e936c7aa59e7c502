"""Thread events: the registry (registry.py), the declared types, and their frames."""

from __future__ import annotations

from server.events import claims, community, desk, ideas, messages, moderation, threads
from server.events.registry import EVENTS, EVERYONE, STAFF, EventType, Rule

__all__ = [
    "EVENTS",
    "EVERYONE",
    "STAFF",
    "EventType",
    "Rule",
    "claims",
    "community",
    "desk",
    "ideas",
    "messages",
    "moderation",
    "threads",
]
