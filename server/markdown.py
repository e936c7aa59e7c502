"""Message bodies: short Markdown rendered to sanitized, inert HTML."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

BODY_MAX_CHARS = 10_000  # a long answer fits; a pasted log file does not

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    "strikethrough"
)

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


def render(body: str) -> str:
    """Render Markdown to HTML that cannot run script, style the page or trigger htmx."""
    raw = _md.render(body)
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow ugc",
    ).strip()


class BodyError(ValueError):
    """A message body that cannot be stored, with a message for the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def clean_body(body: object) -> str:
    """Return the body stripped of outer whitespace, or raise BodyError."""
    if not isinstance(body, str):
        raise BodyError("invalid", f"message body must be text, not {type(body).__name__}")
    text = body.replace("\r\n", "\n").strip()
    if "\x00" in text:
        raise BodyError("invalid", "message body contains a NUL character")
    if not text:
        raise BodyError("empty", "message is empty")
    if len(text) > BODY_MAX_CHARS:
        raise BodyError(
            "too_long", f"message is {len(text):,} characters; the limit is {BODY_MAX_CHARS:,}"
        )
    return text
