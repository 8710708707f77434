"""Read-only queries over the emotion log for history, trends and reports.

Plain SQLAlchemy selects on the `sessions` and `observations` tables of `store`; nothing here
writes. A session's `source` is read from its settings JSON; sessions logged before sources
were recorded came from the camera.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from .config import DbTimeouts, session_weights
from .db import make_engine, parse_url
from .errors import StoreError
from .labels import listing_order
from .live import FinalScores, PersonStats, person_stats
from .store import Observation, _read_error, observations_table, sessions_table

CAMERA, VIDEO = "camera", "video"


@dataclass(frozen=True)
class SessionRecord:
    """A logged session with its settings and a summary of its observations."""

    id: int
    started_at: float  # unix time
    ended_at: float | None  # None while running (or if the app stopped before it ended)
    model: str | None
    settings: Mapping[str, Any]
    final: Mapping[str, Any] | None
    people: tuple[str, ...]
    observations: int

    @property
    def source_kind(self) -> str:
        """ "camera" or "video"."""
        source = self.settings.get("source")
        return VIDEO if isinstance(source, dict) and source.get("kind") == VIDEO else CAMERA

    @property
    def source_text(self) -> str:
        """ "camera", or "video <file name>"."""
        source = self.settings.get("source")
        if self.source_kind == VIDEO and isinstance(source, dict):
            return f"video {source.get('name') or ''}".strip()
        return CAMERA

    def final_scores(self) -> FinalScores | None:
        """The frozen final scores of a finished session (stored in `FinalScores.to_dict` form)."""
        if self.final is None or self.ended_at is None:
            return None
        return FinalScores.from_dict(self.final, self.id, self.started_at, self.ended_at)

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else max(0.0, self.ended_at - self.started_at)

    @property
    def weights(self) -> Mapping[str, float]:
        """The emotion weights the session was counted with."""
        return session_weights(self.settings)

    def final_stats(self, observations: Iterable[Observation] = ()) -> list[PersonStats]:
        """Each person's counts and score: the frozen final scores, else counted from `observations`."""
        if self.final is not None and self.final.get("people") is not None:
            return [
                person_stats(name, stats.get("counts", {}), self.weights)
                for name, stats in sorted(self.final["people"].items(), key=lambda item: listing_order(item[0]))
            ]
        return stats_of(observations, self.weights)


@dataclass(frozen=True)
class TrendPoint:
    """One person's result in one session."""

    session_id: int
    started_at: float
    source_kind: str
    person: str
    score: float | None
    total: int
    counts: Mapping[str, int]


def stats_of(observations: Iterable[Observation], weights: Mapping[str, float]) -> list[PersonStats]:
    """Counts and score of each person in `observations`, sorted by name."""
    counts: dict[str, dict[str, int]] = {}
    for row in observations:
        person = counts.setdefault(row.person, {})
        person[row.emotion] = person.get(row.emotion, 0) + 1
    return [person_stats(name, counts[name], weights) for name in sorted(counts, key=listing_order)]


def person_trends(
    sessions: Sequence[SessionRecord],
    *,
    people: Iterable[str] | None = None,
    since: float | None = None,
    until: float | None = None,
) -> list[TrendPoint]:
    """Per person and finished session: score and emotion counts, oldest first.

    Filtered to `people` (all when None) and to sessions started in [since, until).
    """
    wanted = None if people is None else set(people)
    points = []
    for record in sorted(sessions, key=lambda r: (r.started_at, r.id)):
        if record.final is None or (since is not None and record.started_at < since):
            continue
        if until is not None and record.started_at >= until:
            continue
        for stats in record.final_stats():
            if wanted is None or stats.name in wanted:
                points.append(
                    TrendPoint(
                        record.id,
                        record.started_at,
                        record.source_kind,
                        stats.name,
                        stats.score,
                        stats.total,
                        stats.counts,
                    )
                )
    return points


def emotion_bins(observations: Iterable[Observation], start: float, bin_s: float) -> list[tuple[float, str, str, int]]:
    """(bin start in seconds since `start`, person, emotion, observations) for every non-empty time bin."""
    if bin_s <= 0:
        raise ValueError("bin_s must be positive")
    bins: dict[tuple[float, str, str], int] = {}
    for row in observations:
        key = (max(0.0, (row.timestamp - start) // bin_s * bin_s), row.person, row.emotion)
        bins[key] = bins.get(key, 0) + 1
    return [(second, person, emotion, n) for (second, person, emotion), n in sorted(bins.items())]


def bin_size(duration_s: float, bins: int = 60) -> float:
    """A round bin length (1, 2, 5, 10, 15, 30, 60... s) giving at most about `bins` bins."""
    for size in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration_s / size <= bins:
            return float(size)
    return 3600.0 * max(1, round(duration_s / 3600 / bins))


class SessionArchive:
    """Sessions and observations of the emotion log at `url`, for reading."""

    def __init__(self, url: str, timeouts: DbTimeouts | None = None) -> None:
        parsed = parse_url(url)
        sqlite = parsed.get_backend_name() == "sqlite"
        # A missing SQLite file holds no sessions; reading must not create it.
        self._missing = bool(
            sqlite and parsed.database not in (None, "", ":memory:") and not Path(parsed.database).exists()
        )
        self._engine: Engine = make_engine(url, timeouts)  # bounded waits, as every reader of the log

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection | None]:
        """A connection to read with, or None while the log has no tables; database errors are
        raised as `StoreError`."""
        if self._missing:
            yield None
            return
        try:
            with self._engine.connect() as conn:
                yield conn if inspect(conn).has_table(sessions_table.name) else None
        except SQLAlchemyError as exc:
            raise _read_error(exc) from None

    def sessions(self, session_id: int | None = None) -> list[SessionRecord]:
        """Stored sessions, newest first (only `session_id` when given)."""
        s, o = sessions_table, observations_table
        query = select(s).order_by(s.c.started_at.desc(), s.c.id.desc())
        counts_query = select(o.c.session_id, func.count()).group_by(o.c.session_id)
        people_query = select(o.c.session_id, o.c.person).distinct().order_by(o.c.session_id, o.c.person)
        if session_id is not None:
            query = query.where(s.c.id == session_id)
            counts_query = counts_query.where(o.c.session_id == session_id)
            people_query = people_query.where(o.c.session_id == session_id)
        with self._reading() as conn:
            if conn is None:
                return []
            rows = conn.execute(query).all()
            counts = {sid: n for sid, n in conn.execute(counts_query)}
            people: dict[int, list[str]] = {}
            for sid, person in conn.execute(people_query):
                people.setdefault(sid, []).append(person)
        return [
            SessionRecord(
                r.id,
                r.started_at,
                r.ended_at,
                r.model,
                r.settings or {},
                r.final,
                tuple(people.get(r.id, ())),
                counts.get(r.id, 0),
            )
            for r in rows
        ]

    def session(self, session_id: int) -> SessionRecord:
        """One session; `StoreError` if there is none with that id."""
        found = self.sessions(session_id)
        if not found:
            raise StoreError(f"no session {session_id} in the emotion log")
        return found[0]

    def observations(self, session_id: int) -> list[Observation]:
        """The session's observations in time order."""
        o = observations_table
        with self._reading() as conn:
            if conn is None:
                return []
            columns = [o.c.timestamp, o.c.person, o.c.emotion, o.c.probability]
            # A log made before calibration has no raw_emotion until EmotionLog opens it.
            if "raw_emotion" in {c["name"] for c in inspect(conn).get_columns(o.name)}:
                columns.append(o.c.raw_emotion)
            query = select(*columns).where(o.c.session_id == session_id).order_by(o.c.timestamp, o.c.id)
            return [Observation(*row) for row in conn.execute(query)]

    def close(self) -> None:
        self._engine.dispose()
