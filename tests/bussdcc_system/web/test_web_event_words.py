"""The recent-events list in sentences: what each message the journal keeps says."""

from __future__ import annotations

import pytest

from bussdcc import message
from bussdcc_system import messages as m
from bussdcc_system.history.failure_reports import (
    HistoryDirectoryLost,
    HistoryWriteFailed,
    HistoryWriteResumed,
)
from bussdcc_system.web.event_words import MAX_SENTENCE, SENTENCES, event_sentence


def said(msg: message.Message) -> str:
    return event_sentence(msg.name, msg.to_dict())


def test_health_changes() -> None:
    assert said(m.health_changed("ok", None, ())) == (
        "Health is ok: every reading is within its limits"
    )
    assert said(m.health_changed("ok", "critical", ())) == (
        "Health is back to ok: every reading is within its limits"
    )
    assert said(m.health_changed("critical", "warning", ("CPU too hot", "Disk full", "x"))) == (
        "Health went warning → critical: CPU too hot (and 2 more reasons)"
    )
    assert said(m.health_changed("warning", "warning", ("Disk / is 90 % full",))) == (
        "Health is warning: Disk / is 90 % full"
    )


def test_throttling_is_said_with_the_flags_words_not_as_raw_bits() -> None:
    flags = dict.fromkeys(m.THROTTLING_FLAGS, False)
    under = m.throttling_updated(
        device="throttling",
        source="vcgencmd",
        raw=327685,  # 0x50005, the example
        flags={**flags, "under_voltage": True, "throttled": True, "under_voltage_occurred": True},
        changed=("under_voltage", "throttled"),
    )
    text = said(under)
    assert text == "Under-voltage now: the power supply is too weak; CPU throttled"
    assert "raw" not in text and "True" not in text
    calm = m.throttling_updated(device="t", source="vcgencmd", raw=0, flags=flags, changed=())
    assert said(calm) == "Power and clocks are fine again"


def test_devices_reloads_and_the_daemon() -> None:
    assert said(message.DeviceFailed("thermal_zone", "thermal_zone", "no thermal zone")) == (
        "The thermal_zone device (thermal zone) is not working: no thermal zone"
    )
    assert said(message.DeviceAttached("throttling", "throttling")) == (
        "The throttling device (throttling) is working"
    )
    assert said(message.DeviceDetached("led", "status_led")) == (
        "The led device (status led) was removed"
    )
    # The example: changes=['devices: added throttling (throttling)']
    reloaded = {
        "path": "/etc/bussdcc-system/config.yaml",
        "changes": ["devices: added throttling (throttling)"],
    }
    assert event_sentence("config.reloaded", reloaded) == (
        "Configuration reloaded: devices: added throttling (throttling)"
    )
    assert event_sentence("config.reloaded", {"changes": []}) == (
        "Configuration reloaded: nothing changed"
    )
    failed = {"path": "x", "errors": ["web.port: must be a number", "b", "c"]}
    assert event_sentence("config.reload_failed", failed) == (
        "Configuration reload failed, the running one stays: web.port: must be a number"
        " (and 2 more errors)"
    )
    assert said(message.RuntimeBooted("0.1.0")) == "The daemon started (version 0.1.0)"


def test_services_in_words_with_durations() -> None:
    assert said(message.ServiceRestart("telemetry.cpu", 3, 2.0, "tick failed")) == (
        "Service telemetry.cpu restarts in 2 seconds (attempt 3): tick failed"
    )
    assert said(message.ServiceStalled("telemetry.disk", 70.0, 15.0)) == (
        "Service telemetry.disk has been stuck for a minute (allowed: 15 seconds)"
    )
    assert said(message.ServiceRecovered("telemetry.disk", 130.0)) == (
        "Service telemetry.disk recovered after 2 minutes"
    )
    assert said(message.ServiceError("web", "OSError(28)", "start")) == (
        "Service web failed in start: OSError(28)"
    )


def test_history_trouble() -> None:
    failed = HistoryWriteFailed(
        "/var/lib/h", "the disk is full (no space left on device)", "ENOSPC", 42
    )
    assert said(failed) == (
        "History cannot be written to /var/lib/h: the disk is full (no space left on device)"
        " (42 events wait in memory)"
    )
    assert said(HistoryWriteResumed("/var/lib/h", 3600.0, 0)) == (
        "History is written again after an hour"
    )
    lost = HistoryDirectoryLost("/var/lib/h", "deleted", "2026-12-02/03-00-00.jsonl.gz", 900)
    assert said(lost) == (
        "The history directory /var/lib/h was deleted while running and was made again;"
        " the open segment 2026-12-02/03-00-00.jsonl.gz was carried over"
    )
    assert said(HistoryDirectoryLost("/var/lib/h", "replaced", "", 0)) == (
        "The history directory /var/lib/h was replaced while running and was made again"
    )


def test_a_message_without_a_sentence_still_reads_as_words() -> None:
    text = event_sentence(
        "daemon.example_happened", {"ok": True, "items": ["a", "b"], "traceback": "..."}
    )
    assert text == "Daemon example happened (ok: yes; items: a, b)"


def test_long_sentences_end_with_an_ellipsis_and_odd_data_still_reads() -> None:
    text = event_sentence("device.failed", {"device": "d", "kind": "k", "error": "x" * 500})
    assert len(text) == MAX_SENTENCE and text.endswith("…")
    assert event_sentence("service.restart", {"service": "s", "delay": "soon"}).startswith(
        "Service restart"
    )


@pytest.mark.parametrize("name", sorted(SENTENCES))
def test_every_sentence_survives_empty_data(name: str) -> None:
    text = event_sentence(name, {})
    assert text and "{" not in text and "None" not in text
