"""History: an append-only JSONL record of every event, and what is read back from it.

- ``sink.HistorySink`` writes (off the dispatch thread, batched, SD-card friendly).
- ``reader.read_records`` yields records in write order, clock-corrected;
  ``catalogue.list_segments`` lists the segments.
- ``query.query_series`` downsamples a metric for charts (per-minute rollups).
- ``episodes.find_episodes`` finds under-voltage and throttling episodes.
- ``replay`` feeds a recorded range back through a runtime at a chosen speed.
- ``cli`` registers the ``history`` and ``replay`` subcommands.

See ``docs/history.md`` (it lists every module of the package).
"""

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
