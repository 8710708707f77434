"""The History page's trends, heatmap, sources and report download under AppTest, on sessions
recorded through a real LiveSession (one from the camera, two from videos)."""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import pytest

from emotion_core.config import load_settings
from emotion_core.live import LiveSession
from emotion_core.store import EmotionLog
from tests.app.apphelpers import face

HISTORY = "ui/pages/history.py"
DAY1, DAY2, DAY3 = (datetime(2026, 3, d, 10, 0).timestamp() for d in (1, 2, 3))


def record(db_url: str, rows: list[tuple[str, str]], start: float, source: str | None) -> None:
    log = EmotionLog(db_url)
    session = LiveSession(load_settings(environ={}, db_url=db_url), log, model_name="faceapi")
    session.start_counting(now=start, source=source)
    for index, (name, emotion) in enumerate(rows):
        session.observe([face(index, name, emotion)], start + index)
    session.stop_counting(now=start + len(rows))
    assert log.flush()
    log.close()


@pytest.fixture
def three_sessions(app_env, db_url) -> None:
    record(db_url, [("Alice", "Happy"), ("Bob", "Sad")], DAY1, None)
    record(db_url, [("Alice", "Angry"), ("Alice", "Happy")], DAY2, "meeting.mp4")
    record(db_url, [("Bob", "Happy")], DAY3, "talk.webm")


def chart_data(at, title: str) -> pd.DataFrame:
    """The data of the page's chart titled `title` (Streamlit sends it as Arrow beside the spec)."""
    for chart in at.get("vega_lite_chart"):
        if json.loads(chart.proto.spec).get("title") == title:
            (dataset,) = chart.proto.datasets
            return pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()
    raise AssertionError(f"no chart titled {title!r}")


def trend_rows(at) -> list[tuple[str, int, str]]:
    """(person, session, source) of the score trend chart's points."""
    data = chart_data(at, "Final confidence per session")
    return sorted(zip(data["Person"], data["Session"].astype(int), data["Source"]))


def test_sources_are_told_apart(page, three_sessions):
    at = page(HISTORY)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Source"]) == ["Video: talk.webm", "Video: meeting.mp4", "Camera"]


def test_trends_filter_by_person_and_date(page, three_sessions):
    at = page(HISTORY)
    assert trend_rows(at) == [("Alice", 1, "camera"), ("Alice", 2, "video"), ("Bob", 1, "camera"), ("Bob", 3, "video")]
    at.multiselect(key="trend_people").set_value(["Bob"]).run()
    assert trend_rows(at) == [("Bob", 1, "camera"), ("Bob", 3, "video")]
    at.date_input(key="trend_dates").set_value((date(2026, 3, 2), date(2026, 3, 3))).run()
    assert trend_rows(at) == [("Bob", 3, "video")]
    at.multiselect(key="trend_people").set_value(["Alice"]).run()
    at.date_input(key="trend_dates").set_value((date(2026, 3, 3), date(2026, 3, 3))).run()
    assert not at.exception
    assert "No finished session of the chosen people" in at.info[0].value


def test_session_heatmap_and_report_download(page, three_sessions, downloads):
    at = page(HISTORY)
    at.selectbox(key="history_session").set_value(2).run()
    assert any("Video: meeting.mp4" in c.value for c in at.caption)
    heatmap = chart_data(at, "Emotions per 1 s")
    assert sorted(zip(heatmap["Person"], heatmap["Emotion"], heatmap["Seconds"])) == [
        ("Alice", "Angry", 0.0),
        ("Alice", "Happy", 1.0),
    ]
    at.button(key="make_report").click().run()
    assert not at.exception and not at.error
    html = [data for data, mime, name in downloads if name == "emotion-session-2.html"]
    assert html, [name for _, _, name in downloads]
    text = html[-1].decode("utf-8")
    assert "Alice</strong>: 50.0" in text and "video meeting.mp4" in text
    at.segmented_control(key="report_format").set_value("PDF").run()
    at.button(key="make_report").click().run()
    pdf = [data for data, mime, name in downloads if name == "emotion-session-2.pdf"]
    assert pdf and pdf[-1].startswith(b"%PDF")
