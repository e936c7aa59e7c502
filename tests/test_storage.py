"""Both storage back-ends pass the same tests: the local disk, and S3 against a real local
S3-compatible server (moto's, over HTTP; not a mock object)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.settings import Settings
from server.storage import Storage, StorageError, open_storage
from server.storage.local import LocalStorage
from server.storage.s3 import S3Storage
from tests.s3server import s3_endpoint, s3_url  # noqa: F401 (fixtures)

FIVE_MB = 5 * 1024 * 1024  # more than one read chunk and more than S3's multipart threshold


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """Yield each back-end in turn, empty."""
    backend: Storage
    if request.param == "local":
        backend = LocalStorage(tmp_path / "files")
    else:
        backend = S3Storage.from_url(request.getfixturevalue("s3_url"))
    try:
        yield backend
    finally:
        await backend.close()


async def read_all(storage: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    """Return what `read` yields, joined."""
    return b"".join([chunk async for chunk in storage.read(key, start, end)])


async def test_what_is_put_is_read_back_whole(storage: Storage) -> None:
    await storage.put("a1/data", b"hello, meter", "text/plain")
    assert await read_all(storage, "a1/data") == b"hello, meter"


async def test_ranges_give_the_bytes_asked_for_end_exclusive(storage: Storage) -> None:
    data = bytes(range(256)) * 4
    await storage.put("a1/data", data, "application/octet-stream")
    assert await read_all(storage, "a1/data", 10, 20) == data[10:20]
    assert await read_all(storage, "a1/data", 1000) == data[1000:]
    assert await read_all(storage, "a1/data", 0, 1) == data[:1]
    assert await read_all(storage, "a1/data", 1000, 5000) == data[1000:]  # end past the end
    assert await read_all(storage, "a1/data", 5, 5) == b""
    assert await read_all(storage, "a1/data", 2000) == b""  # start past the end


async def test_a_missing_key_is_file_not_found(storage: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        await read_all(storage, "nothing/data")
    with pytest.raises(FileNotFoundError):
        await read_all(storage, "nothing/data", 3, 9)
    with pytest.raises(FileNotFoundError):
        await read_all(storage, "nothing/data", 3, 3)


async def test_delete_removes_and_deleting_again_is_no_error(storage: Storage) -> None:
    await storage.put("a1/data", b"x", "text/plain")
    await storage.put("a1/thumb", b"y", "image/jpeg")
    await storage.put("a2/data", b"z", "text/plain")
    await storage.delete(["a1/data", "a1/thumb", "never/was"])
    await storage.delete(["a1/data", "a1/thumb"])
    await storage.delete([])
    for key in ["a1/data", "a1/thumb"]:
        with pytest.raises(FileNotFoundError):
            await read_all(storage, key)
    assert await read_all(storage, "a2/data") == b"z"


async def test_a_second_put_replaces_the_first(storage: Storage) -> None:
    await storage.put("a1/data", b"first, longer version", "text/plain")
    await storage.put("a1/data", b"second", "text/plain")
    assert await read_all(storage, "a1/data") == b"second"


async def test_five_megabytes_arrive_whole_and_in_chunks(storage: Storage) -> None:
    data = os.urandom(FIVE_MB)
    await storage.put("big/data", data, "application/pdf")
    chunks = [chunk async for chunk in storage.read("big/data")]
    assert b"".join(chunks) == data
    assert len(chunks) > 1  # streamed, not held in memory whole
    middle = FIVE_MB // 2
    assert await read_all(storage, "big/data", middle, middle + 100_000) == data[middle:][:100_000]


async def test_closing_and_using_again_reconnects(storage: Storage) -> None:
    await storage.put("a1/data", b"before", "text/plain")
    await storage.close()
    assert await read_all(storage, "a1/data") == b"before"


def test_open_storage_picks_the_back_end_from_storage_url(tmp_path: Path) -> None:
    local = open_storage(Settings(data_dir=tmp_path, storage_url=""))
    assert isinstance(local, LocalStorage)
    assert local.root == tmp_path / "files"
    s3 = open_storage(
        Settings(data_dir=tmp_path, storage_url="s3://att?endpoint=http://127.0.0.1:9&region=x")
    )
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.endpoint, s3.region) == ("att", "http://127.0.0.1:9", "x")
    with pytest.raises(ValueError, match="ftp://x"):
        open_storage(Settings(data_dir=tmp_path, storage_url="ftp://x"))
    with pytest.raises(ValueError, match="unknown parameters"):
        S3Storage.from_url("s3://att?endpiont=http://127.0.0.1:9")


async def test_an_unreachable_bucket_is_a_storage_error_not_a_crash(
    s3_endpoint: str,  # noqa: F811 (fixture): its dummy credentials
) -> None:
    # A port nobody listens on: connection refused, then a StorageError (no retries: fast).
    down = S3Storage("att", "http://127.0.0.1:9", "us-east-1", attempts=1)
    try:
        with pytest.raises(StorageError):
            await down.put("a1/data", b"x", "text/plain")
        with pytest.raises(StorageError):
            await read_all(down, "a1/data")
        with pytest.raises(StorageError):
            await down.delete(["a1/data"])
    finally:
        await down.close()


async def test_a_missing_bucket_is_a_storage_error(s3_url: str) -> None:  # noqa: F811
    wrong = S3Storage.from_url(s3_url.replace("s3://test-", "s3://gone-"))
    try:
        with pytest.raises(StorageError):
            await wrong.put("a1/data", b"x", "text/plain")
    finally:
        await wrong.close()


async def test_keys_cannot_leave_the_local_folder(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path / "files")
    for key in ["../escape", "/etc/passwd", "a/../../b", ""]:
        with pytest.raises(ValueError):
            await local.put(key, b"x", "text/plain")
    assert not (tmp_path / "escape").exists()


async def test_a_failed_local_write_leaves_no_half_file(tmp_path: Path) -> None:
    root = tmp_path / "files"
    local = LocalStorage(root)
    await local.put("a1/data", b"x", "text/plain")
    (root / "a1" / "thumb").mkdir()  # in the way of the rename, like a full disk for the write
    with pytest.raises(StorageError):
        await local.put("a1/thumb", b"y", "image/jpeg")
    assert sorted(p.name for p in (root / "a1").iterdir()) == ["data", "thumb"]
    assert await read_all(local, "a1/data") == b"x"
