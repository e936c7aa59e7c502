"""Notification kinds, declared once: a new reason to buzz a phone is one `Kind` entry.

An entry says everything the push pipeline and the settings need to know:

- `preference` — the NotificationSettings field that turns it off (None: always on);
- `label` and `roles` — how the settings page offers that choice, and to whom;
- `urgent` — it may break quiet hours (if the person lets urgent ones through);
- `urgency`, `ttl_seconds` — how push services treat it (RFC 8030);
- `replaced_by` — newer pushes of these kinds for the same thread and device speak for it;
- `seen_live` — whoever had the thread open when it happened is not buzzed;
- `about_message` — it shows a message, and is dropped once the message was read;
- `body` — what it says, in the recipient's language;
- `recipients` — for kinds an action records (an intent), who may hear of it
  (push/audiences.py).

Recipients (push/recipients.py), expansion, composing, delivery and the settings read these
entries; none of them names a kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from push.audiences import (
    Finder,
    assignee_or_team,
    followers,
    followers_and_mentioned,
    moderators,
    moderators_and_lead,
    team_or_everyone,
    voters_and_followers,
)
from server.i18n import N_
from server.idea_workflow import status_word
from server.models import NotificationSettings, Role, Thread

DAY_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class Words:
    """What a notification's text can say, in the recipient's language."""

    gettext: Callable[[str], str]
    ngettext: Callable[[str, str, int], str]
    author: str = ""  # who wrote the message ("Jan Petersen (staff)")
    text: str = ""  # the message as plain text
    unread: int = 0  # unread messages from others in the thread
    status: str = ""  # the thread's status, translated


@dataclass(frozen=True, eq=False)
class Kind:
    """One reason to notify (see the module's docstring)."""

    name: str
    preference: str | None
    label: str  # N_() text for the settings page ("" for a kind nobody turns off)
    urgency: str
    ttl_seconds: int
    body: Callable[[Words], str]
    urgent: bool = False
    # Routine desk work: held back outside the person's working hours (push/recipients.py).
    routine: bool = False
    replaced_by: tuple[str, ...] = ()
    seen_live: bool = False
    about_message: bool = False
    about_thread: bool = True  # False: not about a thread (a test)
    roles: tuple[Role, ...] = tuple(Role)  # who may choose it in the settings
    recipients: Finder | None = None
    # Its recipients are the thread's followers and the people its message mentions: a batch
    # of such intents none of whom has a device is dropped before anyone is looked up.
    followers_only: bool = False
    # Where a click on it leads, by thread id (None: the thread, at its message if it has one).
    link: Callable[[str], str] | None = None
    # The status its text names (an N_ text), if not the thread's own (an idea's status).
    status: Callable[[Thread], Awaitable[str]] | None = None

    def enabled(self, prefs: NotificationSettings | None) -> bool:
        """Tell whether a person's settings let this kind through (no settings: all on)."""
        if prefs is None or self.preference is None:
            return True
        return bool(getattr(prefs, self.preference))


class Kinds:
    """Every notification kind, by name."""

    def __init__(self) -> None:
        self.by_name: dict[str, Kind] = {}

    def add(self, kind: Kind) -> Kind:
        if kind.name in self.by_name:
            raise ValueError(f"notification kind {kind.name!r} is declared twice")
        if kind.preference is not None and kind.preference not in NotificationSettings._meta.fields:
            raise ValueError(f"{kind.name!r}: NotificationSettings has no {kind.preference!r}")
        self.by_name[kind.name] = kind
        return kind

    def __getitem__(self, name: str) -> Kind:
        return self.by_name[name]

    def __iter__(self) -> Any:
        return iter(self.by_name.values())

    def merging(self) -> dict[str, tuple[str, ...]]:
        """Return, for each kind newer pushes can replace, the kinds that replace it."""
        return {k.name: k.replaced_by for k in self if k.replaced_by}

    def preferences(self, role: Role) -> list[Kind]:
        """Return the kinds a person in this role can turn on and off, in order; of kinds
        sharing one switch, the first."""
        offered: dict[str, Kind] = {}
        for k in self:
            if k.preference is not None and role in k.roles:
                offered.setdefault(k.preference, k)
        return list(offered.values())


KINDS = Kinds()


def _reply_body(w: Words) -> str:
    if w.unread > 1:  # the plural form the language's catalog says for this count
        return w.ngettext(
            "{count} new reply, the latest from {name}: {text}",
            "{count} new replies, the latest from {name}: {text}",
            w.unread,
        ).format(count=w.unread, name=w.author, text=w.text)
    return f"{w.author}: {w.text}"


# In the order the settings page offers them.
REPLY = KINDS.add(
    Kind(
        name="reply",
        preference="replies",
        label=N_("Replies in threads I follow"),
        urgency="normal",
        ttl_seconds=2 * DAY_SECONDS,  # a phone asleep over a weekend still gets it
        body=_reply_body,
        # A newer reply or mention covers a reply (its text counts the unread replies).
        replaced_by=("reply", "mention"),
        seen_live=True,
        about_message=True,
        recipients=followers_and_mentioned("reply", "mention"),
        followers_only=True,
    )
)
MENTION = KINDS.add(
    Kind(
        name="mention",
        preference="mentions",
        label=N_("Mentions of me or my team"),
        urgency="high",
        ttl_seconds=2 * DAY_SECONDS,
        body=lambda w: w.gettext("{name} mentioned you: {text}").format(name=w.author, text=w.text),
        urgent=True,
        # Only a newer mention covers a mention: it is never downgraded to a normal reply.
        replaced_by=("mention",),
        seen_live=True,
        about_message=True,
    )
)
STATUS = KINDS.add(
    Kind(
        name="status",
        preference="status_changes",
        label=N_("Status changes of threads I follow"),
        urgency="normal",
        ttl_seconds=2 * DAY_SECONDS,
        body=lambda w: w.gettext("Status: {status}").format(status=w.status),
        recipients=followers("status"),
        followers_only=True,
    )
)
MODERATION = KINDS.add(
    Kind(
        name="moderation",
        preference="moderation",
        label=N_("Moderator alerts"),
        urgency="high",
        ttl_seconds=6 * 3600,  # stale alerts are noise; the moderation queue shows them anyway
        body=lambda w: w.gettext("Something was flagged or waits for approval."),
        urgent=True,
        roles=(Role.MODERATOR, Role.ADMIN),
        recipients=moderators("moderation"),
        # Straight to the item in the moderation queue (server/actions/reviews.queue_url).
        link=lambda thread_id: f"/moderation?thread={quote(thread_id)}",
    )
)
STAFF_ROLES = (Role.EMPLOYEE, Role.MODERATOR, Role.ADMIN)
QUESTION = KINDS.add(
    Kind(
        name="question",
        preference="new_questions",
        label=N_("New customer questions for my team (or for everyone on duty)"),
        urgency="normal",
        ttl_seconds=DAY_SECONDS,  # by tomorrow the desk's queue says it better
        body=lambda w: w.gettext("New question from {name}: {text}").format(
            name=w.author, text=w.text
        ),
        routine=True,
        about_message=True,
        roles=STAFF_ROLES,
        recipients=team_or_everyone("question"),
    )
)
ASSIGNED = KINDS.add(
    Kind(
        name="assigned",
        preference="assignments",
        label=N_("Questions assigned to me or my team"),
        urgency="normal",
        ttl_seconds=2 * DAY_SECONDS,
        body=lambda w: w.gettext("This question was assigned to you or your team."),
        roles=STAFF_ROLES,
        recipients=assignee_or_team("assigned"),
    )
)
ESCALATION = KINDS.add(
    Kind(
        name="escalation",
        preference="escalations",
        label=N_("Questions waiting too long for an answer (moderators and team leads)"),
        urgency="high",
        ttl_seconds=6 * 3600,
        body=lambda w: w.gettext("A customer has been waiting a long time for an answer."),
        urgent=True,
        roles=STAFF_ROLES,
        recipients=moderators_and_lead("escalation"),
    )
)
IDEA_STATUS = KINDS.add(
    Kind(
        name="idea_status",
        preference="status_changes",  # the same switch as threads' status changes
        label=N_("Status changes of threads I follow"),
        urgency="normal",
        ttl_seconds=2 * DAY_SECONDS,
        body=lambda w: w.gettext("An idea you voted for or follow is now: {status}").format(
            status=w.status
        ),
        replaced_by=("idea_status",),  # the newest status says it all
        recipients=voters_and_followers("idea_status"),
        status=status_word,
    )
)
TEST = KINDS.add(
    Kind(
        name="test",
        preference=None,  # a test the person asked for always goes out
        label="",
        urgency="high",
        ttl_seconds=600,  # a test that arrives an hour later proves nothing
        body=lambda w: w.gettext("Notifications work on this device."),
        about_thread=False,
    )
)
