"""Security settings: the effective Streamlit config, a real server that binds to 127.0.0.1 and
refuses uploads without an XSRF token, no secrets or personal data in the repository, and names
in logs only at debug level."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.data import FACES, GROUPS, PROJECT_ROOT, photos
from tests.integration.helpers import cli
from tests.servers import app_server, clean_env, upload_without_xsrf_token

SECURITY_OPTIONS = (
    "server.enableXsrfProtection",
    "server.enableCORS",
    "server.address",
    "browser.gatherUsageStats",
    "server.allowedHosts",
)


def test_effective_streamlit_config_keeps_xsrf_on_and_binds_to_localhost(tmp_path):
    script = (
        "import json\n"
        "from streamlit import config\n"
        "config.get_config_options(force_reparse=True)\n"
        "options = config._config_options\n"
        f"print(json.dumps({{k: [config.get_option(k), options[k].where_defined] for k in {SECURITY_OPTIONS!r}}}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    effective = json.loads(done.stdout)
    project_file = str(PROJECT_ROOT / ".streamlit" / "config.toml")
    assert effective["server.enableXsrfProtection"][0] is True
    assert effective["server.enableCORS"][0] is True
    assert effective["server.address"] == ["127.0.0.1", project_file]  # read from the project's file
    assert effective["browser.gatherUsageStats"][0] is False


@pytest.fixture
def server(tmp_path):
    with app_server(tmp_path) as running:
        yield running


def test_real_server_listens_on_loopback_only_and_refuses_uploads_without_xsrf_token(server):
    process, port, base = server
    listening = [
        c.laddr for c in psutil.Process(process.pid).net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
    ]
    assert (("127.0.0.1", port)) in [(a.ip, a.port) for a in listening]
    assert all(a.ip == "127.0.0.1" for a in listening), listening
    refused = upload_without_xsrf_token(base)
    assert refused.code == 403  # the XSRF check comes before anything else on the upload route
    assert "XSRF" in refused.read().decode()


# ---- the repository holds no secrets, weights, data or faces --------------------------------------------

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "API secret key": re.compile(r"\bsk-[A-Za-z0-9_-]{32,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "npm token": re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"),
    "credentials in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s@'\"]{6,}@[A-Za-z0-9.-]+"),
}
FORBIDDEN_NAMES = re.compile(
    r"(^|/)(faces\.pkl.*|.*\.(db|sqlite3?|db-wal|db-shm|onnx|dat|bin|npy|npz|pb|tflite|h5|pt|pth|"
    r"mp4|avi|mov|webm|y4m|pem|key|p12|pfx)|\.env|secrets\.toml|id_rsa.*|id_ed25519.*)$"
)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
MAX_FILE_BYTES = 1_000_000


def tracked_files() -> list[str]:
    done = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True)
    return [name for name in done.stdout.decode().split("\0") if name]


def test_no_secrets_in_tracked_files():
    found = []
    for name in tracked_files():
        path = PROJECT_ROOT / name
        if not path.is_file() or path.suffix.lower() in IMAGE_SUFFIXES:
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        found += [f"{name}: {kind}" for kind, pattern in SECRET_PATTERNS.items() if pattern.search(text)]
    assert found == []


def test_no_weights_databases_registries_videos_or_big_files_are_tracked():
    names = tracked_files()
    assert [n for n in names if FORBIDDEN_NAMES.search(n)] == []
    assert [n for n in names if n.startswith("models/") and n != "models/README.md"] == []
    assert [
        n for n in names if (PROJECT_ROOT / n).is_file() and (PROJECT_ROOT / n).stat().st_size > MAX_FILE_BYTES
    ] == []


def test_the_secret_scan_finds_what_it_looks_for():
    """The patterns above are not vacuous: each catches a sample of its kind."""
    samples = {
        "private key": "-----BEGIN OPENSSH " + "PRIVATE KEY-----",
        "AWS access key": "AKIA" + "ABCDEFGHIJKLMNOP",
        "GitHub token": "ghp_" + "a" * 36,
        "Slack token": "xoxb-" + "1234567890-abc",
        "API secret key": "sk-" + "A" * 40,
        "Google API key": "AIza" + "B" * 35,
        "npm token": "npm_" + "c" * 36,
        "credentials in a URL": "postgresql://emotion:" + "hunter22" + "@db.internal/emotions",
    }
    assert all(SECRET_PATTERNS[kind].search(text) for kind, text in samples.items())
    assert FORBIDDEN_NAMES.search("faces.pkl") and FORBIDDEN_NAMES.search("models/x.onnx")
    assert not FORBIDDEN_NAMES.search("emotion_core/store.py")


@pytest.mark.requires_data
def test_tracked_images_show_nobody_but_the_astronaut():
    """Screenshots may show only the astronaut photo: no tracked image holds a face of anyone else
    in ../shared/data/faces (nor is a copy of one of their photos)."""
    images = [PROJECT_ROOT / n for n in tracked_files() if Path(n).suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        return
    from emotion_core.config import Settings
    from emotion_core.images import load_image
    from emotion_core.recognition import Matcher, detect_faces, encode_faces
    from emotion_core.registry import Registry

    shared = {p.read_bytes() for p in FACES.rglob("*") if p.is_file() and "eileen_collins" not in p.parts}
    registry = Registry()
    for person in (d for d in FACES.iterdir() if d.is_dir() and d.name not in ("_groups", "eileen_collins")):
        for photo in photos(person.name):
            rgb = load_image(photo)
            registry = registry.with_person(person.name, encode_faces(rgb, detect_faces(rgb)))
    matcher = Matcher(registry, Settings().tolerance)
    for image in images:
        assert image.read_bytes() not in shared, image
        rgb = load_image(image)
        for encoding in encode_faces(rgb, detect_faces(rgb)):
            name, distance = matcher.match(encoding)
            assert name == "Unknown", f"{image} shows {name} (distance {distance:.2f})"


def test_ignored_paths_cover_runtime_data():
    """faces.pkl, its backup and lock, databases and weights would not be committed by accident."""
    probes = [
        "faces.pkl",
        "faces.pkl.bak",
        "faces.pkl.lock",
        "emotions.db",
        "emotions.db-wal",
        "models/faceapi_expression.onnx",
        "clip.y4m",
    ]
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *probes], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert sorted(done.stdout.split()) == sorted(probes)


# ---- names of people appear in logs at DEBUG level only ------------------------------------------------


@pytest.mark.requires_data
def test_recognition_logs_names_at_debug_only(tmp_path, caplog):
    from emotion_core.config import Settings
    from emotion_core.images import load_image
    from emotion_core.recognition import Matcher, enroll, identify
    from emotion_core.registry import load_registry, remove_person

    caplog.set_level(logging.DEBUG, logger="emotion_core")
    path, tolerance = tmp_path / "faces.pkl", Settings().tolerance
    enroll(path, "Zoë Ångström", photos("rose_leslie")[:1], tolerance=tolerance)
    identify(load_image(GROUPS / "fr__kit_with_rose.jpg"), Matcher(load_registry(path), tolerance))
    remove_person(path, "Zoë Ångström")
    naming = [r for r in caplog.records if "Zoë" in r.getMessage()]
    assert {r.name for r in naming} >= {"emotion_core.recognition", "emotion_core.registry"}
    assert all(r.levelno == logging.DEBUG for r in naming)
    assert [r for r in caplog.records if r.levelno >= logging.INFO]  # the same paths log without names


@pytest.mark.requires_data
def test_cli_stderr_names_people_only_with_verbose(tmp_path):
    path = tmp_path / "faces.pkl"
    quiet = cli("enroll", "Zoë Ångström", photos("rose_leslie")[0], faces=path)
    assert quiet.returncode == 0 and "Zoë" not in quiet.stderr
    verbose = cli("-v", "identify", GROUPS / "fr__kit_with_rose.jpg", faces=path)
    naming = [line for line in verbose.stderr.splitlines() if "Zoë" in line]
    assert naming and all(line.startswith("DEBUG ") for line in naming)
