"""Wiring live delivery to the database: the broker, gap fills and sequence reads."""

from __future__ import annotations

from functools import partial

from server.events.frames import live_frames
from server.events.registry import EVENTS, load_subjects
from server.fanout import Fanout, LiveEvent
from server.hub import broker_for
from server.queries import events_between, latest_seq, latest_seqs, thread_by_id
from server.settings import DEFAULT_COMPANY


async def load_gap(
    thread_id: str, first: int, last: int, company: str = DEFAULT_COMPANY
) -> list[LiveEvent]:
    """Rebuild events with staff_seq in [first, last] from the database, once per process."""
    thread = await thread_by_id(thread_id)
    if thread is None:
        return []
    rows = await events_between(thread_id, first, last)
    subjects = await load_subjects(thread, rows)
    return [
        LiveEvent(
            thread_id,
            row.staff_seq,
            row.public_seq,
            live_frames(
                EVENTS[row.name],
                thread,
                row.audience,
                row.staff_seq,
                row.public_seq,
                subject,
                row.also_id,
                company,
            )  # fmt: skip
            if subject is not None
            else {},  # gone (or of a type this version lacks): numbered, so nobody waits
            row.also_id,
        )
        for row, subject in zip(rows, subjects, strict=True)
    ]


def make_fanout(broker_url: str, company: str = DEFAULT_COMPANY) -> Fanout:
    """Build this process's fan-out on the configured broker."""
    gaps = partial(load_gap, company=company)
    return Fanout(broker_for(broker_url), gaps, latest_seq, latest_seqs)
