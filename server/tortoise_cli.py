"""Configuration for tortoise-orm's own CLI, used when writing a new migration:

.venv/bin/python -m tortoise -c server.tortoise_cli.TORTOISE_ORM makemigrations
"""

from __future__ import annotations

from server.db import tortoise_config
from server.settings import load_settings

TORTOISE_ORM = tortoise_config(load_settings())
