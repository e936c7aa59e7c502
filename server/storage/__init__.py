"""Where attachment bytes live: the local disk (embedded default) or S3-compatible storage.

One small interface, two back-ends (encode/broadcaster's `_backends/` shape): actions and
views call `Storage` and never know which one runs. Keys are the server's own ("ab12…/image",
"ab12…/thumb"), never a user's file name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from server.settings import Settings


class StorageError(Exception):
    """The back-end failed (disk full, bucket unreachable): the upload is refused, retryable."""


class Storage(Protocol):
    """Bytes by key."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key` (replacing what was there); raise StorageError."""

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Yield the bytes of `key` from `start` up to `end` (exclusive; None: to the end);
        raise FileNotFoundError when there is no such key."""

    async def delete(self, keys: list[str]) -> None:
        """Remove the keys; a key already gone is no error."""

    async def close(self) -> None:
        """Release connections."""


def open_storage(settings: Settings) -> Storage:
    """Return the back-end STORAGE_URL names ("" = the local disk under DATA_DIR/files)."""
    url = settings.storage_url
    if not url:
        from server.storage.local import LocalStorage

        return LocalStorage(settings.data_dir / "files")
    if url.startswith("s3://"):
        from server.storage.s3 import S3Storage

        return S3Storage.from_url(url)
    raise ValueError(f"STORAGE_URL must be empty or s3://bucket?endpoint=..., not {url!r}")
