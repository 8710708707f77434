"""Tables and Altair charts of counts, scores, emotion timelines and trends (shared by the app and the reports)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import altair as alt
import pandas as pd

from .history import TrendPoint
from .labels import LABELS
from .live import PersonStats
from .scoring import confidence

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


def score_chart(
    points: Iterable[tuple[float, str, float]], title: str = "Confidence over time", start: float | None = None
) -> alt.Chart:
    """One line per person (and "Overall") of the confidence score over time.

    With `start` (unix time) the axis is in seconds since then (a video's own time), else clock time.
    """
    if start is None:
        data, x = score_frame(points), alt.X("Time:T", title=None, axis=alt.Axis(format="%H:%M:%S"))
        when = alt.Tooltip("Time:T", format="%H:%M:%S")
    else:
        data = pd.DataFrame([(t - start, p, s) for t, p, s in points], columns=["Seconds", "Person", "Score"])
        x, when = alt.X("Seconds:Q", title="Seconds"), alt.Tooltip("Seconds:Q", format=".1f")
    return (
        alt.Chart(data, title=title)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=x,
            y=alt.Y("Score:Q", title="Confidence", scale=alt.Scale(domain=SCORE_DOMAIN)),
            color=alt.Color("Person:N", legend=alt.Legend(orient="bottom", title=None)),
            tooltip=["Person:N", alt.Tooltip("Score:Q", format=".0f"), when],
        )
    )


def emotion_heatmap(
    bins: Sequence[tuple[float, str, str, int]], bin_s: float, title: str = "Emotions over time"
) -> alt.Chart:
    """Observations per emotion and time bin, one row of cells per person.

    `bins` are (bin start in seconds, person, emotion, count) rows, as `history.emotion_bins` gives.
    """
    data = pd.DataFrame(list(bins), columns=["Seconds", "Person", "Emotion", "Observations"])
    data["End"] = data["Seconds"] + bin_s
    return (
        alt.Chart(data, title=title)
        .mark_rect()
        .encode(
            x=alt.X("Seconds:Q", title="Seconds since the start", bin="binned"),
            x2="End:Q",
            y=alt.Y(
                "Emotion:N",
                sort=list(LABELS),
                title=None,
                scale=alt.Scale(domain=list(LABELS)),
                axis=alt.Axis(labelOverlap=False),
            ),
            color=alt.Color(
                "Observations:Q",
                scale=alt.Scale(scheme="blues", domainMin=0),
                legend=alt.Legend(orient="bottom", format="d", tickMinStep=1),
            ),
            row=alt.Row("Person:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
            tooltip=["Person:N", "Emotion:N", alt.Tooltip("Seconds:Q", title="From (s)"), "Observations:Q"],
        )
        .properties(height=22 * len(LABELS))
    )


def trend_frame(points: Iterable[TrendPoint]) -> pd.DataFrame:
    """One row per person and session: start time, session, source, score, observations, share per emotion."""
    rows = [
        {
            "Start": local_time(p.started_at),
            "Session": p.session_id,
            "Source": p.source_kind,
            "Person": p.person,
            "Score": p.score,
            "Observations": p.total,
            **{label: (p.counts.get(label, 0) / p.total if p.total else 0.0) for label in LABELS},
        }
        for p in points
    ]
    return pd.DataFrame(rows, columns=["Start", "Session", "Source", "Person", "Score", "Observations", *LABELS])


def score_trend_chart(points: Sequence[TrendPoint]) -> alt.Chart:
    """Each person's final score per session over time; the point's shape tells camera from video."""
    return (
        alt.Chart(trend_frame(points), title="Final confidence per session")
        .mark_line(point=alt.OverlayMarkDef(size=60, filled=True))
        .encode(
            x=alt.X("Start:T", title=None),
            y=alt.Y("Score:Q", title="Confidence", scale=alt.Scale(domain=SCORE_DOMAIN)),
            color=alt.Color("Person:N", legend=alt.Legend(orient="bottom", title=None)),
            shape=alt.Shape(
                "Source:N",
                scale=alt.Scale(domain=["camera", "video"], range=["circle", "diamond"]),
                legend=alt.Legend(orient="bottom", title="Source"),
            ),
            tooltip=[
                "Person:N",
                "Session:Q",
                "Source:N",
                alt.Tooltip("Start:T", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("Score:Q", format=".0f"),
                "Observations:Q",
            ],
        )
    )


def emotion_mix_chart(points: Sequence[TrendPoint]) -> alt.Chart:
    """Each person's share of each emotion per session (one row of bars per person)."""
    data = trend_frame(points).melt(
        id_vars=["Start", "Session", "Source", "Person"],
        value_vars=list(LABELS),
        var_name="Emotion",
        value_name="Share",
    )
    data["Label"] = [f"{s} · {p:%m-%d %H:%M}" for s, p in zip(data["Session"], data["Start"])]
    return (
        alt.Chart(data, title="Emotion mix per session")
        .mark_bar()
        .encode(
            x=alt.X("Label:N", title="Session · start", sort=alt.SortField("Start")),
            y=alt.Y("Share:Q", title="Share", axis=alt.Axis(format="%"), stack="normalize"),
            color=alt.Color("Emotion:N", sort=list(LABELS), legend=alt.Legend(orient="bottom", title=None)),
            row=alt.Row("Person:N", title=None),
            tooltip=["Person:N", "Session:Q", "Source:N", "Emotion:N", alt.Tooltip("Share:Q", format=".0%")],
        )
        .properties(height=140)
    )


def running_scores(
    observations: Iterable[tuple[float, str, str]], weights: Mapping[str, float]
) -> list[tuple[float, str, float]]:
    """Each person's confidence after each of their (time, person, emotion) observations, in time order."""
    counts: dict[str, dict[str, int]] = {}
    points = []
    for timestamp, person, emotion in sorted(observations):
        person_counts = counts.setdefault(person, {})
        person_counts[emotion] = person_counts.get(emotion, 0) + 1
        score, _ = confidence(person_counts, weights)
        if score is not None:  # never None after an observation
            points.append((timestamp, person, score))
    return points
