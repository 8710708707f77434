"""Time and size of a session report in each format, and of the PDF libraries considered.

    .venv/bin/python bench/report_formats.py [--runs 7] [--observations 600]

A synthetic session (four people, observations one per 0.5 s, emotions cycling) is logged through
a real `LiveSession` into a temporary SQLite file, then reported as HTML (vl-convert SVG) and as
PDF with fpdf2 (what `report` uses). For comparison the same PDF content is laid out with
ReportLab if it is installed (`pip install reportlab`; not a project dependency), and vl-convert's
own PDF export is timed for the three charts alone (it makes one page per chart, no document).
Prints the medians as Markdown.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from emotion_core.analyzer import AnalyzedFace  # noqa: E402
from emotion_core.config import load_settings  # noqa: E402
from emotion_core.history import SessionArchive  # noqa: E402
from emotion_core.labels import LABELS  # noqa: E402
from emotion_core.live import LiveSession  # noqa: E402
from emotion_core.report import (  # noqa: E402
    PNG_SCALE,
    SessionReport,
    load_report,
    render_html,
    render_pdf,
    report_charts,
    summary_rows,
)
from emotion_core.store import EmotionLog  # noqa: E402

PEOPLE = ("Ada Lovelace", "Zoë Ångström", "Grace Hopper", "Unknown")


def make_session(url: str, observations: int) -> int:
    """Log a session with about `observations` observations; return its id."""
    log = EmotionLog(url)
    settings = load_settings(environ={}, db_url=url)
    session = LiveSession(settings, log, model_name="faceapi")
    start = 1_700_000_000.0
    session.start_counting(now=start, source="bench.mp4")
    steps = observations // len(PEOPLE)
    for step in range(steps):
        now = start + step * settings.sample_period
        faces = [
            AnalyzedFace(
                n,
                (10, 60, 60, 10),
                name,
                0.3,
                {label: 0.9 if i == (step + n) % len(LABELS) else 0.01 for i, label in enumerate(LABELS)},
            )
            for n, name in enumerate(PEOPLE)
        ]
        session.observe(faces, now)
    final = session.stop_counting(now=start + steps * settings.sample_period)
    log.flush()
    log.close()
    assert final is not None and final.session_id is not None
    return final.session_id


def reportlab_pdf(report: SessionReport) -> bytes:
    """The same content as `render_pdf`, laid out with ReportLab's platypus."""
    import vl_convert
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Table

    pdfmetrics.registerFont(TTFont("DejaVu", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    style = getSampleStyleSheet()["Normal"]
    style.fontName = "DejaVu"
    story: list = [Paragraph(report.title, style), Table(summary_rows(report))]
    story += [Paragraph(f"{p.name}: {p.score}", style) for p in report.people]
    for chart in report_charts(report):
        png = vl_convert.vegalite_to_png(chart.to_dict(), scale=PNG_SCALE)
        story.append(Image(io.BytesIO(png), width=170 * mm, height=70 * mm, kind="proportional"))
    story += [Paragraph(f"{lead} {text}", style) for lead, text in report.privacy]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4).build(story)
    return buffer.getvalue()


def vl_convert_pdfs(report: SessionReport) -> bytes:
    import vl_convert

    return b"".join(vl_convert.vegalite_to_pdf(chart.to_dict()) for chart in report_charts(report))


def measure(candidates: list[tuple[str, Callable[[], bytes | str]]], runs: int) -> dict[str, tuple[float, int]]:
    """Median seconds and size of each candidate, run in turn (so a load change hits them all)."""
    for _, make in candidates:  # once first: imports, and vl-convert's JavaScript engine
        make()
    times: dict[str, list[float]] = {name: [] for name, _ in candidates}
    sizes: dict[str, int] = {}
    for _ in range(runs):
        for name, make in candidates:
            started = time.perf_counter()
            out = make()
            times[name].append(time.perf_counter() - started)
            sizes[name] = len(out.encode("utf-8") if isinstance(out, str) else out)
    return {name: (statistics.median(times[name]), sizes[name]) for name, _ in candidates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--observations", type=int, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        session = make_session(url, args.observations)
        archive = SessionArchive(url)
        report = load_report(archive, session, load_settings(environ={}, db_url=url))
        archive.close()
    candidates: list[tuple[str, Callable[[], bytes | str]]] = [
        ("HTML, charts as SVG (vl-convert)", lambda: render_html(report)),
        ("PDF, fpdf2 + vl-convert PNG (used)", lambda: render_pdf(report)),
    ]
    try:
        import reportlab  # noqa: F401

        candidates.append(("PDF, ReportLab + vl-convert PNG", lambda: reportlab_pdf(report)))
    except ImportError:
        print("ReportLab not installed: its row is left out", file=sys.stderr)
    candidates.append(("PDF, vl-convert alone (3 charts, no text)", lambda: vl_convert_pdfs(report)))
    print(f"{len(report.observations)} observations, {len(report.people)} people, median of {args.runs} runs\n")
    print("| output | time (ms) | size (kB) |")
    print("|---|---|---|")
    for name, (seconds, size) in measure(candidates, args.runs).items():
        print(f"| {name} | {seconds * 1000:.0f} | {size / 1000:.0f} |")


if __name__ == "__main__":
    main()
