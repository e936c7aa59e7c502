"""Mail text as people wrote it: HTML mail sanitised as messages are and made plain text,
and format=flowed text (RFC 3676) joined back into its paragraphs."""

from __future__ import annotations

from html.parser import HTMLParser

import nh3

from server.markdown import URL_SCHEMES

# What survives sanitising: structure that becomes line breaks, quotes, and links. Script,
# style and everything else go, as in a message (server/markdown.py).
KEPT_TAGS = {"p", "div", "br", "blockquote", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4",
             "h5", "h6", "pre", "hr", "a", "table", "td", "th", "span", "b", "i", "strong",
             "em"}  # fmt: skip
BLOCKS = {"p", "div", "blockquote", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
          "pre", "table"}  # fmt: skip
OUTLOOK_SEPARATOR = "_" * 32  # what the reply parser knows as the start of a quoted Outlook mail
DROPPED = {"head", "title", "script", "style", "template", "noscript"}


class _Text(HTMLParser):
    """Sanitised HTML to text: blocks become lines, quotes "> " lines, links "text <url>"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote = 0
        self.href: list[str] = []

    def _break(self) -> None:
        line = " ".join("".join(self.current).split())
        self.current = []
        if line:
            self.lines.append("> " * self.quote + line)
        elif self.lines and self.lines[-1]:
            self.lines.append("")  # one blank line between blocks

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._break()
        elif tag == "hr":
            self._break()
            self.lines += ["", OUTLOOK_SEPARATOR]
        elif tag in BLOCKS:
            self._break()
            if tag == "blockquote":
                self.quote += 1
        if tag == "a":
            self.href.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCKS:
            self._break()
            if tag == "blockquote" and self.quote:
                self.quote -= 1
        if tag == "a" and self.href:
            href = self.href.pop()
            shown = "".join(self.current)
            if href and href.startswith(("http://", "https://")) and href not in shown:
                self.current.append(f" <{href}>")

    def handle_data(self, data: str) -> None:
        self.current.append(data)


def html_to_text(html: str) -> str:
    """Sanitise HTML as messages are, then return its text with quotes marked "> "."""
    clean = nh3.clean(
        html,
        tags=KEPT_TAGS,
        clean_content_tags=DROPPED,
        attributes={"a": {"href"}},
        url_schemes=URL_SCHEMES,
        link_rel=None,
    )
    parser = _Text()
    parser.feed(clean)
    parser.close()
    parser._break()
    return "\n".join(parser.lines).strip()


def unflow(text: str, delsp: bool = False) -> str:
    """Join format=flowed lines (a trailing space means "continued") into paragraphs."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = -1
    for raw in text.replace("\r\n", "\n").split("\n"):
        depth = len(raw) - len(raw.lstrip(">"))
        line = raw[depth:]
        if line.startswith(" "):  # space-stuffing (RFC 3676 section 4.4)
            line = line[1:]
        if pending is not None and depth == pending_depth:
            line = pending + line
        elif pending is not None:
            out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
        pending = None
        if line.endswith(" ") and line != "-- ":
            pending, pending_depth = (line[:-1] if delsp else line), depth
            continue
        out.append(">" * depth + (" " if depth else "") + line)
    if pending is not None:
        out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
    return "\n".join(out)
