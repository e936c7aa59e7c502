"""People: accounts, their teams, sign-in sessions and API tokens."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from server.models.ids import new_id


class Role(StrEnum):
    CUSTOMER = "customer"
    EMPLOYEE = "employee"
    MODERATOR = "moderator"
    ADMIN = "admin"


class User(Model):
    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    email = fields.CharField(max_length=254, unique=True)
    display_name = fields.CharField(max_length=80)
    role = fields.CharEnumField(Role, max_length=16, default=Role.CUSTOMER)
    team = fields.CharField(max_length=60, default="")
    password_hash = fields.CharField(max_length=200)
    language = fields.CharField(max_length=8, default="")  # "" = follow the browser
    created_at = fields.DatetimeField(auto_now_add=True)
    # Set by an admin: the account cannot sign in, and had its sessions and tokens ended.
    deactivated_at = fields.DatetimeField(null=True)
    # Set by a moderator (server/actions/sanctions.py), each until a time: muted people read
    # but cannot write, suspended ones cannot sign in. The reason is shown to them.
    muted_until = fields.DatetimeField(null=True)
    suspended_until = fields.DatetimeField(null=True)
    sanction_reason = fields.CharField(max_length=200, default="")
    # When the address was confirmed by a link in a mail (server/actions/account_mail.py).
    # Staff created by an admin and demo people count as confirmed from the start. Only a
    # confirmed address gets notification mails (server/mail/policy.py may_mail).
    email_verified_at = fields.DatetimeField(null=True)
    pending_email = fields.CharField(max_length=254, default="")  # a new address, until confirmed

    class Meta:
        table = "users"

    @property
    def is_staff(self) -> bool:
        return self.role != Role.CUSTOMER

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None

    @property
    def moderates(self) -> bool:
        """Moderators and admins review flags and act on posts and people."""
        return self.role in (Role.MODERATOR, Role.ADMIN)


class Team(Model):
    """A team of employees (Billing, Field service): questions are routed to it, saved replies
    shared in it. Members are the employees whose `User.team` is its name."""

    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    name = fields.CharField(max_length=60, unique=True)
    # Escalations of questions waiting too long for this team reach its lead (and moderators).
    lead: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    lead_id: str | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "teams"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    user_id: str
    token_hash = fields.CharField(max_length=64, unique=True)  # sha256 hex of the token
    name = fields.CharField(max_length=80)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)  # noted at most once a minute
    expires_at = fields.DatetimeField(null=True)  # null: until revoked

    class Meta:
        table = "api_tokens"


class Session(Model):
    """A signed-in browser. The cookie holds a random key, the row holds its hash, so signing
    out (here or from another device) ends it for good, and a copied cookie dies with it."""

    id = fields.CharField(max_length=16, primary_key=True, default=new_id)  # shown in URLs
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: str
    key_hash = fields.CharField(max_length=64, unique=True)  # sha256 hex of the cookie's key
    device = fields.CharField(max_length=80, default="")  # "Chrome Mobile on Android"
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(
        db_index=True
    )  # renewed hourly at most, ends it after 30 days

    class Meta:
        table = "sessions"
