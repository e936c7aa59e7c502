"""A real local S3-compatible server (moto's) for the storage tests and any test that wants
STORAGE_URL=s3://…: import the fixtures into a test module or conftest.

    from tests.s3server import s3_endpoint, s3_url  # noqa: F401 (pytest fixtures)
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiobotocore.session import get_session
from moto.server import ThreadedMotoServer

S3_REGION = "us-east-1"
# botocore signs every request and needs some credentials; moto accepts any.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Start moto's S3 server on a free port for the session; yield its http:// endpoint.

    Sets dummy AWS credentials in the environment for the session (botocore reads them there,
    as it reads the real ones in production), and restores the environment afterwards.
    """
    with pytest.MonkeyPatch.context() as env:
        for name, value in DUMMY_CREDENTIALS.items():
            env.setenv(name, value)
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask a cloud metadata service
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def s3_url(s3_endpoint: str) -> str:
    """Return a STORAGE_URL naming a new, empty bucket on the session's moto server."""
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    create_bucket(s3_endpoint, bucket)
    return f"s3://{bucket}?endpoint={s3_endpoint}&region={S3_REGION}"


def create_bucket(endpoint: str, bucket: str) -> None:
    """Create `bucket` on the S3 server at `endpoint`, from any thread or test."""
    assert "AWS_ACCESS_KEY_ID" in os.environ, "use the s3_endpoint fixture first"
    # A thread of its own: asyncio.run would replace (and then unset) this thread's event loop,
    # which pytest-asyncio may be holding for the test.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _create_bucket(endpoint, bucket)).result()


async def _create_bucket(endpoint: str, bucket: str) -> None:
    async with get_session().create_client(
        "s3", endpoint_url=endpoint, region_name=S3_REGION
    ) as s3:
        await s3.create_bucket(Bucket=bucket)
