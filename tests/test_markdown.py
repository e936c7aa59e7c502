"""Message bodies: Markdown renders to inert HTML, and bodies are checked before they are stored."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt
from starlette.testclient import TestClient

import server.markdown
from server.errors import ActionError
from server.markdown import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    BODY_MAX_CHARS,
    clean_body,
    render,
)
from tests.conftest import csrf_of, signup

pytestmark = pytest.mark.usefixtures("fast_passwords")

SAFE_SCHEMES = {"http", "https", "mailto"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "srcset", "xlink:href", "poster"}


class Elements(HTMLParser):
    """Collect every start tag with its attributes (values unescaped, as a browser reads them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser.found


def scheme_of(url: str) -> str | None:
    """Return the scheme a browser would see in a URL attribute (None: a relative URL)."""
    # Browsers drop leading/trailing C0 controls and spaces, and tabs and newlines anywhere.
    cleaned = re.sub(r"[\t\n\r]", "", url).strip("".join(map(chr, range(0x21))))
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.\-]*):", cleaned)
    return match.group(1).lower() if match else None


def assert_inert(html: str) -> None:
    """Only allowed tags and attributes, and only safe URL schemes, survive."""
    for tag, attrs in elements(html):
        assert tag in ALLOWED_TAGS, (tag, html)
        allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        for name, value in attrs.items():
            assert name in allowed, (tag, name, html)
            assert not name.startswith(("on", "hx-", "data-", "style")), (name, html)
            if name in URL_ATTRIBUTES:
                scheme = scheme_of(value)
                assert scheme is None or scheme in SAFE_SCHEMES, (value, html)
        if tag == "a" and "href" in attrs:
            assert attrs["rel"] == "noopener noreferrer nofollow ugc"


ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<p onclick=alert(1)>click</p>",
    '<a href="#" onmouseover="alert(1)">hover</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click](java&#x0A;script:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    '<a href="javascript:alert(1)">raw link</a>',
    '<a href="JaVaScRiPt:alert(1)">raw link</a>',
    '<a href="java&#x09;script:alert(1)">raw link</a>',
    '<a href="&#x20;javascript:alert(1)">raw link</a>',
    '<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">raw link</a>',
    '<a href="vbscript:msgbox(1)">raw link</a>',
    "[click](vbscript:msgbox(1))",
    "[click](VBScript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](DATA:text/html,<script>alert(1)</script>)",
    "![pixel](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![pixel](https://evil.example/track.png)",
    '![x](x "onerror=alert(1)")',
    '<div hx-get="/admin" hx-trigger="load">x</div>',
    '<button hx-post="/messages/abc/delete">x</button>',
    '<p hx-on:click="alert(1)" hx-on::load="alert(1)">x</p>',
    '<span data-hx-get="/admin" data-hx-trigger="load">x</span>',
    '<a href="/x" hx-boost="true">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<style>body{display:none}</style>",
    '<p style="position:fixed;inset:0">cover</p>',
    '<form action="/logout" method="post"><button>go</button></form>',
    '<input autofocus onfocus="alert(1)">',
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    "<math><mtext><script>alert(1)</script></mtext></math>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="https://evil.example/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<template><script>alert(1)</script></template>",
    "<!-- <script>alert(1)</script> -->",
    '[x](https://example.org "title" onclick="alert(1)")',
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
]


@pytest.mark.parametrize("body", ATTACKS)
def test_hostile_markdown_renders_inert(body: str) -> None:
    assert_inert(render(body))


@pytest.fixture
def raw_html_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let raw HTML through the Markdown parser, so only the sanitizer stands in the way."""
    monkeypatch.setattr(server.markdown, "_md", MarkdownIt("commonmark", {"html": True}))


@pytest.mark.parametrize("body", ATTACKS)
def test_the_sanitizer_alone_makes_raw_html_inert(raw_html_allowed: None, body: str) -> None:
    """Defence in depth: even if the parser passed raw HTML on, nothing active survives."""
    html = render(body)
    assert_inert(html)
    assert "<script" not in html.lower()


def test_raw_html_typed_in_a_message_is_shown_as_text() -> None:
    html = render('<script>alert(1)</script> and <b onclick="x()">bold</b>')
    assert html == (
        '<p>&lt;script&gt;alert(1)&lt;/script&gt; and &lt;b onclick="x()"&gt;bold&lt;/b&gt;</p>'
    )


@pytest.mark.parametrize(
    ("body", "html"),
    [
        ("Hello *world*", "<p>Hello <em>world</em></p>"),
        (
            "**bold** and _it_ and ~~gone~~",
            "<p><strong>bold</strong> and <em>it</em> and <s>gone</s></p>",
        ),
        (
            "[Stadtwerke](https://example.org/a?b=1&c=2 \"Home\")",
            '<p><a href="https://example.org/a?b=1&amp;c=2" title="Home" '
            'rel="noopener noreferrer nofollow ugc">Stadtwerke</a></p>',
        ),
        (
            "[mail us](mailto:service@example.org)",
            '<p><a href="mailto:service@example.org" rel="noopener noreferrer nofollow ugc">'
            "mail us</a></p>",
        ),
        (
            "[the thread](/threads/abc#msg-1)",
            '<p><a href="/threads/abc#msg-1" rel="noopener noreferrer nofollow ugc">'
            "the thread</a></p>",
        ),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'),
        ("Run `ls -l <dir>`", "<p>Run <code>ls -l &lt;dir&gt;</code></p>"),
        ("```python\nif a < b:\n    pass\n```", "<pre><code>if a &lt; b:\n    pass\n</code></pre>"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        ("## Heading", "<h2>Heading</h2>"),
        ("line one\nline two", "<p>line one\nline two</p>"),
        ("a\\\nb", "<p>a<br>\nb</p>"),
        ("---", "<hr>"),
        ("1.8.0 is the meter reading", "<p>1.8.0 is the meter reading</p>"),
        ("Tom & Jerry <3", "<p>Tom &amp; Jerry &lt;3</p>"),
    ],
)  # fmt: skip
def test_ordinary_markdown_renders_as_expected(body: str, html: str) -> None:
    assert render(body) == html
    assert_inert(html)


def test_bare_urls_stay_text() -> None:
    """Linkify is off: only explicit links become links."""
    assert render("see https://example.org") == "<p>see https://example.org</p>"


# -- clean_body -----------------------------------------------------------------------------------


def test_clean_body_strips_outer_whitespace_and_normalizes_newlines() -> None:
    assert clean_body("  \r\n hello\r\nworld \n\t") == "hello\nworld"


def test_clean_body_accepts_exactly_the_limit() -> None:
    assert len(clean_body("x" * BODY_MAX_CHARS)) == BODY_MAX_CHARS
    assert clean_body("  " + "x" * BODY_MAX_CHARS + "\n") == "x" * BODY_MAX_CHARS
    assert len(clean_body("ü" * BODY_MAX_CHARS)) == BODY_MAX_CHARS


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ("", "empty", "empty"),
        ("   \n\t \r\n", "empty", "empty"),
        ("x" * (BODY_MAX_CHARS + 1), "too_long", "10,001 characters; the limit is 10,000"),
        ("hello\x00world", "invalid", "NUL"),
        ("\x00", "invalid", "NUL"),
        (None, "invalid", "must be text, not NoneType"),
        (42, "invalid", "must be text, not int"),
        (b"bytes", "invalid", "must be text, not bytes"),
        (["a"], "invalid", "must be text, not list"),
        ({"text": "a"}, "invalid", "must be text, not dict"),
    ],
)
def test_clean_body_refuses_what_cannot_be_stored(body: object, code: str, words: str) -> None:
    with pytest.raises(ActionError) as caught:
        clean_body(body)
    assert caught.value.code == code
    assert words in str(caught.value)


# -- through HTTP ---------------------------------------------------------------------------------


class MessageBodies(HTMLParser):
    """Collect the start tags inside each message's `<div class="body">` on a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0  # >0 while inside a message body
        self.inside: list[tuple[str, dict[str, str]]] = []
        self.bodies = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if self.depth:
            self.inside.append((tag, values))
            if tag not in ("br", "hr"):  # void elements have no end tag
                self.depth += 1
        elif tag == "div" and values.get("class") == "body":
            self.depth = 1
            self.bodies += 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def test_hostile_messages_posted_over_http_come_back_inert_in_the_thread_page(
    client: TestClient,
) -> None:
    signup(client, "mallory@example.org", "<script>alert('name')</script>")
    r = client.post(
        "/threads",
        data={"title": "<img src=x onerror=alert(1)>", "body": "First", "client_id": "t-1",
              "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    thread_url = r.headers["location"]
    for n, body in enumerate(ATTACKS):
        r = client.post(
            thread_url + "/messages",
            data={"body": body, "client_id": f"m-{n}"},
            headers={"HX-Request": "true", "x-csrftoken": csrf_of(client)},
        )
        assert r.status_code == 200, (body, r.text)
        fragment = MessageBodies()
        fragment.feed(r.text)
        assert fragment.bodies == 1
        for tag, attrs in fragment.inside:
            assert_inert(f"<{tag} " + " ".join(f'{k}="{v}"' for k, v in attrs.items()) + ">")
    page = client.get(thread_url)
    assert page.status_code == 200
    parser = MessageBodies()
    parser.feed(page.text)
    assert parser.bodies == len(ATTACKS) + 1
    for tag, attrs in parser.inside:
        assert tag in ALLOWED_TAGS, tag
        allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        assert set(attrs) <= allowed, (tag, attrs)
        for name, value in attrs.items():
            if name == "href":
                assert scheme_of(value) in (None, *SAFE_SCHEMES), value
    # Outside the message bodies the page runs only its own scripts, and titles and names
    # are text.
    everything = elements(page.text)
    scripts = [attrs.get("src", "") for tag, attrs in everything if tag == "script"]
    assert scripts and all(src.startswith("/static/") for src in scripts), scripts
    assert not [tag for tag, _ in everything if tag in ("img", "iframe", "object", "embed")]
    assert not [attrs for _, attrs in everything if any(k.startswith("on") for k in attrs)]
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in page.text
