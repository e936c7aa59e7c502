"""E-mail going out: a durable queue the mail worker (server/mail/worker.py) sends from."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class OutboundMailState(StrEnum):
    QUEUED = "queued"  # waiting, or claimed by a worker until `due_at` (its lease)
    SENT = "sent"  # handed to the mail server (or written to the log)
    FAILED = "failed"  # refused for good (5xx) or out of attempts; the reason is in `outcome`


class OutboundMail(Model):
    """One mail to one address, stored once per key and sent by whichever server process
    claims it first."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)  # what the caller says makes it one mail
    recipient = fields.CharField(max_length=254)
    subject = fields.CharField(max_length=300)
    text = fields.TextField()
    html = fields.TextField(default="")
    reply_to = fields.CharField(max_length=254, default="")
    # Extra headers (List-Unsubscribe, ...).
    headers: fields.JSONField[dict[str, str]] = fields.JSONField(default=dict)
    message_id = fields.CharField(max_length=200)  # the same on every attempt
    state = fields.CharEnumField(OutboundMailState, max_length=8, default=OutboundMailState.QUEUED)
    attempts = fields.IntField(default=0)
    due_at = fields.DatetimeField()  # next attempt; a claim moves it forward by the lease
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    outcome = fields.CharField(max_length=300, default="")  # the last failure, for the log

    class Meta:
        table = "outbound_mails"
        indexes = (("state", "due_at"),)
