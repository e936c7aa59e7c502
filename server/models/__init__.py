"""Database models, one module per subject. Only server/actions writes them.

Tortoise finds the models here, in the package (`server.db`), so every model is imported
into this namespace; code imports them from `server.models` alone."""

from __future__ import annotations

from server.models.attachments import (
    ATTACHMENT_ID_CHARS,
    Attachment,
    AttachmentKind,
    new_attachment_id,
)
from server.models.community import Helpful
from server.models.customers import CustomerNote, CustomerTag
from server.models.ideas import Idea, IdeaStatus, IdeaTag, IdeaVote
from server.models.ids import ID_BYTES, new_id
from server.models.knowledge import Article, Revision
from server.models.mail import OutboundMail, OutboundMailState
from server.models.mail_notify import MailItem
from server.models.moderation import AuditAction, AuditEntry, Flag, FlagReason, Review, ReviewState
from server.models.notifications import (
    EmailChoice,
    NotificationIntent,
    NotificationSettings,
    PushJob,
    PushJobState,
    PushSubscription,
)
from server.models.people import ApiToken, Role, Session, Team, User
from server.models.spaces import Space, SpaceMember
from server.models.threads import (
    Audience,
    Event,
    Follow,
    FollowState,
    Mention,
    Message,
    ReadState,
    SavedReply,
    Thread,
    ThreadKind,
    ThreadStatus,
    Visibility,
)

__all__ = [
    "ATTACHMENT_ID_CHARS",
    "Attachment",
    "AttachmentKind",
    "new_attachment_id",
    "IdeaVote",
    "IdeaTag",
    "IdeaStatus",
    "Idea",
    "Helpful",
    "CustomerTag",
    "CustomerNote",
    "ApiToken",
    "Article",
    "Audience",
    "AuditAction",
    "AuditEntry",
    "Event",
    "Flag",
    "FlagReason",
    "Follow",
    "FollowState",
    "ID_BYTES",
    "EmailChoice",
    "MailItem",
    "Mention",
    "Message",
    "NotificationIntent",
    "OutboundMail",
    "OutboundMailState",
    "NotificationSettings",
    "PushJob",
    "PushJobState",
    "PushSubscription",
    "ReadState",
    "Review",
    "Revision",
    "ReviewState",
    "Role",
    "SavedReply",
    "Space",
    "SpaceMember",
    "Session",
    "Team",
    "Thread",
    "ThreadKind",
    "ThreadStatus",
    "User",
    "Visibility",
    "new_id",
]
