"""Power episodes from history in words: one sentence each, and the cells of the
dashboard's table (what, from, until, how long), in this host's local time.

Only what was observed is stated as a time. An episode known only from the firmware's
sticky "since boot" bit happened "at some time since boot, before the daemon started":
it has no start, end or duration to show. One already going on when the daemon
started has no known start, and "so far" counts from when the daemon first saw it,
not from the boot. One that came and went between two readings lasted "less than"
the gap. (The episodes themselves come from ``bussdcc_system.history.episodes``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bussdcc_system import throttling_flags
from bussdcc_system.formatting import (
    HOUR_MINUTE,
    WEEKDAY_MINUTE,
    duration,
    exact_duration,
    local_time,
)

Episode = Mapping[str, Any]

TO: Final = " \u2013 "
"""Between a start and an end ("Sun 01 Mar 10:00", this, "10:03"): an en dash."""


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _at(epoch: float) -> str:
    return local_time(epoch, WEEKDAY_MINUTE)


def _until(start: float, end: float) -> str:
    """The end, without repeating the day when it is the start's."""
    same_day = datetime.fromtimestamp(start).date() == datetime.fromtimestamp(end).date()
    return local_time(end, HOUR_MINUTE if same_day else WEEKDAY_MINUTE)


@dataclass(frozen=True, slots=True)
class EpisodeWords:
    """One episode as the dashboard writes it."""

    what: str
    """"under-voltage", "throttling"..."""
    start: str
    """When it started, or what is known of it ("some time after boot (Sun 01 Mar 10:00)")."""
    end: str
    """When it ended, or "still going on"."""
    lasted: str
    """How long ("3 minutes", "at least 2 minutes", "unknown")."""
    sentence: str
    observed: bool
    """Whether its start was seen (the timeline draws the others differently)."""


def episode_words(episode: Episode, *, now: float) -> EpisodeWords | None:
    """The words for one episode (a ``history.episodes.Episode.to_dict()``); None
    without a start."""
    start, end = _num(episode.get("start")), _num(episode.get("end"))
    if start is None:
        return None
    what = throttling_flags.past_words(str(episode.get("kind") or "under_voltage"))
    reason = str(episode.get("end_reason") or ("ongoing" if end is None else "cleared"))
    seen = _num(episode.get("observed_from"))
    if reason == "before_monitoring":
        watched = f", watched from {_until(start, end)}" if end is not None else ""
        return EpisodeWords(
            what,
            f"some time after boot ({_at(start)})",
            "before the daemon started" + (f" ({_until(start, end)})" if end is not None else ""),
            "unknown",
            f"{what} at some time since boot, before the daemon started"
            f" (booted {_at(start)}{watched})",
            observed=False,
        )
    if episode.get("between_samples") and end is not None:
        gap = exact_duration(end - start)
        return EpisodeWords(
            what,
            f"{_at(start)} (between two readings)",
            f"at most {gap} later",
            f"less than {gap}",
            f"{_at(start)}: {what} for less than {gap} (between two readings, not seen itself)",
            observed=False,
        )
    if episode.get("start_known") is False:
        since = seen if seen is not None else start
        before = f"before the daemon started at {_at(since)}"
        if end is None:
            so_far = duration(now - since)
            return EpisodeWords(
                what,
                f"{before} (booted {_at(start)})" if seen is not None else before,
                "still going on",
                f"{so_far} so far, at least",
                f"{what} since {before}, still going on (seen for {so_far} so far)",
                observed=False,
            )
        lasted = f"at least {duration(end - since)}"
        return EpisodeWords(
            what,
            before,
            _until(since, end),
            lasted,
            f"{what} from {before} until {_until(since, end)} ({lasted})",
            observed=False,
        )
    if end is None:
        so_far = duration(now - start)
        return EpisodeWords(
            what,
            _at(start),
            "still going on",
            f"{so_far} so far",
            f"since {_at(start)}: {what}, still going on ({so_far} so far)",
            observed=True,
        )
    if reason == "reboot":
        lasted = f"at least {duration(end - start)}"
        return EpisodeWords(
            what,
            _at(start),
            f"the restart (last reading {_until(start, end)})",
            lasted,
            f"{_at(start)}{TO}{_until(start, end)}: {what} for {lasted}, until the Pi restarted",
            observed=True,
        )
    lasted = duration(end - start)
    return EpisodeWords(
        what,
        _at(start),
        _until(start, end),
        lasted,
        f"{_at(start)}{TO}{_until(start, end)}: {what} for {lasted}",
        observed=True,
    )


def episode_sentence(episode: Episode, *, now: float) -> str | None:
    """One power episode in a sentence ("Sun 01 Mar 10:00 to 10:03" with an en dash:
    "under-voltage for 3 minutes"); None without a start."""
    words = episode_words(episode, now=now)
    return None if words is None else words.sentence


def power_words(episodes: Iterable[Episode], *, now: float) -> list[EpisodeWords]:
    """The episodes in words, in the order given (newest first)."""
    out = (episode_words(ep, now=now) for ep in episodes)
    return [w for w in out if w is not None]


__all__ = ["EpisodeWords", "episode_sentence", "episode_words", "power_words"]
