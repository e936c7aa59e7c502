"""What the server uses of push: the one module of `push` that `server` imports.

The server records notification intents of the kinds declared here, checks a device's push
endpoint before saving it, and starts one push worker per process (in a child process by
default, or on its own event loop). Everything else in `push` is the worker's business, and
`push` never imports the server's actions, views or app (import-linter checks both).
"""

from __future__ import annotations

from typing import Protocol

from push.endpoints import DEFAULT_PUSH_HOSTS, EndpointRefused, check_resolves_public, check_shape
from push.kinds import (
    ASSIGNED,
    ESCALATION,
    IDEA_STATUS,
    KINDS,
    MENTION,
    MODERATION,
    QUESTION,
    REPLY,
    STATUS,
    TEST,
    Kind,
)
from push.vapid import VapidKeys
from push.vapid import load_or_create as load_vapid
from server.settings import Settings

__all__ = [
    "ASSIGNED", "ESCALATION", "KINDS", "MENTION", "MODERATION", "QUESTION", "REPLY", "STATUS",
    "IDEA_STATUS", "TEST", "EndpointRefused", "Kind",
    "VapidKeys", "Worker", "allowed_hosts", "check_endpoint", "load_vapid", "start_worker",
    "run_worker",
]  # fmt: skip


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """Return the push services endpoints may point at: the browsers' own plus configured."""
    return DEFAULT_PUSH_HOSTS + settings.push_service_hosts


async def check_endpoint(settings: Settings, endpoint: str) -> None:
    """Refuse (EndpointRefused) an endpoint that is not https:443 at a known push service's
    public address: a subscription must not make the server call into a private network."""
    check_shape(endpoint, allowed_hosts(settings), settings.push_test_endpoint_prefix)
    await check_resolves_public(endpoint, settings.push_test_endpoint_prefix)


class Worker(Protocol):
    """A running push worker: woken after commits that queue work, stopped at shutdown."""

    def wake(self) -> None: ...

    async def stop(self) -> None: ...


async def start_worker(settings: Settings, keys: VapidKeys) -> Worker:
    """Start this process's push worker: a child process at lower CPU priority, or with
    PUSH_IN_PROCESS on this event loop (small setups, tests)."""
    if settings.push_in_process:
        from push.worker import PushConfig, PushWorker

        worker = PushWorker(PushConfig.from_settings(settings, keys))
        await worker.start()
        return worker
    from push.process import PushProcess

    process = PushProcess(settings)
    await process.start()
    return process


async def run_worker(settings: Settings, wake_pipe: bool) -> None:
    """Run the push worker as this process (`dreiklang push-worker`) until told to stop."""
    from push.process import run_worker as run

    await run(settings, wake_pipe)
