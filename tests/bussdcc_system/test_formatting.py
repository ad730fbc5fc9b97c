"""How numbers, sizes, durations and times read, in one place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bussdcc_system import formatting as f


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (None, f.DASH),
        (-5, "0 B"),
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (3.2 * 1024**3, "3.2 GiB"),
        (2 * 1024**4, "2.0 TiB"),
        (1024**2 - 1, "1.0 MiB"),  # rounds up into the next unit, not "1024.0 KiB"
    ],
)
def test_sizes_in_binary_units(n: float | None, text: str) -> None:
    assert f.size(n) == text


def test_rates_percentages_and_temperatures() -> None:
    assert f.rate(2048) == "2.0 KiB/s" and f.rate(None) == f.DASH
    assert f.percent(12.345) == "12.3 %" and f.percent(42.1, 0) == "42 %"
    assert f.percent(None) == f.DASH
    assert f.celsius(51.25) == "51.2 °C" and f.celsius(None) == f.DASH


def test_frequencies() -> None:
    assert f.frequency(1.5e9) == "1.5 GHz" and f.frequency(2.4e9) == "2.4 GHz"
    assert f.frequency(600e6) == "600 MHz" and f.frequency(None) == f.DASH
    assert f.frequency(32768) == "33 kHz"


def test_durations_about_and_exactly() -> None:
    assert f.duration(4 * 86400 + 3600) == "4 days"
    assert f.duration(-3) == f.duration(0)
    assert f.exact_duration(3600) == "1 hour"
    assert f.exact_duration(86400) == "1 day"
    assert f.exact_duration(1800) == "30 minutes"
    assert f.exact_duration(160.4) == "2 minutes and 40 seconds"
    assert f.exact_duration(0.2) == "0 seconds"


def test_times() -> None:
    t = datetime(2026, 3, 1, 10, 0, 30, 250000, tzinfo=UTC)
    assert f.iso_time(t) == "2026-03-01T10:00:30.250000+00:00"
    assert f.record_time(t.timestamp()) == "2026-03-01T10:00:30.250Z"
    assert f.record_datetime(t) == "2026-03-01T10:00:30.250Z"
    assert f.record_datetime(t.replace(tzinfo=None)) == "2026-03-01T10:00:30.250Z"
    plus_two = t.astimezone(timezone(timedelta(hours=2)))
    assert f.record_datetime(plus_two) == "2026-03-01T10:00:30.250Z"
    assert f.utc_time(t.timestamp()) == "2026-03-01 10:00:30"
    assert f.utc_time(None) == "-" and f.utc_time(1e20) == "?"
    local = t.astimezone()
    assert f.local_time(t.timestamp(), f.MINUTE) == local.strftime("%Y-%m-%d %H:%M")
    plus2 = t.astimezone(timezone(timedelta(hours=2)))
    assert f.local_time(plus2, f.CLOCK) == local.strftime("%H:%M:%S")
    assert f.local_time(t.timestamp(), f.HOUR_MINUTE) == local.strftime("%H:%M")
    assert f.utc_offset(t.timestamp()) == int(local.utcoffset().total_seconds())  # type: ignore[union-attr]


def test_local_times_and_offsets_follow_the_host_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        winter = datetime(2026, 1, 15, 12, 0, tzinfo=UTC).timestamp()
        summer = datetime(2026, 7, 15, 12, 0, tzinfo=UTC).timestamp()
        assert (f.utc_offset(winter), f.utc_offset(summer)) == (3600, 7200)
        assert f.local_time(summer, f.WEEKDAY_MINUTE) == "Wed 15 Jul 14:00"
    finally:
        monkeypatch.undo()
        time.tzset()
