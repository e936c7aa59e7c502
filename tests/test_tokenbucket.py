"""The token bucket that limits a socket's inbound frames, on a clock the test turns."""

from __future__ import annotations

from server.tokenbucket import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_refused_until_time_refills_it_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(burst=5, per_second=2.0, clock=clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.4
    assert not bucket.take(), "0.8 tokens: not one whole frame yet"
    clock.now += 0.1
    assert bucket.take() and not bucket.take()


def test_a_client_at_the_sustained_rate_is_never_refused_and_idle_time_refills_only_the_burst() -> (
    None
):
    clock = Clock()
    bucket = TokenBucket(burst=3, per_second=10.0, clock=clock)
    for _ in range(10_000):  # 1,000 seconds at exactly the rate
        clock.now += 0.1
        assert bucket.take()
    clock.now += 3600  # an hour idle buys three frames, not 36,000
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
