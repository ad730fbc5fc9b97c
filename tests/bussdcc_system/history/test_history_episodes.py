"""Under-voltage and throttling episodes from recorded transitions, across reboots."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bussdcc.testing import SimClock
from bussdcc_system import messages as m
from bussdcc_system.history.episodes import Episode, decode_flags, find_episodes
from tests.bussdcc_system.history.history_helpers import T0, cpu, rig, throttling

T = T0.timestamp()


def _steps(r: object, clock: SimClock, script: list[tuple[int, object]], until: int) -> None:
    """Emit ``(second, message)`` pairs plus a cpu sample every 10 s, up to ``until``."""
    todo = dict(script)
    for s in range(until):
        msg = todo.get(s)
        if msg is not None:
            r.emit(msg)  # type: ignore[attr-defined]
        if s % 10 == 0:
            r.emit(cpu(1.0))  # type: ignore[attr-defined]
        clock.advance(1)


def _write_two_boots(directory: Path) -> None:
    a = SimClock(T0, monotonic_start=100.0)
    with rig(directory, clock=a, boot_id="boot-a") as r:
        _steps(
            r,
            a,
            [
                (0, throttling(0x50000)),  # under-voltage and throttling happened during boot
                (100, throttling(0x50005)),  # under-voltage and throttled now
                (200, throttling(0x50001)),  # throttling cleared
                (260, throttling(0x50000)),  # under-voltage cleared
                (300, throttling(0x50001)),  # under-voltage again ... until the reboot
            ],
            until=400,
        )
    b = SimClock(datetime(2026, 3, 1, 11, 0, tzinfo=UTC), monotonic_start=30.0)
    with rig(directory, clock=b, boot_id="boot-b") as r:
        _steps(
            r,
            b,
            [
                (0, throttling(0x0)),
                (50, throttling(0x20000)),  # frequency capped between two samples
                (80, throttling(0x30003)),  # under-voltage and capped now: ongoing
            ],
            until=120,
        )


def test_episodes_across_a_reboot(tmp_path: Path) -> None:
    _write_two_boots(tmp_path)
    eps = find_episodes(tmp_path)
    b0 = datetime(2026, 3, 1, 11, 0, tzinfo=UTC).timestamp()
    assert eps == [
        # during boot A before monitoring started: from the estimated boot time (mono 100)
        Episode("under_voltage", T - 100, T, "boot-a", False, True, False, "before_monitoring"),
        Episode("throttled", T - 100, T, "boot-a", False, True, False, "before_monitoring"),
        Episode("under_voltage", T + 100, T + 260, "boot-a"),
        Episode("throttled", T + 100, T + 200, "boot-a"),
        # open at the reboot: closed at the last record of boot A (a cpu sample at 390 s)
        Episode("under_voltage", T + 300, T + 390, "boot-a", end_reason="reboot"),
        Episode("freq_capped", b0 + 0, b0 + 50, "boot-b", True, False, True, "cleared"),
        Episode("under_voltage", b0 + 80, None, "boot-b", end_reason="ongoing"),
        Episode("freq_capped", b0 + 80, None, "boot-b", end_reason="ongoing"),
    ]
    assert eps[-1].ongoing and eps[-1].to_dict()["ongoing"] is True
    # Known only from the sticky bits: neither bound was seen, so nothing was observed.
    assert all(e.observed_from is None for e in eps)


def test_window_keeps_episodes_that_overlap_it(tmp_path: Path) -> None:
    _write_two_boots(tmp_path)
    eps = find_episodes(tmp_path, T + 250, T + 310)
    assert [(e.kind, e.start) for e in eps] == [
        ("under_voltage", T + 100),
        ("under_voltage", T + 300),
    ]
    assert [e.kind for e in find_episodes(tmp_path, T + 3000, None)] == [
        "freq_capped",
        "under_voltage",
        "freq_capped",
    ]
    assert [e.kind for e in find_episodes(tmp_path, kinds=["throttled"])] == ["throttled"] * 2


def test_already_under_voltage_when_monitoring_starts(tmp_path: Path) -> None:
    a = SimClock(T0, monotonic_start=50.0)
    with rig(tmp_path, clock=a, boot_id="boot-a") as r:
        _steps(r, a, [(0, throttling(0x10001)), (30, throttling(0x10000))], until=40)
    (ep,) = find_episodes(tmp_path)
    # The start is the estimated boot (not seen); monitoring saw it from its first sample.
    assert ep == Episode(
        "under_voltage", T - 50, T + 30, "boot-a", False, True, False, "cleared", observed_from=T
    )
    assert ep.to_dict()["observed_from"] == T


def test_still_under_voltage_at_monitoring_start_and_ongoing(tmp_path: Path) -> None:
    """The issue's "started at boot ... still going on (18 minutes so far)": the start is
    unknown, and what may be counted is from when monitoring first saw it."""
    a = SimClock(T0, monotonic_start=18 * 60.0)
    with rig(tmp_path, clock=a, boot_id="boot-a") as r:
        _steps(r, a, [(0, throttling(0x10001))], until=120)
    (ep,) = find_episodes(tmp_path)
    assert (ep.start, ep.start_known, ep.observed_from, ep.end) == (T - 18 * 60, False, T, None)
    assert ep.before_monitoring and ep.end_reason == "ongoing"


def test_hwmon_source_without_occurred_bits(tmp_path: Path) -> None:
    def hw(under: bool) -> m.ThrottlingUpdated:
        return m.throttling_updated(
            device="rpi_volt",
            source="hwmon",
            raw=None,
            flags={"under_voltage": under},
            changed=("under_voltage",),
        )

    a = SimClock(T0)
    with rig(tmp_path, clock=a, boot_id="boot-a") as r:
        _steps(r, a, [(0, hw(False)), (10, hw(True)), (25, hw(False))], until=30)
    (ep,) = find_episodes(tmp_path)
    assert (ep.kind, ep.start, ep.end, ep.start_known) == ("under_voltage", T + 10, T + 25, True)


def test_decode_flags_prefers_raw() -> None:
    flags = decode_flags({"raw": 0x50005, "under_voltage": False})
    assert flags["under_voltage"] and flags["throttled"] and not flags["freq_capped"]
    assert flags["under_voltage_occurred"] and flags["throttled_occurred"]
    assert decode_flags({"under_voltage": True})["freq_capped"] is None


def test_no_history_no_episodes(tmp_path: Path) -> None:
    assert find_episodes(tmp_path / "none") == []
