"""Settings: the only reader of the environment."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from starlette.config import Config
from starlette.datastructures import CommaSeparatedStrings, Secret

DEFAULT_DATA_DIR = Path("data")
DEFAULT_COMPANY = "Dreiklang"  # neutral; `dreiklang demo` names its demo company instead
HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
MIN_CONTRAST = 4.5  # WCAG AA for text: links and button labels are drawn in this colour
# The roles of server/models/people.py Role, spelled out here because settings sit below the models
# (tests/test_posting_limits.py checks they agree).
ROLES = ("customer", "employee", "moderator", "admin")
# Posts (messages and new threads) a minute per role: a person typing fast in a live chat stays
# under it, a script or a stuck client does not. Staff answer many threads at once.
DEFAULT_POSTS_PER_MINUTE = "customer=10,employee=60,moderator=120,admin=120"

Count = TypeVar("Count", int, float)


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know about its deployment."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    secret_key: Secret = field(default_factory=lambda: Secret(""))
    host: str = "127.0.0.1"
    port: int = 8000
    allowed_origins: tuple[str, ...] = ()
    broker_url: str = "memory://"
    ratelimit_url: str = "memory://"
    login_attempts_per_minute: int = 10
    https_cookies: bool = False
    debug: bool = False
    app_name: str = "Dreiklang"
    app_short_name: str = "Dreiklang"
    theme_color: str = "#1f6f5c"
    background_color: str = "#f6f7f5"
    push_enabled: bool = True
    push_in_process: bool = False
    vapid_private_key: Secret = field(default_factory=lambda: Secret(""))
    vapid_subject: str = "mailto:push@dreiklang.invalid"
    push_service_hosts: tuple[str, ...] = ()
    push_test_endpoint_prefix: str = ""
    push_concurrency: int = 16
    ws_write_timeout: float = 30.0  # seconds a send may wait on a client that stopped reading
    ws_frame_burst: int = 500  # inbound frames a socket may send at once (200 subscribes + outbox)
    ws_frames_per_second: float = 100.0  # and on average; a browser sends about one a second
    company_name: str = ""  # "" = not set: DEFAULT_COMPANY
    company_logo_url: str = ""
    company_color: str = ""  # "" = not set: THEME_COLOR
    claim_minutes: float = 20.0  # "I'm answering" ends by itself after this long without a reply
    escalate_minutes: float = 60.0  # a customer waiting this long alerts moderators, team leads
    flags_to_hide: int = 3  # this many people flagging a post hide it until a moderator looks
    hold_first_posts: int = 0  # a new customer's first posts wait for a moderator (0: none)
    # Posts a minute by role name; a role left out (or 0) has no limit.
    posts_per_minute: Mapping[str, int] = field(
        default_factory=lambda: role_limits(DEFAULT_POSTS_PER_MINUTE)
    )
    newcomer_hours: float = 24.0  # a customer account younger than this is a newcomer
    newcomer_max_links: int = 2  # links a newcomer may put in one message (0: none)
    # Attachments (photos and files). "" = the local disk under DATA_DIR/files; several
    # processes or machines share s3://bucket?endpoint=https://...&region=... instead.
    storage_url: str = ""
    attachment_max_mb: float = 25.0  # one file, as uploaded (a phone photo is 2-12 MB)
    attachments_per_message: int = 10
    attachment_daily_mb: float = 200.0  # what one person may upload a day (0: no limit)
    # E-mail. SMTP_URL "" = no mail server: mails are written to the log instead, and the pages
    # that would send one say that e-mail is not set up.
    smtp_url: str = ""  # smtp://host:587 (STARTTLS when offered), smtps://host:465 (TLS)
    smtp_user: str = ""
    smtp_password: Secret = field(default_factory=lambda: Secret(""))
    mail_from: str = "Dreiklang <noreply@dreiklang.invalid>"
    public_url: str = ""  # https://care.example.com: links in mails ("" = http://HOST:PORT)
    mail_listen: str = ""  # host:port of the inbound SMTP (or LMTP) listener ("" = none)
    mail_lmtp: bool = False  # the listener speaks LMTP (behind a mail server) instead of SMTP
    mail_reply_domain: str = ""  # replies go to reply+TOKEN@this domain ("" = no replies by mail)
    mail_support_address: str = ""  # support@...: a mail to it starts a question ("" = off)
    mail_require_auth: bool = False  # inbound mail needs SPF or DKIM "pass" from a trusted relay
    mail_trusted_authserv_id: str = ""  # that relay's Authentication-Results authserv-id
    mail_max_mb: float = 25.0  # inbound mail larger than this is refused (SMTP 552)
    email_batch_minutes: float = 5.0  # notification mails wait this long: a reply storm is one mail

    @property
    def company(self) -> str:
        """The name of the company whose customers and staff talk here."""
        return self.company_name or DEFAULT_COMPANY

    @property
    def accent_color(self) -> str:
        """The company's colour: links, buttons and the browser's theme colour."""
        return self.company_color or self.theme_color

    @property
    def mail_enabled(self) -> bool:
        """Tell whether mails go to a mail server (else they are only written to the log)."""
        return bool(self.smtp_url)

    @property
    def base_url(self) -> str:
        """The address links in mails start with."""
        return self.public_url or f"http://{self.host}:{self.port}"

    def with_overrides(self, **changes: object) -> Settings:
        """Return a copy with some fields replaced (tests, CLI flags)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def sqlite_path(self) -> Path | None:
        """Return the SQLite file of the database URL, if it is one."""
        if self.database_url.startswith("sqlite://"):
            path = self.database_url.removeprefix("sqlite://")
            return None if path == ":memory:" else Path(path)
        return None

    def origin_allowed(self, origin: str | None, host_header: str | None) -> bool:
        """Tell whether a browser Origin may open a socket to this server.

        The server's own origin (the Host the client connected to) is always allowed;
        ALLOWED_ORIGINS adds others, such as a front end served from another host.
        """
        if origin is None:
            return True  # non-browser clients send no Origin; they authenticate by token
        if origin in self.allowed_origins:
            return True
        return host_header is not None and origin in (
            f"http://{host_header}",
            f"https://{host_header}",
        )


def load_settings(env_file: str | None = None) -> Settings:
    """Read settings from the environment, filling laptop defaults."""
    config = Config(env_file)
    data_dir = Path(config("DATA_DIR", default=str(DEFAULT_DATA_DIR)))
    database_url = config("DATABASE_URL", default="")
    if not database_url:
        database_url = f"sqlite://{data_dir / 'dreiklang.sqlite3'}"
    secret = Secret(str(config("SECRET_KEY", default="")))
    if not str(secret):
        secret = Secret(persisted_secret(data_dir))
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=secret,
        host=config("HOST", default="127.0.0.1"),
        port=config("PORT", cast=int, default=8000),
        allowed_origins=tuple(config("ALLOWED_ORIGINS", cast=CommaSeparatedStrings, default="")),
        broker_url=config("BROKER_URL", default="memory://"),
        ratelimit_url=config("RATELIMIT_URL", default="memory://"),
        login_attempts_per_minute=config("LOGIN_ATTEMPTS_PER_MINUTE", cast=int, default=10),
        https_cookies=config("HTTPS_COOKIES", cast=bool, default=False),
        debug=config("DEBUG", cast=bool, default=False),
        app_name=config("APP_NAME", default="Dreiklang"),
        app_short_name=config("APP_SHORT_NAME", default="Dreiklang"),
        theme_color=config("THEME_COLOR", default="#1f6f5c"),
        background_color=config("BACKGROUND_COLOR", default="#f6f7f5"),
        push_enabled=config("PUSH_ENABLED", cast=bool, default=True),
        push_in_process=config("PUSH_IN_PROCESS", cast=bool, default=False),
        vapid_private_key=Secret(str(config("VAPID_PRIVATE_KEY", default=""))),
        vapid_subject=config("VAPID_SUBJECT", default="mailto:push@dreiklang.invalid"),
        push_service_hosts=tuple(
            config("PUSH_SERVICE_HOSTS", cast=CommaSeparatedStrings, default="")
        ),
        push_test_endpoint_prefix=config("PUSH_TEST_ENDPOINT_PREFIX", default=""),
        push_concurrency=config("PUSH_CONCURRENCY", cast=int, default=16),
        ws_write_timeout=config("WS_WRITE_TIMEOUT", cast=float, default=30.0),
        ws_frame_burst=config("WS_FRAME_BURST", cast=int, default=500),
        ws_frames_per_second=config("WS_FRAMES_PER_SECOND", cast=float, default=100.0),
        company_name=config("COMPANY_NAME", default="").strip(),
        company_logo_url=company_logo(config("COMPANY_LOGO_URL", default="")),
        company_color=company_colour(config("COMPANY_COLOR", default="")),
        claim_minutes=config("CLAIM_MINUTES", cast=float, default=20.0),
        escalate_minutes=config("ESCALATE_MINUTES", cast=float, default=60.0),
        flags_to_hide=config("FLAGS_TO_HIDE", cast=int, default=3),
        hold_first_posts=config("HOLD_FIRST_POSTS", cast=int, default=0),
        posts_per_minute=role_limits(config("POSTS_PER_MINUTE", default=DEFAULT_POSTS_PER_MINUTE)),
        newcomer_hours=at_least_zero(
            "NEWCOMER_HOURS", config("NEWCOMER_HOURS", cast=float, default=24.0)
        ),
        newcomer_max_links=at_least_zero(
            "NEWCOMER_MAX_LINKS", config("NEWCOMER_MAX_LINKS", cast=int, default=2)
        ),
        storage_url=config("STORAGE_URL", default=""),
        attachment_max_mb=at_least_zero(
            "ATTACHMENT_MAX_MB", config("ATTACHMENT_MAX_MB", cast=float, default=25.0)
        ),
        attachments_per_message=at_least_zero(
            "ATTACHMENTS_PER_MESSAGE", config("ATTACHMENTS_PER_MESSAGE", cast=int, default=10)
        ),
        attachment_daily_mb=at_least_zero(
            "ATTACHMENT_DAILY_MB", config("ATTACHMENT_DAILY_MB", cast=float, default=200.0)
        ),
        smtp_url=config("SMTP_URL", default=""),
        smtp_user=config("SMTP_USER", default=""),
        smtp_password=Secret(str(config("SMTP_PASSWORD", default=""))),
        mail_from=config("MAIL_FROM", default="Dreiklang <noreply@dreiklang.invalid>"),
        public_url=config("PUBLIC_URL", default="").rstrip("/"),
        mail_listen=config("MAIL_LISTEN", default=""),
        mail_lmtp=config("MAIL_LMTP", cast=bool, default=False),
        mail_reply_domain=config("MAIL_REPLY_DOMAIN", default="").strip().lower(),
        mail_support_address=config("MAIL_SUPPORT_ADDRESS", default="").strip().lower(),
        mail_require_auth=config("MAIL_REQUIRE_AUTH", cast=bool, default=False),
        mail_trusted_authserv_id=config("MAIL_TRUSTED_AUTHSERV_ID", default="").strip(),
        mail_max_mb=at_least_zero("MAIL_MAX_MB", config("MAIL_MAX_MB", cast=float, default=25.0)),
        email_batch_minutes=at_least_zero(
            "EMAIL_BATCH_MINUTES", config("EMAIL_BATCH_MINUTES", cast=float, default=5.0)
        ),
    )


def role_limits(value: str) -> dict[str, int]:
    """Parse POSTS_PER_MINUTE, "customer=10,employee=60": posts a minute by role ("" = none)."""
    limits: dict[str, int] = {}
    for entry in value.split(","):
        if not entry.strip():
            continue
        role, equals, number = (part.strip() for part in entry.partition("="))
        if not equals or not (number.isascii() and number.isdigit()):
            raise ValueError(
                f"POSTS_PER_MINUTE must be role=number pairs like {DEFAULT_POSTS_PER_MINUTE!r}, "
                f"not {entry.strip()!r}"
            )
        if role not in ROLES:
            raise ValueError(
                f"POSTS_PER_MINUTE names an unknown role {role!r}: use {', '.join(ROLES)}"
            )
        if role in limits:
            raise ValueError(f"POSTS_PER_MINUTE gives the role {role!r} twice: {value!r}")
        limits[role] = int(number)
    return limits


def at_least_zero(name: str, value: Count) -> Count:
    """Refuse a negative (or NaN) count or duration."""
    if not value >= 0:
        raise ValueError(f"{name} must be 0 or more, not {value!r}")
    return value


def company_colour(value: str) -> str:
    """Check a company colour: #rgb or #rrggbb, dark enough for text on white ("" = unset)."""
    value = value.strip()
    if not value:
        return ""
    if not HEX_COLOUR.fullmatch(value):
        raise ValueError(f"COMPANY_COLOR must be a colour like #1f6f5c, not {value!r}")
    contrast = 1.05 / (relative_luminance(value) + 0.05)
    if contrast < MIN_CONTRAST:
        raise ValueError(
            f"COMPANY_COLOR {value!r} is too light for text on white "
            f"(contrast {contrast:.1f}:1, needs {MIN_CONTRAST}:1): choose a darker shade"
        )
    return value.lower()


def company_logo(value: str) -> str:
    """Check a logo's address: a path on this server or an http(s) URL ("" = none)."""
    value = value.strip()
    if value and not value.startswith(("/", "https://", "http://")):
        raise ValueError(f"COMPANY_LOGO_URL must start with /, https:// or http://: {value!r}")
    return value


def relative_luminance(hex_colour: str) -> float:
    """Return a #rgb/#rrggbb colour's relative luminance (WCAG 2)."""
    digits = hex_colour[1:]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def persisted_secret(data_dir: Path) -> str:
    """Return the secret key kept in the data folder, creating it on first run."""
    path = data_dir / "secret_key"
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
        path.unlink()  # an empty file (a crash while writing) must not mean an empty key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Create the file readable by its owner only from the start, never world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
