"""Errors actions raise: a stable code for clients and a sentence for people.

The sentence is a template marked with N_() plus its values, so it can be shown in the reader's
language: `.message` is the English text (the JSON API, logs), `.localized(lang)` the translation.
"""

from __future__ import annotations

from typing import Any

from server.i18n import N_, localize


class ActionError(Exception):
    """A request that cannot be carried out; nothing was written."""

    status = 400

    def __init__(self, code: str, template: str, /, **params: Any) -> None:
        self.code = code
        self.template = template
        self.params = params
        self.message = template.format(**params) if params else template
        super().__init__(self.message)

    def localized(self, language: str) -> str:
        """Return the message in a UI language ("en", "de"), its values filled in."""
        return localize(self.template, self.params, language)


class NotFound(ActionError):
    """Missing, or not visible to the user: the two are never told apart."""

    status = 404

    def __init__(self, template: str = N_("thread not found"), /, **params: Any) -> None:
        super().__init__("not_found", template, **params)


class Forbidden(ActionError):
    status = 403

    def __init__(self, template: str, /, **params: Any) -> None:
        super().__init__("forbidden", template, **params)


class Conflict(ActionError):
    status = 409

    def __init__(self, template: str, /, **params: Any) -> None:
        super().__init__("conflict", template, **params)


class StaleEdit(ActionError):
    """An edit started from a revision someone else has since replaced; nothing written."""

    status = 409

    def __init__(self, template: str, /, **params: Any) -> None:
        super().__init__("edit_conflict", template, **params)


class TooLarge(ActionError):
    """A request body over the server's limit: refused before anything was read into memory."""

    status = 413

    def __init__(self, limit_kib: int) -> None:
        super().__init__(
            "too_large", N_("the request is larger than {limit:,} KiB"), limit=limit_kib
        )


class Internal(ActionError):
    """A bug or an outage: the request failed on our side and may be tried again."""

    status = 500

    def __init__(self) -> None:
        super().__init__("internal", N_("something went wrong on our side; please try again"))


class MethodNotAllowed(ActionError):
    """A request method the URL does not take."""

    status = 405

    def __init__(self) -> None:
        super().__init__("method_not_allowed", N_("this page cannot be used that way"))


class TooFast(ActionError):
    """A person over their role's posting rate (POSTS_PER_MINUTE); nothing was stored."""

    status = 429

    def __init__(self, limit: int, seconds: int) -> None:
        template = (
            N_("You are posting too fast: at most {limit} posts a minute. Try again in a second.")
            if seconds <= 1
            else N_(
                "You are posting too fast: at most {limit} posts a minute. "
                "Try again in {seconds} seconds."
            )
        )
        super().__init__("rate_limited", template, limit=limit, seconds=seconds)
        self.retry_after = seconds  # for a Retry-After header
