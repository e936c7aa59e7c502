"""Jinja environments, one per language, shared by pages, responses and live frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from server.assets import static_url
from server.i18n import LANGUAGES, gettext_for
from server.settings import DEFAULT_COMPANY

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "web" / "templates"


@dataclass(frozen=True, slots=True)
class Viewpoint:
    """Whom a fragment is rendered for. Staff controls are rendered only for staff; a viewer's
    own controls (edit their message, change their thread's status) for `me`, or for everyone
    when `me` is None: one fragment shared by many, where the browser shows them to the author
    alone (`[data-author=<me>] .own`)."""

    language: str
    staff: bool = False
    me: str | None = None
    company: str = DEFAULT_COMPANY

    def owns(self, author_id: str) -> bool:
        """Tell whether the fragment carries the own controls of something by this author."""
        return self.me is None or self.me == author_id

    def others(self, author_id: str) -> bool:
        """Tell whether the fragment carries controls for everyone but the author (flagging),
        hidden from the author by `[data-author=<me>] .others` when shared."""
        return self.me is None or self.me != author_id

    @property
    def staff_alone(self) -> bool:
        """Tell whether the fragment reaches this staff member alone (a page or a response):
        a live frame (`me` None) may be shared with customers, so it carries no staff link."""
        return self.staff and self.me is not None


def _isotime(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def _shorttime(value: datetime | None) -> str:
    return value.strftime("%d.%m. %H:%M") if value else ""


@cache
def environment(language: str) -> jinja2.Environment:
    """Return the template environment for one UI language."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_translations(gettext_for(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["isotime"] = _isotime
    env.filters["shorttime"] = _shorttime
    env.globals["lang"] = language
    env.globals["languages"] = LANGUAGES
    env.globals["static_url"] = static_url
    return env


def warm() -> None:
    """Load every language's catalog and compile every template now, at startup: else the
    first message after a start waits ~50 ms for it (parsing the catalog, compiling)."""
    for language in LANGUAGES:
        env = environment(language)
        for name in env.list_templates(extensions=["html"]):
            env.get_template(name)


def render(language: str, template: str, /, **context: Any) -> str:
    """Render a template (page or `_fragment`) in a language."""
    # Positional-only, so templates may take any context name (signup.html needs `name`).
    return environment(language).get_template(template).render(**context)
