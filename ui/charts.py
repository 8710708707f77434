"""Tables and Altair charts of counts and scores (pandas/Altair only, no Streamlit)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import altair as alt
import pandas as pd

from emotion_core import live
from emotion_core.labels import LABELS
from emotion_core.live import PersonStats
from emotion_core.scoring import confidence

SCORE_DOMAIN = (0, 100)


def local_time(timestamp: float) -> datetime:
    """A unix time as a naive local datetime (what Vega-Lite shows as is)."""
    return datetime.fromtimestamp(timestamp)


def counts_table(people: Sequence[PersonStats]) -> pd.DataFrame:
    """One row per person: count per emotion, total, confidence score (NaN without observations)."""
    rows = [
        {
            "Person": p.name,
            **{label: int(p.counts.get(label, 0)) for label in LABELS},
            "Total": p.total,
            "Score": p.score,
        }
        for p in people
    ]
    frame = pd.DataFrame(rows, columns=["Person", *LABELS, "Total", "Score"])
    return frame.astype({"Score": "float64"}).set_index("Person")


def score_text(score: float | None) -> str:
    """A confidence score for display: rounded, or a dash when there is none."""
    return "—" if score is None else f"{score:.0f}"


def counts_chart(people: Sequence[PersonStats]) -> alt.Chart:
    """Grouped bars: per emotion, one bar per person."""
    rows = [
        {"Person": p.name, "Emotion": label, "Count": int(p.counts.get(label, 0))} for p in people for label in LABELS
    ]
    data = pd.DataFrame(rows, columns=["Person", "Emotion", "Count"])
    return (
        alt.Chart(data, title="Observations per emotion")
        .mark_bar()
        .encode(
            x=alt.X("Emotion:N", sort=list(LABELS), title=None, axis=alt.Axis(labelAngle=-30, labelOverlap=False)),
            xOffset=alt.XOffset("Person:N"),
            y=alt.Y("Count:Q", title="Observations"),
            color=alt.Color("Person:N", legend=alt.Legend(orient="bottom", title=None)),
            tooltip=["Person:N", "Emotion:N", "Count:Q"],
        )
    )


def score_frame(points: Iterable[tuple[float, str, float]]) -> pd.DataFrame:
    """(unix time, person, score) points as a frame with local times."""
    data = pd.DataFrame(list(points), columns=["Time", "Person", "Score"])
    data["Time"] = pd.to_datetime([local_time(t) for t in data["Time"]])
    return data


def score_chart(points: Iterable[tuple[float, str, float]], title: str = "Confidence over time") -> alt.Chart:
    """One line per person (and "Overall") of the confidence score over time."""
    return (
        alt.Chart(score_frame(points), title=title)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=alt.X("Time:T", title=None, axis=alt.Axis(format="%H:%M:%S")),
            y=alt.Y("Score:Q", title="Confidence", scale=alt.Scale(domain=SCORE_DOMAIN)),
            color=alt.Color("Person:N", legend=alt.Legend(orient="bottom", title=None)),
            tooltip=["Person:N", alt.Tooltip("Score:Q", format=".0f"), alt.Tooltip("Time:T", format="%H:%M:%S")],
        )
    )


def running_scores(
    observations: Iterable[tuple[float, str, str]], weights: Mapping[str, float]
) -> list[tuple[float, str, float]]:
    """Each person's confidence after each of their (time, person, emotion) observations, in time order."""
    counts: dict[str, dict[str, int]] = {}
    points: list[tuple[float, str, float]] = []
    for timestamp, person, emotion in sorted(observations):
        person_counts = counts.setdefault(person, {})
        person_counts[emotion] = person_counts.get(emotion, 0) + 1
        score, _ = confidence(person_counts, weights)
        if score is not None:  # always, after an observation; the type allows none
            points.append((timestamp, person, score))
    return points


def stats_from_observations(observations: Iterable[tuple[str, str]], weights: Mapping[str, float]) -> list[PersonStats]:
    """Counts and confidence of each person from (person, emotion) observations, sorted by name."""
    counts: dict[str, dict[str, int]] = {}
    for person, emotion in observations:
        person_counts = counts.setdefault(person, {})
        person_counts[emotion] = person_counts.get(emotion, 0) + 1
    return [live.person_stats(person, counts[person], weights) for person in sorted(counts)]
