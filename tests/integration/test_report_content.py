"""What a session report holds, on sessions logged through a real LiveSession into SQLite: names
escaped in HTML, any name in the PDF (with or without a Unicode font), every logged setting in
the summary, sessions without observations."""

from __future__ import annotations

import pytest

from emotion_core import report
from emotion_core.analyzer import AnalyzedFace
from emotion_core.config import load_settings
from emotion_core.errors import StoreError
from emotion_core.history import SessionArchive, SessionRecord
from emotion_core.labels import LABELS
from emotion_core.live import LiveSession
from emotion_core.store import EmotionLog

NAMES = ("李雷", "Zoë Ångström", "<script>alert(1)</script>")


def happy(track: int, name: str) -> AnalyzedFace:
    return AnalyzedFace(
        track, (10, 60, 60, 10), name, 0.3, {label: 0.9 if label == "Happy" else 0.01 for label in LABELS}
    )


@pytest.fixture
def archive(db_url):
    log = EmotionLog(db_url)
    session = LiveSession(load_settings(environ={}, db_url=db_url), log, model_name="faceapi")
    session.start_counting(now=1000.0, source="interview.webm")
    for index, name in enumerate(NAMES):
        session.observe([happy(index, name)], 1000.0 + index)
    session.stop_counting(now=1005.0)
    session.start_counting(now=2000.0)  # a camera session in which nobody was counted
    session.stop_counting(now=2003.0)
    assert log.flush()
    log.close()
    archive = SessionArchive(db_url)
    yield archive
    archive.close()


def test_html_escapes_names_and_shows_each_score(archive, db_url):
    made = report.load_report(archive, 1, load_settings(environ={}, db_url=db_url))
    html = report.render_html(made)
    assert "<script>alert" not in html
    for name in ("李雷", "Zoë Ångström", "&lt;script&gt;alert(1)&lt;/script&gt;"):
        assert f"<strong>{name}</strong>: 100.0" in html
    assert "video interview.webm" in html


@pytest.mark.parametrize("fonts", [report.PDF_FONTS, ()], ids=["unicode-font", "no-font-installed"])
def test_pdf_with_any_name(archive, db_url, monkeypatch, fonts):
    monkeypatch.setattr(report, "PDF_FONTS", fonts)
    made = report.load_report(archive, 1, load_settings(environ={}, db_url=db_url))
    assert report.render_pdf(made).startswith(b"%PDF")


def test_session_without_observations(archive, db_url):
    made = report.load_report(archive, 2, load_settings(environ={}, db_url=db_url))
    assert made.record.source_text == "camera" and not made.observations
    assert "Nobody was counted" in report.render_html(made)
    assert report.render_pdf(made).startswith(b"%PDF")


def test_summary_lists_every_logged_setting():
    record = SessionRecord(
        7,
        1000.0,
        1060.0,
        "hsemotion",
        {"weights": {"Happy": 1.0}, "detector": "hog", "calibration": {"offset": 0.1}, "new_knob": True},
        None,
        (),
        0,
    )
    rows = dict(report.summary_rows(report.SessionReport(record, (), (), None, (), 0.0)))  # type: ignore[arg-type]
    assert rows["Duration"] == "1 min 00 s" and rows["Source"] == "camera" and rows["Emotion model"] == "hsemotion"
    assert rows["Detector"] == "hog" and rows["Calibration"] == '{"offset": 0.1}' and rows["New knob"] == "yes"
    assert rows["Emotion weights"].startswith("Happy +1, Neutral +2")  # labels not logged take the defaults


def test_unknown_session(archive):
    with pytest.raises(StoreError, match="no session 9 in the emotion log"):
        archive.session(9)
