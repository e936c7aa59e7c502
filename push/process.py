"""The push worker in its own process, at a lower CPU priority than the live server.

Encrypting, signing and composing a thousand notifications is real work. Run on the server's
event loop it delays live frames; in a child process the operating system gives the server
the CPU first, and the worker's database reads do not queue behind (or in front of) the
server's. `dreiklang serve` starts the child and stops it; commits wake it through its stdin,
and when the server goes away (even killed) the pipe closes and the child stops too.

`dreiklang push-worker` runs the same worker on its own (Procfile `push:` for scale-out, the
web processes then with PUSH_ENABLED=false); without a server's pipe it polls the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from push.vapid import load_or_create
from push.worker import PushConfig, PushWorker
from server.settings import Settings

log = logging.getLogger(__name__)

NICE = 10  # below the server: a busy core serves live chat first
START_SECONDS = 60.0
RESTART_SECONDS = 1.0
STOP_SECONDS = 5.0
READY = b"push worker ready"


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment that gives the child the server's settings (they may come from flags
    or an env file, not only from this process's environment)."""
    env = dict(os.environ)
    env.update(
        DATA_DIR=str(settings.data_dir),
        DATABASE_URL=settings.database_url,
        SECRET_KEY=str(settings.secret_key),
        VAPID_PRIVATE_KEY=str(settings.vapid_private_key),
        VAPID_SUBJECT=settings.vapid_subject,
        PUSH_SERVICE_HOSTS=",".join(settings.push_service_hosts),
        PUSH_TEST_ENDPOINT_PREFIX=settings.push_test_endpoint_prefix,
        PUSH_CONCURRENCY=str(settings.push_concurrency),
        # Notification mails (push/mailing.py): their links, reply addresses and batching.
        HOST=settings.host,
        PORT=str(settings.port),
        PUBLIC_URL=settings.public_url,
        MAIL_REPLY_DOMAIN=settings.mail_reply_domain,
        EMAIL_BATCH_MINUTES=str(settings.email_batch_minutes),
    )
    return env


class PushProcess:
    """Starts, wakes, restarts and stops the child process that runs the push worker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the child and wait until it works the queue, so a server that answers
        /healthz has its worker running too; restart it whenever it dies."""
        await self._spawn()
        self._watch = asyncio.create_task(self._keep_running(), name="push-process")

    async def _keep_running(self) -> None:
        while self.proc is not None:
            status = await self.proc.wait()
            log.error("the push worker exited (status %s); starting it again", status)
            await asyncio.sleep(RESTART_SECONDS)  # a worker that cannot start must not spin
            await self._spawn()

    async def _spawn(self) -> None:
        """Start the child; wait for its first line on stdout, which says it works."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.cli", "push-worker", "--wake-pipe",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env=child_environment(self.settings),
        )  # fmt: skip
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), START_SECONDS)
        except TimeoutError:
            line = b""
        if line.strip() != READY:
            # Live chat works without push: say so loudly, and keep serving.
            log.error("the push worker did not start (exit status %s)", self.proc.returncode)

    def wake(self) -> None:
        """Tell the worker that a commit queued something (never blocks)."""
        stdin = self.proc.stdin if self.proc is not None else None
        if stdin is not None and not stdin.is_closing():
            with contextlib.suppress(ConnectionError, RuntimeError):
                stdin.write(b"!")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the child stops at the end of its input
        try:
            await asyncio.wait_for(proc.wait(), STOP_SECONDS)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def run_worker(settings: Settings, wake_pipe: bool) -> None:
    """Run the push worker until SIGTERM or SIGINT, or (wake_pipe) until stdin closes."""
    from tortoise.connection import get_connection

    from server.db import close_database, open_database

    with contextlib.suppress(OSError):
        os.nice(NICE)
    await open_database(settings)
    if settings.sqlite_path is not None:
        # The worker's commits need no fsync each (the server's keep theirs): after a power
        # cut the last leases and outcomes may be lost, and a push is sent twice at worst.
        # Short commits matter more: SQLite has one write lock, and live chat needs it.
        await get_connection("default").execute_script("PRAGMA synchronous=NORMAL;")
    keys = load_or_create(settings.data_dir, str(settings.vapid_private_key),
                          settings.vapid_subject)  # fmt: skip
    worker = PushWorker(PushConfig.from_settings(settings, keys))
    await worker.start()
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    reading = None
    if wake_pipe:
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

        async def wakes() -> None:
            while await reader.read(4096):
                worker.wake()
            stopping.set()  # the server closed the pipe or went away

        reading = asyncio.create_task(wakes())
    log.info("push worker running (pid %d)", os.getpid())
    if wake_pipe:
        print(READY.decode(), flush=True)  # PushProcess.start waits for this line
    try:
        await stopping.wait()
    finally:
        if reading is not None:
            reading.cancel()
        await worker.stop()
        await close_database()
