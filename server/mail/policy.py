"""Who may get mail beyond what they ask for (password reset, confirmation links)."""

from __future__ import annotations

from server.models import User


def may_mail(user: User) -> bool:
    """Tell whether notification mails may go to the person's address: it is confirmed (by a
    link, or made by an admin or the demo) and the account is active."""
    return user.email_verified_at is not None and user.is_active
