"""Where actions hand committed events to live delivery."""

from __future__ import annotations

import logging

from server.fanout import Fanout, LiveEvent

log = logging.getLogger(__name__)

_fanout: Fanout | None = None


def install(fanout: Fanout | None) -> None:
    """Connect actions to the running server's fan-out (None: no live delivery, e.g. CLI)."""
    global _fanout
    _fanout = fanout


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
