"""Power episodes in words: only what was observed is given as a time."""

from __future__ import annotations

from datetime import datetime

from bussdcc_system.formatting import local_time
from bussdcc_system.web.episode_words import TO, episode_sentence, episode_words, power_words

T = datetime(2026, 3, 1, 10, 0).astimezone().timestamp()  # Sun 01 Mar 10:00, local time


def at(epoch: float) -> str:
    return local_time(epoch, "%a %d %b %H:%M")


def test_an_observed_episode_has_start_end_and_duration() -> None:
    w = episode_words({"kind": "under_voltage", "start": T, "end": T + 180}, now=T + 9999)
    assert w is not None and w.observed
    assert (w.what, w.start, w.end, w.lasted) == (
        "under-voltage",
        "Sun 01 Mar 10:00",
        "10:03",
        "3 minutes",
    )
    assert w.sentence == f"Sun 01 Mar 10:00{TO}10:03: under-voltage for 3 minutes"
    over_midnight = episode_sentence(
        {"kind": "throttled", "start": T + 13.9 * 3600, "end": T + 14.2 * 3600}, now=T
    )
    assert over_midnight == f"Sun 01 Mar 23:54{TO}Mon 02 Mar 00:12: throttling for 18 minutes"


def test_ongoing_and_ended_by_a_restart() -> None:
    ongoing = episode_words({"kind": "throttled", "start": T, "end": None}, now=T + 7200)
    assert ongoing is not None
    assert ongoing.sentence == "since Sun 01 Mar 10:00: throttling, still going on (2 hours so far)"
    restart = episode_words(
        {"kind": "under_voltage", "start": T, "end": T + 600, "end_reason": "reboot"}, now=T
    )
    assert restart is not None and restart.lasted == "at least 10 minutes"
    assert restart.sentence.endswith(
        "under-voltage for at least 10 minutes, until the Pi restarted"
    )


def test_known_only_from_the_sticky_bit() -> None:
    """The firmware says it happened since boot, not when: no start, end or duration."""
    sticky = {
        "kind": "under_voltage",
        "start": T,  # the estimated boot
        "end": T + 18 * 60,  # the daemon's first sample
        "start_known": False,
        "before_monitoring": True,
        "end_reason": "before_monitoring",
    }
    w = episode_words(sticky, now=T + 3600)
    assert w is not None and not w.observed
    assert w.sentence == (
        "under-voltage at some time since boot, before the daemon started"
        " (booted Sun 01 Mar 10:00, watched from 10:18)"
    )
    assert (w.start, w.end, w.lasted) == (
        "some time after boot (Sun 01 Mar 10:00)",
        "before the daemon started (10:18)",
        "unknown",
    )
    assert "minutes" not in w.sentence  # no duration invented from boot to daemon start


def test_already_going_on_when_the_daemon_started() -> None:
    """The issue's "started at boot ... still going on (18 minutes so far)": the count
    starts when the daemon first saw it, and the start is said to be unknown."""
    seen = T + 18 * 60
    ongoing = {
        "kind": "under_voltage",
        "start": T,
        "end": None,
        "start_known": False,
        "before_monitoring": True,
        "end_reason": "ongoing",
        "observed_from": seen,
    }
    w = episode_words(ongoing, now=seen + 120)
    assert w is not None and not w.observed
    assert w.sentence == (
        f"under-voltage since before the daemon started at {at(seen)},"
        " still going on (seen for 2 minutes so far)"
    )
    assert w.lasted == "2 minutes so far, at least" and w.end == "still going on"
    cleared = episode_words({**ongoing, "end": seen + 600, "end_reason": "cleared"}, now=seen)
    assert cleared is not None
    assert cleared.sentence == (
        f"under-voltage from before the daemon started at {at(seen)} until 10:28"
        " (at least 10 minutes)"
    )


def test_between_two_readings() -> None:
    w = episode_words(
        {"kind": "freq_capped", "start": T, "end": T + 5, "between_samples": True}, now=T
    )
    assert w is not None and not w.observed and w.lasted == "less than 5 seconds"
    assert w.sentence == (
        "Sun 01 Mar 10:00: frequency capping for less than 5 seconds"
        " (between two readings, not seen itself)"
    )
    assert (w.start, w.end) == (
        "Sun 01 Mar 10:00 (between two readings)",
        "at most 5 seconds later",
    )


def test_without_a_start_nothing_is_said() -> None:
    assert episode_sentence({"kind": "under_voltage"}, now=T) is None
    words = power_words([{"kind": "under_voltage"}, {"kind": "throttled", "start": T}], now=T)
    assert [w.what for w in words] == ["throttling"]
