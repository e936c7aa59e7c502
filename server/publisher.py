"""Where actions hand what they committed to live delivery, and wake the push worker.

One `Publisher` per server process, made by the app's lifespan and kept on `app.state`; the
CLI and tests that run actions without a server use one without a fan-out (nothing is live).
Publishing never undoes a commit: a broker failure is logged, and subscribers catch up from
the database (the next event's gap, the fan-out's sweep, or their resume).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from server.events.frames import Recorded
from server.fanout import Fanout
from server.hub import BrokerUnavailable
from server.policy import Policy
from server.settings import DEFAULT_COMPANY

log = logging.getLogger(__name__)


@dataclass
class Change:
    """What one action's transaction wrote that others must hear of after it commits."""

    events: list[Recorded] = field(default_factory=list)
    notices: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (channel, frames)
    intents: int = 0  # notification intents written: the push worker has work


class Publisher:
    """Publish committed changes on this process's fan-out; wake its push worker."""

    def __init__(
        self,
        fanout: Fanout | None = None,
        wake: Callable[[], None] | None = None,
        viewers: Callable[[str], set[str]] | None = None,
        company: str = DEFAULT_COMPANY,
        policy: Policy | None = None,
    ) -> None:
        self.fanout = fanout
        self.policy = policy or Policy()  # the community's rules the actions enforce
        self.company = company  # fragments name it (a staff badge's title)
        self._wake = wake
        # Who has a thread open, on any process (tests may say instead).
        self._viewers = viewers or (fanout.viewers if fanout is not None else None)

    def viewers(self, thread_id: str) -> set[str]:
        """Return the ids of people with the thread open right now (they see it live)."""
        return self._viewers(thread_id) if self._viewers is not None else set()

    def wake_push(self) -> None:
        """Tell this process's push worker that intents or jobs were committed."""
        if self._wake is not None:
            self._wake()

    async def publish(self, change: Change) -> None:
        """Publish what a committed transaction recorded, in order."""
        for recorded in change.events:
            if self.fanout is not None:
                event = recorded.live(self.company)
                try:
                    await self.fanout.publish_event(event)
                except BrokerUnavailable as err:  # known outage: /healthz says so; no trace
                    log.warning("event %s#%d not published: %s", event.thread, event.staff_seq, err)
                except Exception:  # subscribers catch up from the database
                    log.exception("publishing event %s#%d failed", event.thread, event.staff_seq)
            if recorded.type.in_lists:
                await self.notice("list", recorded.activity())
        for channel, frames in change.notices:
            await self.notice(channel, frames)
        if change.intents:
            self.wake_push()

    async def notice(self, channel: str, frames: dict[str, str]) -> None:
        """Publish unsequenced notices (thread list, per-user state); best effort."""
        if self.fanout is None:
            return
        try:
            await self.fanout.publish_frames(channel, frames)
        except BrokerUnavailable as err:
            log.warning("notice on %r not published: %s", channel, err)
        except Exception:
            log.exception("publishing on %r failed", channel)
