"""Attachment bytes on the local disk (the embedded default)."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from server.storage import StorageError

CHUNK_BYTES = 256 * 1024  # what one read hands the response: big enough, small in memory


class LocalStorage:
    """Files under one folder; a write lands whole or not at all (temporary file, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`."""
        path = self._path(key)
        try:
            await anyio.to_thread.run_sync(_write, path, data)
        except OSError as exc:
            raise StorageError(f"cannot store {key!r}: {exc}") from exc

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Yield the bytes of `key` from `start` to `end` (exclusive)."""
        path = self._path(key)
        try:
            f = await anyio.open_file(path, "rb")
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc}") from exc
        async with f:
            await f.seek(start)
            left = None if end is None else end - start
            while left is None or left > 0:
                try:
                    chunk = await f.read(CHUNK_BYTES if left is None else min(CHUNK_BYTES, left))
                except OSError as exc:
                    raise StorageError(f"cannot read {key!r}: {exc}") from exc
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    async def delete(self, keys: list[str]) -> None:
        """Remove the keys' files (a missing one is fine)."""
        for key in keys:
            try:
                await anyio.Path(self._path(key)).unlink(missing_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot delete {key!r}: {exc}") from exc

    async def close(self) -> None:
        """Nothing to release."""


def _write(path: Path, data: bytes) -> None:
    """Write a temporary file and rename it over `path`: readers see the old or the new whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # pid and thread: two workers (or two threads) writing the same key don't share a temp file
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not keep half a file
        raise
