"""Event types, declared once: a new kind of change in a thread is one `EventType` entry.

An entry says everything the rest of the system needs to know about the event:

- `name` — what clients dispatch on (`message.created`);
- `visible` — who may see it: everyone who may see the thread, staff only, or a rule such as
  "the author and staff" (`Rule`). The rule picks the numbering the event takes part in:
  customers count only events for everyone, staff count all (see docs/protocol.md), and a
  person the rule names besides staff gets the event unnumbered;
- `payload` — its fields in JSON mode, a typed Struct (server/payloads.py);
- `html` — its fragment in HTML mode, per `Viewpoint` (language, staff or not, company);
- `by_role` — its fragment carries staff controls: staff and everyone else get their own
  renderings (else one fragment serves both, which is cheaper);
- `refs` — fields both modes carry (a message's `id` and `client_id`);
- `load` — how to load what it is about for replay and gap filling;
- `in_lists` — thread lists hear of it (an `activity` notice: unread counts, order);
- `shown_when_hidden` — customers get it although its thread is hidden (the news of hiding).

Recording (server/actions/writes.py), live delivery and replay (server/events/frames.py,
server/ws.py), JSON mode and the thread page all read the entry; none of them names an event
type. docs/protocol.md lists every registered type (a test checks it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from server.models import Audience, Event, Thread
from server.payloads import Out
from server.templating import Viewpoint

S = TypeVar("S")  # what an event is about: a Message, a Thread, …
Loader = Callable[[Thread, Sequence[Event]], Awaitable[list[Any]]]


@dataclass(frozen=True, eq=False)
class Rule(Generic[S]):
    """Who may see an event, within who may see its thread."""

    name: str  # as docs/protocol.md says it
    audience: Callable[[S], Audience]  # ALL: numbered for everyone; STAFF: for staff only
    also: Callable[[S], str | None] = field(default=lambda subject: None)  # one more person


EVERYONE: Rule[Any] = Rule("everyone", lambda subject: Audience.ALL)
STAFF: Rule[Any] = Rule("staff", lambda subject: Audience.STAFF)


def no_refs(subject: Any) -> dict[str, str]:
    return {}


@dataclass(frozen=True, eq=False)
class EventType(Generic[S]):
    """One kind of change in a thread (see the module's docstring)."""

    name: str
    summary: str  # one line for docs/protocol.md
    visible: Rule[S]
    payload: Callable[[S], Out]
    html: Callable[[S, Viewpoint], str]  # (subject, whom it is for) -> fragment
    load: Loader
    refs: Callable[[S], dict[str, str]] = no_refs
    message_id: Callable[[S], str | None] = field(default=lambda subject: None)
    in_lists: bool = False
    by_role: bool = False  # the fragment shows staff controls: staff get a rendering of theirs
    shown_when_hidden: bool = False  # customers get it in a hidden thread (the hiding itself)


class Registry:
    """Every event type the server knows, by name."""

    def __init__(self) -> None:
        self.types: dict[str, EventType[Any]] = {}

    def add(self, event_type: EventType[S]) -> EventType[S]:
        """Register an event type; a second type with the same name is a mistake."""
        if event_type.name in self.types:
            raise ValueError(f"event type {event_type.name!r} is registered twice")
        self.types[event_type.name] = event_type
        return event_type

    def remove(self, name: str) -> None:
        """Forget an event type (tests that declare one of their own)."""
        del self.types[name]

    def __getitem__(self, name: str) -> EventType[Any]:
        return self.types[name]

    def __iter__(self) -> Any:
        return iter(self.types.values())

    def names(self) -> list[str]:
        return list(self.types)


EVENTS = Registry()


async def load_subjects(thread: Thread, rows: Sequence[Event]) -> list[Any]:
    """Load what each stored event is about, one batch per event type, in the rows' order."""
    by_type: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_type.setdefault(row.name, []).append(i)
    subjects: list[Any] = [None] * len(rows)
    for name, positions in by_type.items():
        event_type = EVENTS.types.get(name)
        if event_type is None:
            continue  # an event of a type this version no longer has: skipped below
        loaded = await event_type.load(thread, [rows[i] for i in positions])
        for i, subject in zip(positions, loaded, strict=True):
            subjects[i] = subject
    return subjects
