"""Errors actions raise: a stable code for clients and a sentence for people."""

from __future__ import annotations


class ActionError(Exception):
    """A request that cannot be carried out; nothing was written."""

    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFound(ActionError):
    """Missing, or not visible to the user: the two are never told apart."""

    status = 404

    def __init__(self, what: str = "thread") -> None:
        super().__init__("not_found", f"{what} not found")


class Forbidden(ActionError):
    status = 403

    def __init__(self, message: str) -> None:
        super().__init__("forbidden", message)


class Conflict(ActionError):
    status = 409

    def __init__(self, message: str) -> None:
        super().__init__("conflict", message)
