"""End-to-end benchmark: what the user sees in a real browser, not how fast the analyzer is.

    .venv/bin/python bench/e2e.py [--inputs a,b,c,d] [--runs 3] [--seconds 20] [--json]
    .venv/bin/python bench/e2e.py --inputs a --browsers 2      # two browsers, one server
    .venv/bin/python bench/e2e.py --soak 300                   # input c for 5 minutes

Each run starts a real `streamlit run app.py` (temporary registry and SQLite database,
EMOTION_BENCH_STAMP=1) and Debian's Chromium with a fake camera playing a 640x480, 30 fps Y4M
built from ../shared/data, all inside a loopback-only network namespace (the script re-executes
itself under `unshare -n`, as tests/e2e/run does). Every camera frame carries its number in a
stamp (emotion_core/stamp.py); script injected into the page (bench/e2e_browser.js) reads the
stamp of every frame the local camera and the returned video present, and the app copies the
stamp of the analysed frame next to its overlay. After START, the first name and a warm-up, the
counting switch is on for the measurement window. Inputs:

    a  1 enrolled face            c  5 enrolled faces
    b  3 enrolled + 2 strangers   d  the hamilton clip (Lin-Manuel Miranda enrolled)

Figures are the median of the runs; bench/README.md explains each column.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import psutil

BENCH = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH.parent
sys.path.insert(0, str(PROJECT_ROOT))

from make_videos import FACES, HAMILTON, PEOPLE, Placement, background, make_sprite, photo_path, render  # type: ignore[import-not-found]  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, Frame, Playwright, sync_playwright  # noqa: E402
from run_all import machine as analysis_machine  # type: ignore[import-not-found]  # noqa: E402

from emotion_core import stamp  # noqa: E402
from emotion_core.config import load_settings  # noqa: E402
from emotion_core.recognition import enroll  # noqa: E402
from tests.e2e import harness  # noqa: E402
from tests.e2e.e2e_page import STOP, AppPage  # noqa: E402

OUT = BENCH / "out"
FPS = 30
LOOP_S = 32  # the fake camera loops its file; stamps are unique within a loop
WARMUP_S = 5.0
FIRST_NAME_TIMEOUT_S = 60.0
POLL_S = 1.0
VIEWPORT = {"width": 1400, "height": 1000}
ENROLL_PHOTOS = 3
# Camera photos of people bench/make_videos.py shows in no video (they are strangers here).
STRANGER_PHOTOS = {"alex_lacamoire": "fr__img1.jpg"}


@dataclass(frozen=True)
class Input:
    """A benchmark input: who the camera shows and who is enrolled."""

    key: str
    title: str
    faces: int
    placements: tuple[Placement, ...] = ()
    enrolled: tuple[str, ...] = ()  # folders in ../shared/data/faces enrolled (from photos not shown)

    def names(self) -> list[str]:
        return [PEOPLE[folder][0] for folder in self.enrolled]


INPUTS = {
    "a": Input(
        "a", "1 enrolled face", 1, (Placement("barack_obama", 170, (320, 220), (60, 30), 0.0),), ("barack_obama",)
    ),
    "b": Input(
        "b",
        "3 enrolled + 2 strangers",
        5,
        (
            Placement("joe_biden", 100, (110, 125), (15, 15), 0.0),
            Placement("kit_harington", 100, (320, 125), (15, 15), 1.3),
            Placement("rose_leslie", 100, (530, 125), (15, 15), 2.6),
            Placement("alex_lacamoire", 100, (215, 345), (15, 15), 3.9),
            Placement("john_salley", 100, (425, 345), (15, 15), 5.2),
        ),
        ("joe_biden", "kit_harington", "rose_leslie"),
    ),
    "c": Input(
        "c",
        "5 enrolled faces",
        5,
        tuple(
            Placement(folder, 100, centre, (15, 15), 1.3 * i)
            for i, (folder, centre) in enumerate(
                [
                    ("john_salley", (110, 125)),
                    ("john_savage", (320, 125)),
                    ("john_schneider", (530, 125)),
                    ("john_shimkus", (215, 345)),
                    ("john_simm", (425, 345)),
                ]
            )
        ),
        ("john_salley", "john_savage", "john_schneider", "john_shimkus", "john_simm"),
    ),
    "d": Input("d", "hamilton clip", 1, (), ("lin_manuel_miranda",)),
}


# ---------------------------------------------------------------- inputs


def camera_photo(folder: str) -> Path:
    """The photo of `folder` the camera shows (never one its person is enrolled from)."""
    return FACES / folder / STRANGER_PHOTOS[folder] if folder in STRANGER_PHOTOS else photo_path(folder)


def camera_frames(item: Input) -> Iterator[np.ndarray]:
    """The RGB frames of one loop of `item`'s camera video, each stamped with its number."""
    if item.placements:
        sprites = [make_sprite(camera_photo(p.folder), p.face_px) for p in item.placements]
        base = background()
        source = (render(list(item.placements), sprites, i / FPS, base)[0] for i in range(LOOP_S * FPS))
        frames: Iterator[np.ndarray] = (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) for bgr in source)
    else:
        capture = cv2.VideoCapture(str(HAMILTON))
        clip_fps = capture.get(cv2.CAP_PROP_FPS)
        clip = []
        while (read := capture.read())[0]:
            clip.append(harness.letterbox(cv2.cvtColor(read[1], cv2.COLOR_BGR2RGB)))
        capture.release()
        if not clip:
            raise SystemExit(f"cannot read {HAMILTON}")
        frames = (clip[int(i / FPS * clip_fps) % len(clip)].copy() for i in range(LOOP_S * FPS))
    for number, rgb in enumerate(frames):
        stamp.write_stamp(rgb, number)
        yield rgb


def prepare(item: Input, folder: Path) -> tuple[Path, Path]:
    """Write `item`'s camera video and registry into `folder`; return their paths."""
    video = harness.write_y4m(folder / f"{item.key}.y4m", ((rgb, 1) for rgb in camera_frames(item)), FPS)
    faces = folder / f"{item.key}.faces.pkl"
    settings = load_settings()
    for person in item.enrolled:
        shown = PEOPLE[person][1]
        photos = sorted(p for p in (FACES / person).iterdir() if p.is_file() and p.name != shown)
        enroll(
            faces,
            PEOPLE[person][0],
            photos[:ENROLL_PHOTOS],
            tolerance=settings.tolerance,
            min_face=settings.min_enroll_face,
            max_pixels=settings.max_image_pixels,
        )
    return video, faces


# ---------------------------------------------------------------- processes


def tree(pid: int) -> list[psutil.Process]:
    """The process `pid` and all its descendants (those still alive)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(processes: Sequence[psutil.Process]) -> dict[int, float]:
    """Process id -> user + system CPU seconds so far."""
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
            seconds[process.pid] = times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return seconds


def cores(before: dict[int, float], after: dict[int, float], wall_s: float) -> float:
    """CPU cores used between two `cpu_seconds` snapshots (processes that started count fully)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items()) / wall_s


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (every process, every core)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def rss_mb(processes: Sequence[psutil.Process]) -> float:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total / 2**20


def browser_pid(video: Path) -> int:
    """The main Chromium process among our descendants whose fake camera plays `video`."""
    flag = f"--use-file-for-fake-video-capture={video}"
    for process in psutil.Process().children(recursive=True):
        try:
            if flag in process.cmdline():
                return process.pid
        except psutil.NoSuchProcess:
            pass
    raise RuntimeError(f"no Chromium process found for {video}")


# ---------------------------------------------------------------- one browser tab


@dataclass
class Tab:
    """One Chromium with a fake camera and a tab on the app, and what was read from it."""

    browser: Browser
    context: BrowserContext
    app: AppPage
    pid: int
    local: list[tuple[float, int]] = field(default_factory=list)  # (presented at, s; frame number)
    remote: list[tuple[float, int | None, int | None]] = field(default_factory=list)  # (s, shown, analysed)
    unreadable: Counter = field(default_factory=Counter)
    stats: list[dict] = field(default_factory=list)
    page_fps: list[float] = field(default_factory=list)
    clicked_at: float = 0.0
    first_name_s: float | None = None

    def webrtc(self) -> Frame | None:
        return self.app.page.frame(url=lambda url: "streamlit_webrtc" in url)

    def drain(self) -> None:
        """Move the stamps read in the page since the last call into `local` and `remote`."""
        frame = self.webrtc()
        if frame is None:
            return
        for sample in frame.evaluate("() => window.__bench ? window.__bench.take() : []"):
            shown = stamp.decode(sample["f"])
            if shown is None:
                self.unreadable[sample["k"]] += 1
            if sample["k"] == "local":
                if shown is not None:
                    self.local.append((sample["t"] / 1000, shown))
            else:
                self.remote.append((sample["t"] / 1000, shown, stamp.decode(sample["a"])))

    def page_clock(self) -> float:
        """Now, in seconds, on the clock the page stamps its frames with."""
        frame = self.webrtc()
        return frame.evaluate("() => window.__bench.now()") / 1000 if frame is not None else time.time()

    def read_stats(self) -> None:
        frame = self.webrtc()
        found = frame.evaluate("() => window.__bench.stats()") if frame is not None else None
        if found:
            self.stats.append(found)

    def read_page(self, names: Sequence[str]) -> None:
        """Note the page's "fps processed" and the time of the first correct name."""
        figures = self.app.figures()
        if figures is None:
            return
        self.page_fps.append(figures.fps)
        if self.first_name_s is None and any(name in figures.in_view for name in names):
            self.first_name_s = time.monotonic() - self.clicked_at

    def close(self) -> None:
        self.context.close()
        self.browser.close()


def open_tab(driver: Playwright, video: Path, url: str) -> Tab:
    script = (BENCH / "e2e_browser.js").read_text()
    cells = {corner: stamp.cell_rects(corner) for corner in (stamp.FRAME, stamp.ANALYSED)}
    browser = harness.launch_chromium(driver, video)
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(script.replace("__CELLS__", json.dumps(cells)))
    app = AppPage(context.new_page(), url).open()
    return Tab(browser, context, app, browser_pid(video))


# ---------------------------------------------------------------- figures from the stamps


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(values, q))


def absolute_numbers(samples: Sequence[tuple[float, int]]) -> list[tuple[float, int]]:
    """(time, number) with the camera's loop undone: numbers keep increasing across loops."""
    loop, last, out = 0, None, []
    for t, n in samples:
        if last is not None and n < last - LOOP_S * FPS // 2:
            loop += 1
        last = n
        out.append((t, n + loop * LOOP_S * FPS))
    return out


def stream_figures(tab: Tab, start: float, end: float) -> dict:
    """Content fps, camera fps, lag and overlay age of one tab over [start, end] (page clock, s)."""
    loop = LOOP_S * FPS
    camera = absolute_numbers(tab.local)
    camera_at: dict[int, float] = {}
    for t, n in camera:
        camera_at.setdefault(n, t)
    shown = [(t, n, a) for t, n, a in tab.remote if n is not None]
    remote = absolute_numbers([(t, n) for t, n, _ in shown])
    if remote and camera:
        # Align the returned video's loops with the camera's: its first frame is the latest camera
        # frame with that number presented before it.
        t0, n0 = remote[0]
        candidates = [n for n, t in camera_at.items() if n % loop == n0 and t <= t0]
        offset = (max(candidates) - n0) if candidates else 0
        remote = [(t, n + offset) for t, n in remote]
    in_window = [(t, n, a) for (t, n), (_, _, a) in zip(remote, shown) if start <= t <= end]
    first_seen: dict[int, tuple[float, int | None]] = {}
    for t, n, a in in_window:
        first_seen.setdefault(n, (t, a))
    lags = [1000 * (t - camera_at[n]) for n, (t, _) in first_seen.items() if n in camera_at]
    ages = []
    for n, (_, a) in first_seen.items():
        if a is None:
            continue
        analysed = n - (n - a) % loop  # the analysed frame is never newer than the shown one
        if n in camera_at and analysed in camera_at:
            ages.append(1000 * (camera_at[n] - camera_at[analysed]))
    seconds = end - start
    content = len(first_seen) / seconds
    camera_fps = len({n for t, n in camera if start <= t <= end}) / seconds
    presented = sum(1 for t, _, _ in tab.remote if start <= t <= end)
    return {
        "content_fps": content,
        "camera_fps": camera_fps,
        "ratio": content / camera_fps if camera_fps else None,
        "lag_p50_ms": percentile(lags, 50),
        "lag_p95_ms": percentile(lags, 95),
        "overlay_age_p50_ms": percentile(ages, 50),
        "overlay_age_p95_ms": percentile(ages, 95),
        "overlay_share": len(ages) / len(first_seen) if first_seen else None,
        "presented_fps": presented / seconds,
        "camera_frames_read": len(tab.local),
        "returned_frames_read": len(remote),
        "analysed_stamps_read": sum(1 for _, _, a in shown if a is not None),
        "unreadable_stamps": dict(tab.unreadable),
    }


def sent_figures(tab: Tab) -> dict:
    """The resolution the browser sends at the end of the window, why it is limited, and the
    received frame rate WebRTC reports (it counts repeated frames too)."""
    received = [s["received"]["fps"] for s in tab.stats if s.get("received", {}).get("fps") is not None]
    inbound = {"inbound_fps": statistics.median(received) if received else None}
    sent = [s["sent"] for s in tab.stats if s.get("sent")]
    if not sent:
        return {"sent_resolution": None, "quality_limitation": None, **inbound}
    last = sent[-1]
    first_durations, last_durations = sent[0].get("durations") or {}, last.get("durations") or {}
    spent = {reason: last_durations.get(reason, 0) - first_durations.get(reason, 0) for reason in last_durations}
    limited = {reason: s for reason, s in spent.items() if reason != "none" and s > 0}
    total = sum(spent.values())
    return {
        "sent_resolution": f"{last.get('width')}x{last.get('height')}",
        "quality_limitation": last.get("reason"),
        "quality_limited_share": {r: round(s / total, 2) for r, s in limited.items()} if total else {},
        **inbound,
    }


def observation_figures(db_path: Path, names: Sequence[str], period: float) -> dict:
    """Observations per person per sampling period in the last counting session of the database."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        session = db.execute("SELECT id, started_at, ended_at FROM sessions ORDER BY id DESC LIMIT 1").fetchone()
        if session is None or session[2] is None:
            return {"observations_per_person_period": None, "observations": {}}
        rows = dict(
            db.execute("SELECT person, COUNT(*) FROM observations WHERE session_id = ? GROUP BY person", (session[0],))
        )
    periods = (session[2] - session[1]) / period
    per_person = {name: rows.get(name, 0) / periods for name in names}
    return {
        "observations_per_person_period": statistics.mean(per_person.values()) if per_person else None,
        "observations_per_period": {name: round(v, 2) for name, v in per_person.items()},
        "observations": rows,
        "counting_s": session[2] - session[1],
    }


# ---------------------------------------------------------------- one run


def poll(tabs: Sequence[Tab], names: Sequence[str], until: float, stats: bool = True) -> None:
    """Drain stamps and read the page (and WebRTC stats) about once a second until `until`."""
    while True:
        for tab in tabs:
            tab.drain()
            tab.read_page(names)
            if stats:
                tab.read_stats()
        left = until - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(POLL_S, left))


def start_and_warm_up(tabs: Sequence[Tab], names: Sequence[str], warmup_s: float) -> None:
    """Press START in every tab, wait for a correct name in each (or give up), then warm up."""
    for tab in tabs:
        tab.clicked_at = tab.app.start_camera()
    deadline = time.monotonic() + FIRST_NAME_TIMEOUT_S
    while time.monotonic() < deadline and any(tab.first_name_s is None for tab in tabs):
        poll(tabs, names, time.monotonic() + 0.25, stats=False)
    poll(tabs, names, time.monotonic() + warmup_s)


def run_once(
    item: Input, video: Path, faces: Path, seconds: float, browsers: int, warmup_s: float, log_dir: Path
) -> list[dict]:
    """One run of `item`: a fresh server and `browsers` fresh Chromiums; figures per browser."""
    names = item.names()
    period = load_settings().sample_period
    with tempfile.TemporaryDirectory(prefix="e2e-bench-") as temp:
        folder = Path(temp)
        shutil.copyfile(faces, folder / "faces.pkl")
        server = harness.start_server(folder, {"EMOTION_BENCH_STAMP": "1"})
        try:
            with sync_playwright() as driver:
                cameras = [video]
                for n in range(1, browsers):  # one Chromium per camera, told apart by the file name
                    cameras.append(folder / f"{video.stem}-{n}.y4m")
                    cameras[-1].symlink_to(video)
                tabs = [open_tab(driver, camera, server.url) for camera in cameras]
                try:
                    return measure(tabs, server, names, seconds, warmup_s, period, counting=browsers == 1)
                finally:
                    for tab in tabs:
                        tab.close()
        finally:
            harness.stop_server(server, f"e2e-{item.key}", log_dir)


def measure(
    tabs: Sequence[Tab],
    server: harness.AppServer,
    names: Sequence[str],
    seconds: float,
    warmup_s: float,
    period: float,
    counting: bool,
) -> list[dict]:
    start_and_warm_up(tabs, names, warmup_s)
    if counting:
        tabs[0].app.set_counting(True)
    for tab in tabs:
        tab.drain()
        tab.stats.clear()
        tab.page_fps.clear()
    start = [tab.page_clock() for tab in tabs]
    began = time.monotonic()
    server_cpu = cpu_seconds(tree(server.process.pid))
    browser_cpu = [cpu_seconds(tree(tab.pid)) for tab in tabs]
    machine_busy = busy_seconds()
    poll(tabs, names, began + seconds)
    wall = time.monotonic() - began
    machine_cores = (busy_seconds() - machine_busy) / wall
    server_cores = cores(server_cpu, cpu_seconds(tree(server.process.pid)), wall)
    browser_cores = [cores(before, cpu_seconds(tree(tab.pid)), wall) for before, tab in zip(browser_cpu, tabs)]
    end = [tab.page_clock() for tab in tabs]
    streaming = [tab.app.camera.get_by_role("button", name=STOP).is_visible() for tab in tabs]
    for tab in tabs:
        tab.drain()
    if counting:
        tabs[0].app.set_counting(False)
    results = []
    for tab, t0, t1, cpu, alive in zip(tabs, start, end, browser_cores, streaming):
        analysis = statistics.median(tab.page_fps) if tab.page_fps else None
        results.append(
            {
                **stream_figures(tab, t0, t1),
                "analysis_fps": analysis,
                "first_name_s": tab.first_name_s,
                **(observation_figures(server.db_path, names, period) if counting else {}),
                "server_cores": server_cores,
                "browser_cores": cpu,
                **sent_figures(tab),
                "still_streaming": alive,  # STOP still shown at the end of the window
                "machine_busy_cores": machine_cores,
                "load_average": os.getloadavg()[0],
                "window_s": t1 - t0,
            }
        )
    return results


# ---------------------------------------------------------------- soak


def soak(item: Input, video: Path, faces: Path, seconds: float, log_dir: Path) -> dict:
    """Stream `item` for `seconds`: server memory growth, and what is left after STOP and closing the tab."""
    names = item.names()
    with tempfile.TemporaryDirectory(prefix="e2e-soak-") as temp:
        folder = Path(temp)
        shutil.copyfile(faces, folder / "faces.pkl")
        server = harness.start_server(folder, {"EMOTION_BENCH_STAMP": "1"})
        root = psutil.Process(server.process.pid)
        try:
            with sync_playwright() as driver:
                tab = open_tab(driver, video, server.url)
                try:
                    threads_before, children_before = root.num_threads(), len(root.children(recursive=True))
                    start_and_warm_up([tab], names, WARMUP_S)
                    start, began = tab.page_clock(), time.monotonic()
                    rss_start = rss_mb(tree(root.pid))
                    rss = [rss_start]
                    while time.monotonic() - began < seconds:
                        poll([tab], names, min(began + seconds, time.monotonic() + 10), stats=False)
                        rss.append(rss_mb(tree(root.pid)))
                        print(f"  soak {time.monotonic() - began:.0f} s RSS {rss[-1]:.0f} MB", file=sys.stderr)
                    figures = stream_figures(tab, start, tab.page_clock())
                    streaming = tab.app.camera.get_by_role("button", name=STOP).is_visible()
                    if streaming:
                        tab.app.stop_camera()
                finally:
                    tab.close()
                time.sleep(5)  # the server notices the closed tab
                threads_after = root.num_threads()
                leftover = [f"{p.pid} {p.name()}" for p in root.children(recursive=True)]
        finally:
            harness.stop_server(server, "e2e-soak", log_dir)
    return {
        "seconds": seconds,
        "rss_start_mb": rss_start,
        "rss_end_mb": rss[-1],
        "rss_max_mb": max(rss),
        "rss_growth_mb": rss[-1] - rss_start,
        "threads_before_start": threads_before,
        "threads_after_close": threads_after,
        "children_before_start": children_before,
        "children_after_close": leftover,
        "rss_every_10s_mb": [round(value) for value in rss],
        "still_streaming": streaming,  # STOP still shown at the end (else the stream ended by itself)
        "content_fps": figures["content_fps"],
        "ratio": figures["ratio"],
    }


# ---------------------------------------------------------------- output


NUMERIC = (
    "content_fps",
    "camera_fps",
    "ratio",
    "lag_p50_ms",
    "lag_p95_ms",
    "overlay_age_p50_ms",
    "overlay_age_p95_ms",
    "overlay_share",
    "analysis_fps",
    "analysis_fps_per_face",
    "first_name_s",
    "observations_per_person_period",
    "server_cores",
    "browser_cores",
    "presented_fps",
    "inbound_fps",
    "machine_busy_cores",
    "load_average",
)


def summarise(runs: Sequence[dict]) -> dict:
    """The median of each figure over `runs`, the most common resolution and limitation, and in
    how many runs the stream was still on at the end."""
    summary: dict = {}
    for key in NUMERIC:
        values = [run[key] for run in runs if run.get(key) is not None]
        summary[key] = statistics.median(values) if values else None
    summary["still_streaming"] = f"{sum(bool(run.get('still_streaming')) for run in runs)}/{len(runs)}"
    for key in ("sent_resolution", "quality_limitation"):
        values = [run.get(key) for run in runs if run.get(key)]
        summary[key] = Counter(values).most_common(1)[0][0] if values else None
    return summary


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(results: dict[str, dict]) -> str:
    lines = [
        "| input | content fps | camera fps | ratio | lag p50 / p95 ms | overlay age p50 / p95 ms "
        "| analysis fps per face | START → name s | obs / person / period | server cores | browser cores "
        "| sent (limitation) | streaming at the end |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, result in results.items():
        m = result["median"]
        lines.append(
            f"| {key}: {result['title']} | {fmt(m['content_fps'])} | {fmt(m['camera_fps'])} | {fmt(m['ratio'], 2)} "
            f"| {fmt(m['lag_p50_ms'], 0)} / {fmt(m['lag_p95_ms'], 0)} "
            f"| {fmt(m['overlay_age_p50_ms'], 0)} / {fmt(m['overlay_age_p95_ms'], 0)} "
            f"| {fmt(m['analysis_fps_per_face'])} | {fmt(m['first_name_s'])} "
            f"| {fmt(m['observations_per_person_period'], 2)} | {fmt(m['server_cores'], 2)} "
            f"| {fmt(m['browser_cores'], 2)} | {m['sent_resolution'] or '-'} ({m['quality_limitation'] or '-'}) "
            f"| {m.get('still_streaming', '-')} |"
        )
    return "\n".join(lines)


def machine() -> str:
    """The analysis bench's machine description and the Chromium version."""
    chromium = subprocess.run([str(harness.CHROMIUM), "--version"], capture_output=True, text=True).stdout.strip()
    return f"{analysis_machine()}; {chromium}"


# ---------------------------------------------------------------- main


def in_namespace(argv: Sequence[str]) -> None:
    """Re-execute this script in a loopback-only network namespace unless already in one."""
    if os.environ.get("EMOTION_E2E") != "1":
        flags = "-n" if os.getuid() == 0 else "-rn"
        os.execvp("unshare", ["unshare", flags, "env", "EMOTION_E2E=1", sys.executable, __file__, *argv])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    if not harness.only_loopback():
        raise SystemExit("bench/e2e.py must run in a loopback-only network namespace")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", default="a,b,c,d", help="comma-separated inputs among a,b,c,d")
    parser.add_argument("--runs", type=int, default=3, help="runs per input (the table gives the median)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window per run")
    parser.add_argument("--warmup", type=float, default=WARMUP_S, help="seconds after the first name")
    parser.add_argument("--browsers", type=int, default=1, help="browsers streaming to one server at once")
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="instead: stream input c this long")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--table", type=Path, metavar="JSON", help="instead: print the table of a saved --json output")
    args = parser.parse_args(argv)
    if args.table:
        print_table(json.loads(args.table.read_text()), args.runs)
        return 0
    keys = [key.strip() for key in args.inputs.split(",") if key.strip()]
    unknown = [key for key in keys if key not in INPUTS]
    if unknown or args.runs < 1 or args.seconds <= 0 or args.browsers < 1:
        parser.error(f"unknown input(s) {', '.join(unknown)}" if unknown else "runs, seconds, browsers must be > 0")
    in_namespace(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server and browsers on the way out
    log_dir = OUT / "e2e-logs"
    results: dict = {"machine": machine(), "seconds": args.seconds, "browsers": args.browsers, "inputs": {}}
    with tempfile.TemporaryDirectory(prefix="e2e-inputs-") as temp:
        if args.soak:
            item = INPUTS["c"]
            print(f"building input c in {temp} ...", file=sys.stderr)
            video, faces = prepare(item, Path(temp))
            results["soak"] = soak(item, video, faces, args.soak, log_dir)
            print(json.dumps(results, indent=2))
            return 0
        for key in keys:
            item = INPUTS[key]
            print(f"building input {key} ({item.title}) in {temp} ...", file=sys.stderr)
            video, faces = prepare(item, Path(temp))
            runs: list[dict] = []
            for run in range(args.runs):
                per_browser = run_once(item, video, faces, args.seconds, args.browsers, args.warmup, log_dir)
                for browser, figures in enumerate(per_browser):
                    if figures["analysis_fps"] is not None:
                        figures["analysis_fps_per_face"] = figures["analysis_fps"] / item.faces
                    figures.update(run=run, browser=browser)
                    runs.append(figures)
                    print(
                        f"  {key} run {run + 1} browser {browser + 1}: content {fmt(figures['content_fps'])} fps, "
                        f"camera {fmt(figures['camera_fps'])} fps, lag p50 {fmt(figures['lag_p50_ms'], 0)} ms, "
                        f"name {fmt(figures['first_name_s'])} s",
                        file=sys.stderr,
                    )
            results["inputs"][key] = {
                "title": item.title,
                "faces": item.faces,
                "runs": runs,
                "median": summarise(runs),
                "median_per_browser": [summarise([r for r in runs if r["browser"] == b]) for b in range(args.browsers)],
            }
            video.unlink()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results, args.runs)
    return 0


def print_table(results: dict, runs: int) -> None:
    print(f"\nEnd to end, median of {runs} run(s), {results['seconds']:g} s windows, {results['machine']}\n")
    print(table(results["inputs"]))
    if results["browsers"] > 1:
        for key, result in results["inputs"].items():
            ratios = [fmt(m["ratio"], 2) for m in result["median_per_browser"]]
            print(f"\n{key}: content fps / camera fps per browser: {', '.join(ratios)}")


if __name__ == "__main__":
    sys.exit(main())
