"""The community's rules that actions enforce: when flags hide a post, whose posts wait for a
moderator, how many links a newcomer may post, how fast each role may post. Built from the
settings by the app; actions read it from the publisher they are given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser

from server.errors import ActionError
from server.i18n import N_
from server.models import Role, User
from server.ratelimit import PostLimiter
from server.settings import Settings


@dataclass(frozen=True)
class Policy:
    flags_to_hide: int = 3  # FLAGS_TO_HIDE
    hold_first_posts: int = 0  # HOLD_FIRST_POSTS (0: nobody's posts are held)
    newcomer_hours: float = 24.0  # NEWCOMER_HOURS: a customer account younger is a newcomer
    newcomer_max_links: int = 2  # NEWCOMER_MAX_LINKS per message
    posting: PostLimiter | None = None  # POSTS_PER_MINUTE; None: no limit (CLI, demo data)
    attachments_per_message: int = 10  # ATTACHMENTS_PER_MESSAGE

    def is_newcomer(self, user: User, now: datetime) -> bool:
        """Tell whether a customer's account is young enough for the newcomer rules."""
        return (
            user.role == Role.CUSTOMER
            and user.created_at is not None
            and (now - user.created_at < timedelta(hours=self.newcomer_hours))
        )

    async def admit(self, user: User, html: str, now: datetime) -> None:
        """Refuse a post that breaks the rules: too many links from a newcomer, or over the
        role's posting rate. `html` is the post as rendered (server/markdown.py)."""
        # Links first: a post refused for its links does not use up the person's rate.
        self.check_links(user, html, now)
        if self.posting is not None:
            await self.posting.check(user)

    def check_links(self, user: User, html: str, now: datetime) -> None:
        """Refuse a newcomer's text with more links than they may post (new or edited)."""
        if self.is_newcomer(user, now):
            links = count_links(html)
            if links > self.newcomer_max_links:
                raise ActionError(
                    "too_many_links",
                    N_(
                        "New accounts may post at most {limit} links in a message; "
                        "this one has {count}."
                    ),
                    limit=self.newcomer_max_links,
                    count=links,
                )


class _LinkCounter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href") and found.get("class") != "mention":
            self.links += 1  # a mention links to a person here, not to the web


def count_links(html: str) -> int:
    """Count the links (anchors with an address, not @mentions) in a rendered post."""
    counter = _LinkCounter()
    counter.feed(html)
    counter.close()
    return counter.links


def policy_of(settings: Settings, posting: PostLimiter | None = None) -> Policy:
    """Build the policy a server enforces from its settings."""
    return Policy(
        flags_to_hide=settings.flags_to_hide,
        hold_first_posts=settings.hold_first_posts,
        newcomer_hours=settings.newcomer_hours,
        newcomer_max_links=settings.newcomer_max_links,
        posting=posting,
        attachments_per_message=settings.attachments_per_message,
    )
