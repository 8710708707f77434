"""faces.pkl survives: kill -9 during a save, two processes enrolling at once, a full disk, a
truncated file (reported, never overwritten)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from emotion_core.config import Settings
from emotion_core.images import load_image
from emotion_core.recognition import detect_faces, encode_faces
from emotion_core.registry import Registry, load_registry, save_registry
from tests.data import FACES, PROJECT_ROOT, photos
from tests.integration.helpers import assert_bad_input, cli

pytestmark = pytest.mark.requires_data

JOHNS = ["john_salley", "john_savage", "john_schneider", "john_shimkus", "john_simm"]


def child(script: str, *args: object, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *map(str, args)], cwd=PROJECT_ROOT, **popen)


@pytest.fixture(scope="module")
def real_encodings(tmp_path_factory) -> Path:
    """40 real face encodings (the 150x150 crops of five people), saved as .npy."""
    rows = []
    for person in JOHNS:
        for photo in photos(person)[:8]:
            rgb = load_image(photo)
            rows.append(encode_faces(rgb, detect_faces(rgb)[:1])[0])
    path = tmp_path_factory.mktemp("enc") / "encodings.npy"
    np.save(path, np.vstack(rows))
    return path


SAVER = """
    import sys
    import numpy as np
    from emotion_core.registry import add_person
    path, rows = sys.argv[1], np.load(sys.argv[2])
    for i in range(10_000):
        add_person(path, f"Person {i}", rows[i % len(rows): i % len(rows) + 1])
        print(i, flush=True)
"""


def test_kill_9_during_save_leaves_the_last_good_version(tmp_path, real_encodings):
    """A big registry makes each save long; the child is killed while a temporary file exists."""
    path = tmp_path / "faces.pkl"
    rows = np.load(real_encodings)
    big = np.tile(rows, (400, 1))  # 16,000 encodings, about 17 MB on disk
    save_registry(path, Registry(tuple(f"Base {i}" for i in range(len(big))), big))
    rng = random.Random(1)
    kills_mid_write = 0
    for _ in range(6):
        before = len(load_registry(path))
        process = child(SAVER, path, real_encodings, stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(tmp_path.glob(".faces.pkl.*.tmp")):
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.05))
        writing = bool(list(tmp_path.glob(".faces.pkl.*.tmp")))
        process.send_signal(signal.SIGKILL)
        reported = process.stdout.read().split()
        process.wait()
        kills_mid_write += writing
        registry = load_registry(path)  # never corrupt
        # Every completed save is there; at most the save in progress is lost.
        assert len(registry) in (before + len(reported), before + len(reported) + 1)
        if len(registry) > before:
            assert registry.names[-1] == f"Person {len(registry) - before - 1}"
        assert len(load_registry(path.with_name("faces.pkl.bak"))) <= len(registry)
    assert kills_mid_write >= 3
    # The next writer cleans up what the dead one left and saves normally.
    done = child(SAVER.replace("range(10_000)", "range(1)"), path, real_encodings, stdout=subprocess.DEVNULL)
    assert done.wait(120) == 0
    assert not list(tmp_path.glob(".faces.pkl.*.tmp"))


ENROLLER = """
    import sys, time
    from pathlib import Path
    import numpy as np
    from emotion_core.registry import add_person
    path, rows, first, go = sys.argv[1], np.load(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():
        time.sleep(0.001)
    for i in range(first, first + 20):
        add_person(path, f"Person {i:02d}", rows[i:i + 1])
"""


def test_two_processes_enrolling_20_people_each_keep_all_40(tmp_path, real_encodings):
    path, go = tmp_path / "faces.pkl", tmp_path / "go"
    workers = [child(ENROLLER, path, real_encodings, first, go) for first in (0, 20)]
    time.sleep(1.0)  # both processes are importing; they start together on the go file
    go.touch()
    assert [worker.wait(300) for worker in workers] == [0, 0]
    registry = load_registry(path)
    assert sorted(registry.names) == [f"Person {i:02d}" for i in range(40)]
    rows = np.load(real_encodings)
    for name, encoding in zip(registry.names, registry.encodings):
        assert np.array_equal(encoding, rows[int(name.split()[1])])


REAL_ENROLLER = """
    import sys
    from emotion_core.recognition import enroll
    path, tolerance = sys.argv[1], float(sys.argv[2])
    for person_dir in sys.argv[3:]:
        from pathlib import Path
        person = Path(person_dir)
        enroll(path, person.name.replace("_", " ").title(), sorted(person.iterdir())[:2], tolerance=tolerance)
"""


def test_concurrent_real_enrollments_keep_every_person(tmp_path):
    path = tmp_path / "faces.pkl"
    tolerance = Settings().tolerance
    groups = [[FACES / p for p in JOHNS[:3]], [FACES / p for p in JOHNS[3:]] + [FACES / "kit_harington"]]
    workers = [child(REAL_ENROLLER, path, tolerance, *group) for group in groups]
    assert [worker.wait(600) for worker in workers] == [0, 0]
    expected = {p.replace("_", " ").title(): 2 for p in [*JOHNS, "kit_harington"]}
    assert load_registry(path).people() == expected


FULL_DISK = """
    import json, os, resource, signal, sys
    from pathlib import Path
    import numpy as np
    from emotion_core.errors import RegistryError
    from emotion_core.registry import add_person, load_registry
    folder, rows, limit = Path(sys.argv[1]), np.load(sys.argv[2]), int(sys.argv[3])
    if limit:  # no tmpfs: the same ENOSPC-like failure through a file size limit (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    path = folder / "faces.pkl"
    saved, error = 0, None
    for i in range(10_000):
        good = path.read_bytes() if path.exists() else b""
        try:
            add_person(path, f"Person {i}", rows[:20])
            saved += 1
        except RegistryError as exc:
            error = str(exc)
            break
    print(json.dumps({
        "saved": saved, "error": error, "intact": path.read_bytes() == good,
        "loads": len(load_registry(path)), "leftovers": [p.name for p in folder.glob("*.tmp")]
                 + [p.name for p in folder.glob(".*.tmp")],
    }))
"""


def _full_disk_report(tmp_path: Path, real_encodings: Path) -> dict:
    folder = tmp_path / "small"
    folder.mkdir()
    script = textwrap.dedent(FULL_DISK)
    if shutil.which("unshare") and os.geteuid() == 0:
        shell = (
            f"mount -t tmpfs -o size=300k tmpfs {folder} && "
            f'exec {sys.executable} -c "$SCRIPT" {folder} {real_encodings} 0'
        )
        done = subprocess.run(
            ["unshare", "-m", "sh", "-c", shell],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "SCRIPT": script},
        )
        if done.returncode == 0:
            return json.loads(done.stdout)
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder), str(real_encodings), str(300_000)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_full_disk_gives_a_clear_error_and_keeps_the_previous_file(tmp_path, real_encodings):
    report = _full_disk_report(tmp_path, real_encodings)
    assert report["saved"] >= 1, report
    assert report["error"] and "cannot save" in report["error"] and "previous version is unchanged" in report["error"]
    assert "No space left" in report["error"] or "File too large" in report["error"]
    assert report["intact"] and report["loads"] == 20 * report["saved"]
    assert report["leftovers"] == []


def test_truncated_registry_is_reported_and_never_overwritten(tmp_path, real_encodings):
    path = tmp_path / "faces.pkl"
    rows = np.load(real_encodings)
    save_registry(path, Registry(("Ann", "Bob"), rows[:2]))
    path.write_bytes(path.read_bytes()[:300])
    broken = path.read_bytes()
    for args in (
        ["people"],
        ["enroll", "Kit Harington", photos("kit_harington")[0]],
        ["enroll", "--force", "Kit Harington", photos("kit_harington")[0]],
        ["forget", "Ann"],
        ["identify", photos("kit_harington")[0]],
    ):
        assert_bad_input(cli(*args, faces=path), "corrupt or truncated", "faces.pkl.bak")
        assert path.read_bytes() == broken
