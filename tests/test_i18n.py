"""Every marked string has a German translation, and each request gets the right language."""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from starlette.testclient import TestClient

from server.i18n import LOCALE_DIR, gettext_for, negotiate
from tests.conftest import csrf_of, signup

ROOT = Path(__file__).resolve().parent.parent
MAPPING = LOCALE_DIR / "babel.cfg"
TEMPLATE = LOCALE_DIR / "messages.pot"
GERMAN = LOCALE_DIR / "de" / "LC_MESSAGES" / "messages.po"
UPDATE_HINT = "run the commands in web/locale/README.md"
PERCENT_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%]")


@cache
def marked_strings() -> dict[str, list[str]]:
    """Extract the text marked for translation in templates and server code, like pybabel."""
    with MAPPING.open() as f:
        method_map, options_map = parse_mapping_cfg(f, str(MAPPING))  # type: ignore[no-untyped-call]
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(["translate:3", "N_"])}
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        msgid = message[0] if isinstance(message, tuple) else message  # plurals: the singular
        if msgid:
            found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def placeholders(text: str) -> Counter[str]:
    """Return the `{name}` and `%(name)s` placeholders in a message, counted."""
    braces = [
        "{" + name + (f":{spec}" if spec else "") + "}"
        for _, name, spec, _ in string.Formatter().parse(text)
        if name is not None
    ]
    return Counter(braces + PERCENT_PLACEHOLDER.findall(text))


def test_templates_and_server_code_mark_strings_for_translation() -> None:
    found = marked_strings()
    assert "Sign in" in found
    assert any(place.startswith("web/templates/") for place in found["Sign in"])
    # translate(request, user, "...") takes its message from the third argument.
    assert "E-mail or password is wrong." in found
    assert found["E-mail or password is wrong."][0].startswith("server/")


def test_every_marked_string_has_a_german_translation_that_is_not_fuzzy() -> None:
    german = load(GERMAN, "de")
    missing = []
    for msgid, places in sorted(marked_strings().items()):
        entry = german.get(msgid)
        if entry is None:
            missing.append(f"{places[0]}: {msgid!r} is not in the German catalog")
            continue
        strings = texts(entry.string)
        if entry.fuzzy:
            missing.append(f"{places[0]}: {msgid!r} is marked fuzzy")
        elif not all(s and s.strip() for s in strings):
            missing.append(f"{places[0]}: {msgid!r} has no German text")
    assert not missing, f"{UPDATE_HINT}, then translate:\n" + "\n".join(missing)


def texts(string: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """A catalog entry's translation(s): one text, or one per plural form."""
    if string is None:
        return ()
    return (string,) if isinstance(string, str) else tuple(string)


def test_the_translation_template_lists_exactly_the_marked_strings() -> None:
    listed = {str(m.id[0] if isinstance(m.id, tuple) else m.id) for m in load(TEMPLATE) if m.id}
    assert listed == set(marked_strings()), f"messages.pot is out of date: {UPDATE_HINT}"


def test_the_compiled_catalogs_are_the_sources_compiled() -> None:
    """The server reads the .mo files: each must say what its .po says (pybabel compile)."""
    for po in LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"):
        language = po.parent.parent.name
        source = {
            texts(entry.id): texts(entry.string)
            for entry in load(po, language)
            if entry.id and entry.string and not entry.fuzzy
        }
        with po.with_suffix(".mo").open("rb") as f:
            compiled = {texts(entry.id): texts(entry.string) for entry in read_mo(f) if entry.id}
        assert compiled == source, f"{po.with_suffix('.mo')} is stale: {UPDATE_HINT}"


@pytest.mark.parametrize(("count", "german"), [(1, "1 neue Antwort"), (2, "2 neue Antworten")])
def test_plural_forms_come_from_the_catalog(count: int, german: str) -> None:
    singular = "{count} new reply, the latest from {name}: {text}"
    plural = "{count} new replies, the latest from {name}: {text}"
    text = gettext_for("de").ngettext(singular, plural, count).format(count=count, name="", text="")
    assert text.startswith(german)
    english = gettext_for("en").ngettext(singular, plural, count).format(count=count, name="",
                                                                          text="")  # fmt: skip
    assert english.startswith(f"{count} new repl")


def test_german_translations_keep_the_placeholders_of_the_english_text() -> None:
    wrong = []
    for entry in load(GERMAN, "de"):
        if not entry.id or not entry.string:
            continue
        ids = texts(entry.id)
        strings = texts(entry.string)
        for text in strings:
            if text and placeholders(text) != placeholders(ids[-1 if len(ids) > 1 else 0]):
                wrong.append(f"{entry.id!r} -> {text!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_the_german_catalog_has_no_stray_percent_signs_that_would_break_newstyle_gettext() -> None:
    # Jinja's newstyle gettext formats every result with `%`, so a lone "%" raises when rendered
    # (a named placeholder such as "%(num)d" in a plural is fine: it gets its number).
    class Numbers(dict[str, int]):
        def __missing__(self, key: str) -> int:
            return 1

    for entry in load(GERMAN, "de"):
        strings = texts(entry.string)
        for text in strings:
            if entry.id and text:
                text % Numbers()  # noqa: B018 - raises ValueError on a bare "%"


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("de-DE,de;q=0.9", "de"),
        ("de-AT", "de"),
        ("de-CH;q=0.8, fr", "de"),
        ("fr;q=1, de;q=0.5", "de"),
        ("en;q=0.1, de", "de"),
        ("en-GB,en;q=0.9,de;q=0.8", "en"),
        ("fr", "en"),
        ("*", "en"),
        ("de;q=0", "en"),
        ("", "en"),
        (None, "en"),
        ("DE", "de"),
    ],
)
def test_the_browser_language_picks_german_or_falls_back_to_english(
    accept_language: str | None, expected: str
) -> None:
    assert negotiate(accept_language) == expected


@pytest.mark.parametrize(
    ("accept_language", "preferred", "expected"),
    [("de-DE,de;q=0.9", "en", "en"), ("en-US,en;q=0.9", "de", "de"), ("fr", "de", "de")],
)
def test_the_users_language_setting_wins_over_the_browser(
    accept_language: str, preferred: str, expected: str
) -> None:
    assert negotiate(accept_language, preferred) == expected


def test_an_unknown_or_empty_setting_leaves_the_choice_to_the_browser() -> None:
    assert negotiate("de-DE", "") == "de"
    assert negotiate("de-DE", "xx") == "de"


def test_the_sign_in_page_is_german_for_a_german_browser(client: TestClient) -> None:
    r = client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert r.status_code == 200
    assert '<html lang="de">' in r.text
    assert "<h1>Anmelden</h1>" in r.text
    assert "Passwort" in r.text
    assert "Sign in" not in r.text
    assert "Accept-Language" in r.headers["vary"]


def test_the_sign_in_page_is_english_for_an_english_or_unknown_browser(client: TestClient) -> None:
    for header in ("en-US,en;q=0.9", "fr"):
        r = client.get("/login", headers={"Accept-Language": header})
        assert r.status_code == 200
        assert '<html lang="en">' in r.text
        assert "<h1>Sign in</h1>" in r.text
        assert "Anmelden" not in r.text


def test_a_failed_sign_in_explains_the_error_in_german(client: TestClient) -> None:
    r = client.post(
        "/login",
        data={"email": "nobody@example.org", "password": "wrong", "csrftoken": csrf_of(client)},
        headers={"Accept-Language": "de"},
    )
    assert r.status_code == 400
    assert "E-Mail-Adresse oder Passwort ist falsch." in r.text


def test_a_saved_language_setting_wins_over_the_browser_on_every_page(client: TestClient) -> None:
    signup(client, "frau.weber@example.org", "Frau Weber")
    r = client.post(
        "/settings",
        data={"language": "de", "csrftoken": csrf_of(client)},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 200  # followed the redirect to /settings?saved=1
    assert '<html lang="de">' in r.text
    assert "Gespeichert." in r.text
    r = client.get("/threads", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="de">' in r.text
    assert "Unterhaltungen" in r.text
