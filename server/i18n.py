"""Languages: gettext catalogs (English source, German) and choosing one per request."""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError, negotiate_locale
from babel.numbers import format_decimal
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "web" / "locale"
LANGUAGES = ("en", "de")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}
DOMAIN = "messages"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """Return the compiled catalog of a language (`web/locale/<lang>/LC_MESSAGES/messages.mo`,
    with its plural rule); English is the source text itself."""
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    found = Translations.load(str(LOCALE_DIR), [language], DOMAIN)
    if not isinstance(found, Translations):  # babel returns NullTranslations for a missing file
        raise FileNotFoundError(f"no compiled catalog for {language!r} in {LOCALE_DIR}")
    return found


def negotiate(accept_language: str | None, preferred: str = "") -> str:
    """Choose the UI language: the user's setting, else the browser's, else English."""
    if preferred in LANGUAGES:
        return preferred
    if not accept_language:
        return DEFAULT_LANGUAGE
    wanted = []
    for part in accept_language.split(","):
        tag = part.split(";", 1)[0].strip()
        q = 1.0
        if ";q=" in part:
            try:
                q = float(part.split(";q=", 1)[1])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            wanted.append((q, tag.replace("-", "_")))
    wanted.sort(key=lambda pair: -pair[0])
    found = negotiate_locale([tag for _, tag in wanted], list(LANGUAGES), sep="_")
    if found is None:
        # "de-AT" should still pick German even if only "de" is offered.
        for _, tag in wanted:
            try:
                lang = Locale.parse(tag).language
            except (ValueError, UnknownLocaleError):
                continue
            if lang in LANGUAGES:
                return lang
    # babel matches case-insensitively but returns the header's spelling ("DE"): normalise.
    return found.lower() if found and found.lower() in LANGUAGES else DEFAULT_LANGUAGE


def gettext_for(language: str) -> gettext.NullTranslations:
    """Return translations usable in Python code (errors, frames)."""
    return translations(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def N_(message: str) -> str:  # noqa: N802 - the name gettext tools know
    """Mark text for extraction without translating it; it is translated when shown."""
    return message


class _Number:
    """An integer whose `{n:,}` groups digits the way the language does (10,000 / 10.000)."""

    __slots__ = ("language", "value")

    def __init__(self, value: int, language: str) -> None:
        self.value = value
        self.language = language

    def __format__(self, spec: str) -> str:
        if spec == ",":
            return format_decimal(self.value, locale=self.language)
        return format(self.value, spec)

    def __repr__(self) -> str:
        return repr(self.value)


def localize(template: str, params: dict[str, Any], language: str) -> str:
    """Translate a message template marked with N_() and fill in its `{placeholders}`.

    Without params the text is not formatted, so a plain sentence may contain braces.
    """
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    text = gettext_for(language).gettext(template)
    if not params:
        return text
    values = {
        k: _Number(v, language) if type(v) is int else v  # bool is an int, but not a number
        for k, v in params.items()
    }
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        # A translation with a broken placeholder must not turn an error into a crash.
        return template.format(**params)
