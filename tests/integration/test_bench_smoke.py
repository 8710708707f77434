"""`python -m emotion_core bench` on a few real frames: the JSON shape and sane values (never times)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.data import HAMILTON, photos
from tests.integration.helpers import cli

pytestmark = pytest.mark.requires_data

MIRANDA = "Lin-Manuel Miranda"
KEYS = {
    "frames",
    "fps",
    "baseline_fps",
    "speedup",
    "latency_ms_p50",
    "latency_ms_p95",
    "identity_accuracy",
    "baseline_identity_accuracy",
}


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "faces.pkl"
    done = cli("--faces", path, "enroll", MIRANDA, *photos("lin_manuel_miranda"))
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture(scope="module")
def truth(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "hamilton.truth.json"
    path.write_text(json.dumps({"name": MIRANDA}))
    return path


def test_bench_json_on_a_few_hamilton_frames(enrolled, truth):
    # 12 frames keep the naive pipeline (a few frames per second) short.
    done = cli("bench", HAMILTON, "--faces", enrolled, "--truth", truth, "--frames", 12, "--model", "none", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == KEYS
    assert report["frames"] == 12
    assert report["fps"] > 0 and report["baseline_fps"] > 0
    assert report["speedup"] == pytest.approx(report["fps"] / report["baseline_fps"], rel=0.02)
    assert 0 < report["latency_ms_p50"] <= report["latency_ms_p95"]
    for key in ("identity_accuracy", "baseline_identity_accuracy"):  # None: no face found to score
        assert report[key] is None or 0.0 <= report[key] <= 1.0


def test_bench_text_report_names_both_pipelines_and_their_stages(enrolled, truth):
    done = cli("--faces", enrolled, "bench", HAMILTON, "--truth", truth, "--frames", 5, "--model", "none")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "5 frames of 640x360" in lines[0]
    ours = next(line for line in lines if line.startswith("ours"))
    naive = next(line for line in lines if line.startswith("naive"))
    assert "detect" in ours and "detect" in naive and "encode" in naive
    assert any(line.startswith("speedup") for line in lines)


def test_bench_soak_reports_memory(enrolled):
    done = cli("bench", HAMILTON, "--faces", enrolled, "--frames", 5, "--model", "none", "--soak", 2, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["frames"] > 0
    assert 0 < report["rss_start_mb"] <= report["rss_max_mb"]
    assert report["growth_mb"] == pytest.approx(report["rss_end_mb"] - report["rss_start_mb"], abs=0.2)


def test_bench_refuses_a_missing_video_and_a_bad_truth_file(enrolled, tmp_path):
    missing = cli("bench", tmp_path / "nothing.mp4", "--faces", enrolled, "--model", "none")
    assert missing.returncode == 2 and "nothing.mp4" in missing.stderr and "Traceback" not in missing.stderr
    bad = tmp_path / "truth.json"
    bad.write_text("[1, 2")
    refused = cli("bench", HAMILTON, "--faces", enrolled, "--model", "none", "--truth", bad)
    assert refused.returncode == 2 and "truth.json" in refused.stderr and "Traceback" not in refused.stderr
