"""Where actions hand committed events to live delivery and wake the push worker."""

from __future__ import annotations

import logging
from collections.abc import Callable

from server.fanout import Fanout, LiveEvent

log = logging.getLogger(__name__)

_fanout: Fanout | None = None
_wake_push: Callable[[], None] | None = None


def install(fanout: Fanout | None, wake: Callable[[], None] | None = None) -> None:
    """Connect actions to the running server's fan-out and push worker (None: e.g. CLI)."""
    global _fanout, _wake_push
    _fanout = fanout
    _wake_push = wake


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
