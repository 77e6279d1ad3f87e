"""The per-user sliding-window rate limit for questions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.asking import RateLimited, RateLimiter
from tests.state import FakeClock


def test_allows_the_limit_then_refuses_with_the_wait() -> None:
    """Within a window the limit passes, the next question is refused with how long to wait, then allowed."""
    clock = FakeClock()
    limiter = RateLimiter(3, timedelta(seconds=60), clock)
    for _ in range(3):
        limiter.check(1)
        clock.advance(seconds=10)
    with pytest.raises(RateLimited, match="wait 30 s") as refused:
        limiter.check(1)
    assert refused.value.retry_after == timedelta(seconds=30)
    limiter.check(2)  # other users are unaffected
    clock.advance(seconds=30)
    limiter.check(1)


def test_refused_attempts_do_not_extend_the_wait() -> None:
    """Hammering while limited does not push the next allowed time further out."""
    clock = FakeClock()
    limiter = RateLimiter(1, timedelta(seconds=10), clock)
    limiter.check(1)
    for _ in range(5):
        clock.advance(seconds=1)
        with pytest.raises(RateLimited):
            limiter.check(1)
    clock.advance(seconds=5)
    limiter.check(1)
