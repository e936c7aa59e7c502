"""Message bodies: short Markdown rendered to sanitized, inert HTML."""

from __future__ import annotations

from typing import Any

import nh3
from markdown_it import MarkdownIt

from server.i18n import N_, localize

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
    """A message body that cannot be stored, with a message for the user (see ActionError)."""

    def __init__(self, code: str, template: str, /, **params: Any) -> None:
        self.code = code
        self.template = template
        self.params = params
        self.message = template.format(**params) if params else template
        super().__init__(self.message)

    def localized(self, language: str) -> str:
        return localize(self.template, self.params, language)


def clean_body(body: object) -> str:
    """Return the body stripped of outer whitespace, or raise BodyError."""
    if not isinstance(body, str):
        raise BodyError(
            "invalid", N_("message body must be text, not {kind}"), kind=type(body).__name__
        )
    text = body.replace("\r\n", "\n").strip()
    if "\x00" in text:
        raise BodyError("invalid", N_("message body contains a NUL character"))
    if not text:
        raise BodyError("empty", N_("message is empty"))
    if len(text) > BODY_MAX_CHARS:
        raise BodyError(
            "too_long",
            N_("message is {length:,} characters; the limit is {limit:,}"),
            length=len(text),
            limit=BODY_MAX_CHARS,
        )
    return text
