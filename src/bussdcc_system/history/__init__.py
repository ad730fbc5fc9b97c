"""History: an append-only JSONL record of every event, and what is read back from it.

- ``sink.HistorySink`` writes (off the dispatch thread, batched, SD-card friendly).
- ``reader.read_records`` yields records in write order, clock-corrected;
  ``catalogue.list_segments`` lists the segments.
- ``query.query_series`` downsamples a metric for charts (per-minute rollups).
- ``episodes.find_episodes`` finds under-voltage and throttling episodes.
- ``replay`` feeds a recorded range back through a runtime at a chosen speed.
- ``cli`` registers the ``history`` and ``replay`` subcommands.

See ``docs/history.md`` (it lists every module of the package).

The names below load on first use (PEP 562): the daemon's start-up imports the writer
(``sink``) and not the query stack, which loads after ``READY=1`` (``late_imports``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bussdcc_system.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from bussdcc_system.history.episodes import Episode, find_episodes
    from bussdcc_system.history.failure_reports import (
        HistoryDropped,
        HistoryWriteFailed,
        HistoryWriteResumed,
    )
    from bussdcc_system.history.query import Bucket, Series, list_metrics, query_series
    from bussdcc_system.history.reader import Record, SegmentInfo, list_segments, read_records
    from bussdcc_system.history.replay import ReplayClock, ReplayResult, replay
    from bussdcc_system.history.sink import HistorySink
    from bussdcc_system.history.sink_stats import SinkStats

_HOMES = {
    "Episode": "bussdcc_system.history.episodes",
    "find_episodes": "bussdcc_system.history.episodes",
    "HistoryDropped": "bussdcc_system.history.failure_reports",
    "HistoryWriteFailed": "bussdcc_system.history.failure_reports",
    "HistoryWriteResumed": "bussdcc_system.history.failure_reports",
    "Bucket": "bussdcc_system.history.query",
    "Series": "bussdcc_system.history.query",
    "list_metrics": "bussdcc_system.history.query",
    "query_series": "bussdcc_system.history.query",
    "Record": "bussdcc_system.history.reader",
    "SegmentInfo": "bussdcc_system.history.reader",
    "list_segments": "bussdcc_system.history.reader",
    "read_records": "bussdcc_system.history.reader",
    "ReplayClock": "bussdcc_system.history.replay",
    "ReplayResult": "bussdcc_system.history.replay",
    "replay": "bussdcc_system.history.replay",
    "HistorySink": "bussdcc_system.history.sink",
    "SinkStats": "bussdcc_system.history.sink_stats",
}


__getattr__ = lazy_exports(__name__, _HOMES)


__all__ = [
    "Bucket",
    "Episode",
    "HistoryDropped",
    "HistorySink",
    "HistoryWriteFailed",
    "HistoryWriteResumed",
    "Record",
    "ReplayClock",
    "ReplayResult",
    "SegmentInfo",
    "Series",
    "SinkStats",
    "find_episodes",
    "list_metrics",
    "list_segments",
    "query_series",
    "read_records",
    "replay",
]
