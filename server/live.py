"""Wiring live delivery to the database: the broker, gap fills and sequence reads."""

from __future__ import annotations

from server.fanout import Fanout, LiveEvent
from server.frames import live_frames
from server.hub import broker_for
from server.models import Event, Thread


async def load_gap(thread_id: str, first: int, last: int) -> list[LiveEvent]:
    """Rebuild events with staff_seq in [first, last] from the database, once per process."""
    thread = await Thread.get_or_none(id=thread_id)
    if thread is None:
        return []
    rows = (
        await Event.filter(thread_id=thread_id, staff_seq__gte=first, staff_seq__lte=last)
        .order_by("staff_seq")
        .prefetch_related("message", "message__author")
    )
    return [
        LiveEvent(
            thread_id,
            row.staff_seq,
            row.public_seq,
            live_frames(row.name, thread, row.audience, row.staff_seq, row.public_seq, row.message),
        )
        for row in rows
    ]


async def read_seq(thread_id: str) -> int:
    """Return a thread's latest committed staff_seq (0 for an unknown thread)."""
    thread = await Thread.filter(id=thread_id).only("id", "staff_seq").first()
    return thread.staff_seq if thread is not None else 0


async def read_seqs(thread_ids: list[str]) -> dict[str, int]:
    """Return the latest committed staff_seq of each of these threads that exists."""
    rows = await Thread.filter(id__in=thread_ids).values_list("id", "staff_seq")
    return {str(thread_id): int(seq) for thread_id, seq in rows}


def make_fanout(broker_url: str) -> Fanout:
    """Build this process's fan-out on the configured broker."""
    return Fanout(broker_for(broker_url), load_gap, read_seq, read_seqs)
