"""bench/e2e.py end to end on input (a) for a short window: it reads frame numbers back from both
video streams and the analysed frame's stamp, sees the enrolled name and reports every figure
(the values are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.data import PROJECT_ROOT

# The figures bench/README.md documents, in every run and in the medians.
VIDEO_FIGURES = {"content_fps", "camera_fps", "ratio", "lag_p50_ms", "lag_p95_ms"}
OVERLAY_FIGURES = {"overlay_age_p50_ms", "overlay_age_p95_ms", "analysis_fps", "analysis_fps_per_face", "first_name_s"}
COST_FIGURES = {
    "observations_per_person_period",
    "server_cores",
    "browser_cores",
    "sent_resolution",
    "quality_limitation",
}
FIGURES = VIDEO_FIGURES | OVERLAY_FIGURES | COST_FIGURES


def test_e2e_bench_measures_input_a(artifacts):
    done = subprocess.run(
        [sys.executable, "bench/e2e.py", "--inputs", "a", "--runs", "1", "--seconds", "8", "--warmup", "2", "--json"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (artifacts / "e2e-bench.stderr.txt").write_text(done.stderr)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["machine"] and result["seconds"] == 8
    a = result["inputs"]["a"]
    assert set(FIGURES) <= set(a["median"]), sorted(FIGURES - set(a["median"]))
    (run,) = a["runs"]
    assert set(FIGURES) <= set(run)
    # Over the run, frame numbers were decoded from the local camera and from the returned video
    # (the window's figures are left alone: on a loaded machine the stream can end by itself).
    assert run["camera_frames_read"] > 0 and run["returned_frames_read"] > 0
    # The app copied the analysed frame's stamp next to its overlay, and it was read back.
    assert run["analysed_stamps_read"] > 0
    # The enrolled person was named on the page.
    assert run["first_name_s"] is not None
    assert run["server_cores"] >= 0 and run["browser_cores"] > 0
