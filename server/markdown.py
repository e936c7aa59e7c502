"""Message bodies: short Markdown rendered to sanitized, inert HTML."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markupsafe import Markup

from server.errors import ActionError
from server.i18n import N_

# @handle: a person's e-mail local part or a team's name (server/mentions.py resolves them).
MENTION_RE = re.compile(r"(?<![\w@])@([a-z0-9][a-z0-9._-]{0,62})", re.IGNORECASE)
BODY_MAX_CHARS = 10_000  # a long answer fits; a pasted log file does not


def _mentions(state: StateCore) -> None:
    """Turn each @handle of a person the text mentions into a link to them (not in code or
    inside another link): the caller resolved who they are (env "mentions": handle -> id)."""
    people: Mapping[str, str] = state.env.get("mentions") or {}
    if not people:
        return
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        out: list[Token] = []
        in_link = 0
        for token in block.children:
            in_link += token.type == "link_open"
            in_link -= token.type == "link_close"
            if token.type != "text" or in_link or "@" not in token.content:
                out.append(token)
                continue
            out.extend(_split(token.content, people))
        block.children = out


def _split(text: str, people: Mapping[str, str]) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    for found in MENTION_RE.finditer(text):
        handle = found.group(1).lower().rstrip("._-")
        user_id = people.get(handle)
        if user_id is None:
            continue
        end = found.start() + 1 + len(handle)
        if found.start() > at:
            tokens.append(_text(text[at : found.start()]))
        link = Token("link_open", "a", 1)
        link.attrs = {"href": f"/people/{user_id}", "class": "mention", "data-user": user_id}
        tokens += [link, _text(text[found.start() : end]), Token("link_close", "a", -1)]
        at = end
    tokens.append(_text(text[at:]))
    return tokens


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    "strikethrough"
)
_md.core.ruler.push("mentions", _mentions)

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
}  # fmt: skip
# class and data-user come from the mention rule alone: Markdown without HTML has no syntax
# for attributes.
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "class", "data-user"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


def render(body: str, mentions: Mapping[str, str] | None = None) -> str:
    """Render Markdown to HTML that cannot run script, style the page or trigger htmx;
    `mentions` (handle -> user id): the people it @mentions, linked."""
    env: dict[str, Any] = {"mentions": mentions} if mentions else {}
    raw = _md.render(body, env)
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow ugc",
    ).strip()


def clean_body(body: object, limit: int = BODY_MAX_CHARS) -> str:
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
    if len(text) > limit:
        raise ActionError(
            "too_long",
            N_("message is {length:,} characters; the limit is {limit:,}"),
            length=len(text),
            limit=limit,
        )
    return text


ARTICLE_MAX_CHARS = 100_000  # a long how-to with every step; not a manual pasted whole
HEADINGS = ("h2", "h3")  # the contents list: sections and their subsections


def render_article(body: str) -> str:
    """Render a knowledge article: as a message, plus an id on each section heading (h2, h3)
    for the contents list (`contents_of`). Ids start with "h-" so no heading can take the id
    of a part of the page."""
    tokens = _md.parse(body, {})
    taken: set[str] = set()
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or token.tag not in HEADINGS:
            continue
        text = tokens[index + 1].content.strip()
        slug = "h-" + ("-".join(re.findall(r"\w+", text.lower())) or "section")[:60]
        while slug in taken:
            slug += "-"
        taken.add(slug)
        token.attrSet("id", slug)
    raw = _md.renderer.render(tokens, _md.options, {})
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes={**ALLOWED_ATTRIBUTES, **{tag: {"id"} for tag in HEADINGS}},
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow ugc",
    ).strip()


_HEADING_RE = re.compile(r'<(h[23]) id="([^"]+)">(.*?)</h[23]>', re.DOTALL)


def contents_of(html: str) -> list[tuple[int, str, str]]:
    """Return an article's contents list (level, text, id) from its stored HTML: the
    headings `render_article` gave an id, without rendering the article again."""
    return [
        (int(tag[1]), Markup(text).striptags(), anchor)  # noqa: S704 - our sanitised HTML, made plain text
        for tag, anchor, text in _HEADING_RE.findall(html)
    ]


def clean_article(body: object) -> str:
    """Return an article's text stripped, or raise ActionError (as a message, but longer)."""
    if isinstance(body, str) and len(body.strip()) > ARTICLE_MAX_CHARS:
        raise ActionError(
            "too_long",
            N_("the article is {length:,} characters; the limit is {limit:,}"),
            length=len(body.strip()),
            limit=ARTICLE_MAX_CHARS,
        )
    return clean_body(body, ARTICLE_MAX_CHARS)
