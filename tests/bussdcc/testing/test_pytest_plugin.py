"""The pytest plugin: a SimClock runtime that is shut down even when its test fails."""

from __future__ import annotations

import pytest


def test_fixtures_are_a_simclock_runtime_and_its_log_shut_down_after_a_failure(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        from bussdcc.testing import MessageLog, SimClock

        seen = []

        def test_fails_while_booted(runtime, clock, message_log):
            assert isinstance(clock, SimClock) and runtime.clock is clock
            assert isinstance(message_log, MessageLog) and not runtime.booted
            runtime.boot()
            seen.append((runtime, message_log))
            raise AssertionError("failing with the runtime booted")

        def test_each_test_gets_its_own(runtime, clock):
            assert runtime is not seen[0][0] and clock is not seen[0][0].clock

        def test_the_failed_one_was_shut_down():
            runtime, log = seen[0]
            assert not runtime.booted
            assert log.names[0] == "runtime.booting" and log.names[-1] == "runtime.shutdown"
        """
    )
    result = pytester.runpytest("-p", "bussdcc.testing.pytest_plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*failing with the runtime booted*"])
