"""Mails rendered from templates (web/templates/mail/) in the recipient's language."""

from __future__ import annotations

from jinja2 import TemplateNotFound

from server.i18n import localize
from server.mail.outbox import Mail
from server.templating import environment


def render_mail(name: str, language: str, to: str, subject: str, /, **context: object) -> Mail:
    """Render web/templates/mail/<name>.txt (and <name>.html if it exists) in `language`.

    `subject` is an English text marked with N_(): it is translated here and its
    `{placeholders}` filled from `context`."""
    env = environment(language)
    # The .txt template is rendered without HTML escaping (select_autoescape: html only).
    text = env.get_template(f"mail/{name}.txt").render(**context)
    try:
        html_template = env.get_template(f"mail/{name}.html")
    except TemplateNotFound:
        html = ""
    else:
        html = html_template.render(**context)
    title = localize(subject, dict(context), language)
    return Mail(to=to, subject=title, text=text.strip() + "\n", html=html)
