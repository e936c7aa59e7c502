"""E-mail: mails going out (a durable queue sent by a worker in every server process), the
signed tokens their links carry, and rendering them from templates in a person's language.

- `outbox` — `Mail` and `queue_mail`, the one way to send a mail
- `compose` — `render_mail` from web/templates/mail/<name>.txt / .html
- `tokens` — signed, purpose-bound, expiring tokens for links and addresses
- `worker` — claims due mails and sends them (`MailWorker`, started by server/app.py)
- `sender` — SMTP through aiosmtplib, the only importer, with its failure outcomes
"""
