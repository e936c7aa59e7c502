"""Where actions hand committed events to live delivery and wake the push worker."""

from __future__ import annotations

import logging
from collections.abc import Callable

from server.fanout import Fanout, LiveEvent

log = logging.getLogger(__name__)

_fanout: Fanout | None = None
_wake_push: Callable[[], None] | None = None
_viewers: Callable[[str], set[str]] | None = None


def install(
    fanout: Fanout | None,
    wake: Callable[[], None] | None = None,
    viewers: Callable[[str], set[str]] | None = None,
) -> None:
    """Connect actions to the running server's fan-out and push worker (None: e.g. CLI).
    `viewers` replaces the fan-out's idea of who has a thread open (tests)."""
    global _fanout, _wake_push, _viewers
    _fanout = fanout
    _wake_push = wake
    _viewers = viewers or (fanout.viewers if fanout is not None else None)


def viewers(thread_id: str) -> set[str]:
    """Return the ids of people with the thread open on this process right now."""
    return _viewers(thread_id) if _viewers is not None else set()


def wake_push() -> None:
    """Tell this process's push worker that intents or jobs were committed."""
    if _wake_push is not None:
        _wake_push()


async def publish_event(event: LiveEvent) -> None:
    """Publish a committed thread event; a broker failure never undoes the commit."""
    if _fanout is None:
        return
    try:
        await _fanout.publish_event(event)
    except Exception:  # subscribers catch up from the database on their next event or resume
        log.exception("publishing event %s#%d failed", event.thread, event.staff_seq)


async def publish_frames(channel: str, frames: dict[str, str]) -> None:
    """Publish unsequenced notices (thread list, per-user state); best effort."""
    if _fanout is None:
        return
    try:
        await _fanout.publish_frames(channel, frames)
    except Exception:
        log.exception("publishing on %r failed", channel)
