"""Message bodies: short Markdown rendered to sanitized, inert HTML."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

from server.errors import ActionError
from server.i18n import N_

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


def clean_body(body: object) -> str:
    """Return the body stripped of outer whitespace, or raise ActionError."""
    if not isinstance(body, str):
        raise ActionError(
            "invalid", N_("message body must be text, not {kind}"), kind=type(body).__name__
        )
    text = body.replace("\r\n", "\n").strip()
    if "\x00" in text:
        raise ActionError("invalid", N_("message body contains a NUL character"))
    if not text:
        raise ActionError("empty", N_("message is empty"))
    if len(text) > BODY_MAX_CHARS:
        raise ActionError(
            "too_long",
            N_("message is {length:,} characters; the limit is {limit:,}"),
            length=len(text),
            limit=BODY_MAX_CHARS,
        )
    return text
