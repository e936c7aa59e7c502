"""The publisher: a broker outage costs a warning line, never the commit or a traceback."""

from __future__ import annotations

import logging

import pytest

from server.hub import BrokerUnavailable
from server.publisher import Publisher


class DownFanout:
    """A fan-out whose broker (Redis) is unreachable, as the hub reports it."""

    async def publish_frames(self, channel: str, frames: dict[str, str]) -> None:
        raise BrokerUnavailable("Redis unreachable (ConnectionError)")


class BrokenFanout:
    async def publish_frames(self, channel: str, frames: dict[str, str]) -> None:
        raise RuntimeError("a bug")


async def test_a_known_broker_outage_is_one_warning_line_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="server.publisher")
    publisher = Publisher(DownFanout(), viewers=lambda thread: set())  # type: ignore[arg-type]
    await publisher.notice("list", {"any": "{}"})
    assert [(r.levelname, r.exc_info) for r in caplog.records] == [("WARNING", None)]
    assert "notice on 'list' not published: Redis unreachable" in caplog.text


async def test_any_other_failure_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="server.publisher")
    publisher = Publisher(BrokenFanout(), viewers=lambda thread: set())  # type: ignore[arg-type]
    await publisher.notice("list", {"any": "{}"})
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert caplog.records[0].exc_info is not None
