"""Attachment bytes in S3-compatible object storage (AWS, MinIO, Ceph, Garage, Hetzner…).

The only module that imports aiobotocore. Failure outcomes: a missing key is FileNotFoundError;
everything else the back-end or the network does wrong (unreachable, denied, throttled after
botocore's retries, a body cut off mid-stream) is StorageError, which the caller answers with
"storage unavailable, try again". Credentials come from the standard AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY environment (botocore's own chain), never from STORAGE_URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import anyio
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from server.storage import StorageError

CHUNK_BYTES = 256 * 1024  # what one read hands the response: big enough, small in memory
DELETE_BATCH = 1000  # S3's limit of keys per DeleteObjects request
CONNECT_TIMEOUT_SECONDS = 5  # a bucket that doesn't answer in 5 s is down: fail the upload fast
READ_TIMEOUT_SECONDS = 60  # a 25 MB object over a slow link to the bucket still arrives
RETRY_ATTEMPTS = 3  # botocore's "standard" mode: throttling and 5xx retried with backoff
_MISSING = {"NoSuchKey", "404", "NotFound"}
_STORAGE_FAILURES = (BotoCoreError, ClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


class S3Storage:
    """Objects in one bucket, through one aiobotocore client created on first use."""

    def __init__(
        self,
        bucket: str,
        endpoint: str | None = None,
        region: str | None = None,
        *,
        attempts: int = RETRY_ATTEMPTS,
    ) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        self.region = region
        self.attempts = attempts
        self._client: Any = None  # aiobotocore's S3 client is generated at run time: untyped
        self._stack = AsyncExitStack()
        self._lock = anyio.Lock()

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        """Parse "s3://bucket?endpoint=http://host:port&region=eu-central-1"."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.path not in {"", "/"}:
            raise ValueError(f"STORAGE_URL must look like s3://bucket?endpoint=..., not {url!r}")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint", "region"}
        if unknown:
            raise ValueError(f"STORAGE_URL {url!r} has unknown parameters {sorted(unknown)!r}")
        return cls(parts.netloc, query.get("endpoint") or None, query.get("region") or None)

    async def _s3(self) -> Any:
        """Return the client, creating it (and its connection pool) on first use."""
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    config = AioConfig(
                        connect_timeout=CONNECT_TIMEOUT_SECONDS,
                        read_timeout=READ_TIMEOUT_SECONDS,
                        retries={"max_attempts": self.attempts, "mode": "standard"},
                        # MinIO, moto and most self-hosted stores serve buckets by path, not
                        # by a bucket.host name that needs wildcard DNS.
                        s3={"addressing_style": "path" if self.endpoint else "auto"},
                    )
                    client = get_session().create_client(
                        "s3", endpoint_url=self.endpoint, region_name=self.region, config=config
                    )
                    self._client = await self._stack.enter_async_context(client)
        return self._client

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`."""
        try:
            s3 = await self._s3()
            await s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        except _STORAGE_FAILURES as exc:
            raise StorageError(f"cannot store {key!r} in bucket {self.bucket!r}: {exc}") from exc

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Yield the bytes of `key` from `start` to `end` (exclusive): one Range GET."""
        if end is not None and end <= start:
            # Nothing asked for; still tell a missing key apart, like the local disk does.
            await self._head(key)
            return
        request: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if start or end is not None:
            request["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            s3 = await self._s3()
            response = await s3.get_object(**request)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise FileNotFoundError(f"no object {key!r} in bucket {self.bucket!r}") from exc
            if _code(exc) == "InvalidRange":  # `start` at or past the end: no bytes, like a file
                return
            raise StorageError(f"cannot read {key!r} from bucket {self.bucket!r}: {exc}") from exc
        except _STORAGE_FAILURES as exc:
            raise StorageError(f"cannot read {key!r} from bucket {self.bucket!r}: {exc}") from exc
        try:
            async with response["Body"] as body:
                while chunk := await body.read(CHUNK_BYTES):
                    yield chunk
        except _STORAGE_FAILURES as exc:
            raise StorageError(f"reading {key!r} from bucket {self.bucket!r} broke off") from exc

    async def _head(self, key: str) -> None:
        """Raise FileNotFoundError when `key` doesn't exist."""
        try:
            s3 = await self._s3()
            await s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise FileNotFoundError(f"no object {key!r} in bucket {self.bucket!r}") from exc
            raise StorageError(f"cannot read {key!r} from bucket {self.bucket!r}: {exc}") from exc
        except _STORAGE_FAILURES as exc:
            raise StorageError(f"cannot read {key!r} from bucket {self.bucket!r}: {exc}") from exc

    async def delete(self, keys: list[str]) -> None:
        """Remove the keys (S3 deletes a missing key without complaint)."""
        for first in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": key} for key in keys[first : first + DELETE_BATCH]]
            try:
                s3 = await self._s3()
                response = await s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except _STORAGE_FAILURES as exc:
                raise StorageError(
                    f"cannot remove objects in bucket {self.bucket!r}: {exc}"
                ) from exc
            errors = [e for e in response.get("Errors", []) if e.get("Code") not in _MISSING]
            if errors:
                raise StorageError(
                    f"cannot remove objects in bucket {self.bucket!r}: {errors[:3]!r}"
                )

    async def close(self) -> None:
        """Close the client and its connection pool."""
        self._client = None
        await self._stack.aclose()
        self._stack = AsyncExitStack()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
