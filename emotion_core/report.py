"""A shareable report of one session: self-contained HTML or PDF.

Charts are Altair specs rendered by vl-convert (SVG embedded as data URIs in HTML, PNG in the
PDF); the PDF is laid out with fpdf2. Every name and score is also written as text.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import altair as alt

from . import charts
from .config import Settings
from .errors import StoreError
from .history import SessionArchive, SessionRecord, bin_size, emotion_bins
from .labels import LABELS
from .live import OVERALL, PersonStats, person_stats
from .privacy import privacy_paragraphs
from .store import Observation

FORMATS = ("html", "pdf")
CHART_WIDTH, CHART_HEIGHT = 560, 220
PNG_SCALE = 2.0
# Unicode fonts tried for the PDF when a text is not Latin-1 (Debian/Ubuntu, Fedora, Arch, macOS,
# Windows); without one the PDF uses a built-in Latin-1 font and other characters are shown as "?".
PDF_FONTS = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf", "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
    (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    ),
    ("/Library/Fonts/Arial Unicode.ttf", "/Library/Fonts/Arial Unicode.ttf"),
    ("C:/Windows/Fonts/arial.ttf", "C:/Windows/Fonts/arialbd.ttf"),
)
SETTING_LABELS = {
    "sample_period": "Sampling period (s)",
    "tolerance": "Recognition tolerance",
    "count_unknown": "Count unknown faces",
    "detect_width": "Detector width (px)",
    "detector": "Detector",
    "calibration": "Calibration",
}


@dataclass(frozen=True)
class SessionReport:
    """Everything a report shows about one session."""

    record: SessionRecord
    observations: tuple[Observation, ...]
    people: tuple[PersonStats, ...]
    overall: PersonStats
    privacy: tuple[tuple[str, str], ...]
    created_at: float

    @property
    def title(self) -> str:
        return f"Emotion session {self.record.id}"


def load_report(archive: SessionArchive, session_id: int, config: Settings, now: float | None = None) -> SessionReport:
    """The report of a stored session; `StoreError` if there is no such session."""
    record = archive.session(session_id)
    observations = tuple(archive.observations(session_id))
    people = tuple(record.final_stats(observations))
    overall = person_stats(OVERALL, _sum_counts(people), record.weights)
    created = datetime.now().timestamp() if now is None else now
    return SessionReport(record, observations, people, overall, tuple(privacy_paragraphs(config)), created)


def _sum_counts(people: Sequence[PersonStats]) -> dict[str, int]:
    return {label: sum(p.counts[label] for p in people) for label in LABELS}


def _when(unix: float | None) -> str:
    return "not ended" if unix is None else datetime.fromtimestamp(unix).isoformat(sep=" ", timespec="seconds")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not ended"
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{seconds:.1f} s"


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def summary_rows(report: SessionReport) -> list[tuple[str, str]]:
    """(label, value) lines of the session's summary: when, how long, source, model and settings."""
    record = report.record
    rows = [
        ("Started", _when(record.started_at)),
        ("Ended", _when(record.ended_at)),
        ("Duration", _duration(record.duration_s)),
        ("Source", record.source_text),
        ("Emotion model", record.model or "none"),
        ("Observations", str(len(report.observations))),
        ("Emotion weights", ", ".join(f"{label} {weight:+g}" for label, weight in record.weights.items())),
    ]
    for key, value in record.settings.items():
        if key not in ("weights", "source"):
            rows.append((SETTING_LABELS.get(key, key.replace("_", " ").capitalize()), _setting_text(value)))
    return rows


def score_text(score: float | None) -> str:
    """A score as text: rounded to one decimal, or "no score"."""
    return "no score" if score is None else f"{score:.1f}"


def report_charts(report: SessionReport) -> list[alt.Chart]:
    """Counts per emotion, each person's running score, and the emotion timeline (empty without observations)."""
    if not report.observations:
        return []
    record, rows = report.record, report.observations
    timeline = charts.running_scores(((o.timestamp, o.person, o.emotion) for o in rows), record.weights)
    span = max(record.duration_s or 0.0, rows[-1].timestamp - record.started_at)
    step = bin_size(span)
    return [
        charts.counts_chart(report.people).properties(width=CHART_WIDTH, height=CHART_HEIGHT),
        charts.score_chart(timeline, "Confidence over the session", start=record.started_at).properties(
            width=CHART_WIDTH, height=CHART_HEIGHT
        ),
        charts.emotion_heatmap(
            emotion_bins(rows, record.started_at, step), step, f"Emotions per {step:g} s"
        ).properties(width=CHART_WIDTH),
    ]


def _vl_convert() -> Any:
    import vl_convert

    return vl_convert


# ------------------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2430;max-width:900px;margin:2em auto}
body{padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #dde;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #dde;padding:.25em .6em;text-align:left}
td.n{text-align:right}th{background:#f3f5f9}figure{margin:1em 0}img{max-width:100%;height:auto}
nav a{margin-right:1em}.muted{color:#667}
"""


def _inline(text: str) -> str:
    """Escape `text` and turn `code`, **bold** and *italic* spans into HTML."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", escaped)


def _people_rows(report: SessionReport) -> list[list[str]]:
    return [
        [p.name, *(str(p.counts[label]) for label in LABELS), str(p.total), score_text(p.score)]
        for p in (*report.people, report.overall)
    ]


def render_html(report: SessionReport) -> str:
    """A single self-contained HTML page: no external resource, charts embedded as SVG data URIs."""
    vlc = _vl_convert()
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(report.title)}</h1>",
        f'<p class="muted">Report created {esc(_when(report.created_at))}.</p>',
        '<nav><a href="#summary">Summary</a><a href="#people">People</a><a href="#charts">Charts</a>'
        '<a href="#privacy">Privacy notice</a></nav>',
        '<h2 id="summary">Summary</h2><table>',
        *(f"<tr><th>{esc(label)}</th><td>{esc(value)}</td></tr>" for label, value in summary_rows(report)),
        "</table>",
        '<h2 id="people">Final confidence per person</h2>',
    ]
    if report.people:
        parts.append('<ul class="scores">')
        parts += [f"<li><strong>{esc(p.name)}</strong>: {esc(score_text(p.score))}</li>" for p in report.people]
        parts.append(f"<li>Overall: {esc(score_text(report.overall.score))}</li></ul>")
        header = "".join(f"<th>{esc(h)}</th>" for h in ("Person", *LABELS, "Total", "Confidence"))
        parts.append(f'<table class="counts"><tr>{header}</tr>')
        for row in _people_rows(report):
            cells = "".join(f'<td class="n">{esc(cell)}</td>' for cell in row[1:])
            parts.append(f"<tr><th>{esc(row[0])}</th>{cells}</tr>")
        parts.append("</table>")
        parts.append(
            '<p class="muted">The confidence maps the mean weight of a person\'s observed emotions from −2…+2 '
            "to 0…100, with the weights of the summary.</p>"
        )
    else:
        parts.append("<p>Nobody was counted in this session.</p>")
    parts.append('<h2 id="charts">Charts</h2>')
    figures = report_charts(report)
    if not figures:
        parts.append("<p>No observations, so no charts.</p>")
    for chart in figures:
        svg = vlc.vegalite_to_svg(chart.to_dict())
        data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
        title = esc(_chart_title(chart))
        parts.append(f'<figure><img alt="{title}" src="data:image/svg+xml;base64,{data}"></figure>')
    parts.append('<h2 id="privacy">Privacy notice</h2>')
    parts += [f"<p><strong>{esc(lead)}</strong> {_inline(text)}</p>" for lead, text in report.privacy]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _chart_title(chart: alt.Chart) -> str:
    title = chart.to_dict().get("title", "chart")
    return title if isinstance(title, str) else str(title.get("text", "chart"))


# -------------------------------------------------------------------------------------- PDF


def _plain(text: str) -> str:
    return re.sub(r"[`*]", "", text)


def render_pdf(report: SessionReport) -> bytes:
    """An A4 PDF with the same content as the HTML report."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    vlc = _vl_convert()
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_title(report.title)
    pdf.set_creator("emotion-core")
    family, encode = _pdf_font(pdf, _pdf_texts(report))
    pdf.add_page()
    width = pdf.epw

    def heading(text: str, size: float) -> None:
        pdf.set_font(family, "B", size)
        pdf.multi_cell(width, size * 0.5, encode(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
        pdf.set_font(family, "", 10)

    def table(rows: Sequence[Sequence[str]], widths: Sequence[float] | None = None, header: bool = False) -> None:
        pdf.set_font(family, "", 8 if widths else 10)
        with pdf.table(col_widths=widths, first_row_as_headings=header, text_align="LEFT") as grid:
            for row in rows:
                line = grid.row()
                for cell in row:
                    line.cell(encode(cell))
        pdf.set_font(family, "", 10)
        pdf.ln(3)

    heading(report.title, 18)
    pdf.set_font(family, "", 9)
    pdf.cell(width, 5, encode(f"Report created {_when(report.created_at)}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    heading("Summary", 13)
    table(summary_rows(report), widths=None)
    heading("Final confidence per person", 13)
    if report.people:
        for p in (*report.people, report.overall):
            pdf.multi_cell(width, 6, encode(f"{p.name}: {score_text(p.score)}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
        table(
            [["Person", *LABELS, "Total", "Score"], *_people_rows(report)],
            widths=(26, *([9] * len(LABELS)), 9, 11),
            header=True,
        )
    else:
        pdf.multi_cell(width, 6, "Nobody was counted in this session.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    heading("Charts", 13)
    figures = report_charts(report)
    if not figures:
        pdf.multi_cell(width, 6, "No observations, so no charts.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for chart in figures:
        png = vlc.vegalite_to_png(chart.to_dict(), scale=PNG_SCALE)
        pdf.image(io.BytesIO(png), w=min(width, 170))
        pdf.ln(3)
    heading("Privacy notice", 13)
    for lead, text in report.privacy:
        pdf.multi_cell(width, 5, encode(f"{lead} {_plain(text)}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
    return bytes(pdf.output())


def _pdf_texts(report: SessionReport) -> list[str]:
    """Every piece of text the PDF writes (to choose its font)."""
    return [
        report.title,
        *(part for row in summary_rows(report) for part in row),
        *(p.name for p in report.people),
        *(f"{lead} {_plain(text)}" for lead, text in report.privacy),
    ]


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _pdf_font(pdf: Any, texts: Sequence[str]) -> tuple[str, Any]:
    """The font family for `texts` and an encoder of text for it.

    PDF's built-in Helvetica when every text is Latin-1 (nothing to load); otherwise the first
    installed Unicode TrueType font; without one, Helvetica with other characters shown as "?".
    """
    if all(_latin1(text) for text in texts):
        return "Helvetica", str
    for regular, bold in PDF_FONTS:
        if Path(regular).is_file() and Path(bold).is_file():
            pdf.add_font("Report", "", regular)
            pdf.add_font("Report", "B", bold)
            return "Report", str
    return "Helvetica", lambda text: text.encode("latin-1", "replace").decode("latin-1")


# ----------------------------------------------------------------------------------- writing


def write_report(report: SessionReport, fmt: str, out: str | Path) -> Path:
    """Write the report as `fmt` ("html" or "pdf") to `out`; `StoreError` if the file cannot be written."""
    if fmt not in FORMATS:
        raise StoreError(f"unknown report format {fmt!r} (choose {' or '.join(FORMATS)})")
    data = render_html(report).encode("utf-8") if fmt == "html" else render_pdf(report)
    path = Path(out)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path
