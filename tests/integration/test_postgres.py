"""Several processes on one real PostgreSQL server: the shared registry, the CLI, schema upgrades
that do not race, and erasure of forgotten names from the database files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest

from emotion_core.calibration import make_baseline
from emotion_core.config import DbTimeouts
from emotion_core.db import make_engine
from emotion_core.errors import EnrollmentError
from emotion_core.registry import (
    FileRegistry,
    RegistryWatcher,
    add_person,
    load_registry,
    remove_person,
    set_baseline,
)
from emotion_core.registry_db import DatabaseRegistry
from emotion_core.store import EmotionLog, Observation
from tests.data import GROUPS, PROJECT_ROOT, photos

RNG = np.random.default_rng(14)
RELATIONS = (
    "observations",
    "sessions",
    "enrolled_faces",
    "calibration_baselines",
    "ix_observations_person",
    "ix_enrolled_faces_name",
    "calibration_baselines_pkey",
    "pg_statistic",
)
"""Every relation file that held the forgotten name (tables, indexes, the statistics catalog)."""


def encodings(n: int) -> np.ndarray:
    rows = RNG.normal(size=(n, 128))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True) * 0.9


def cli(*args: object, db_url: str, faces: Path | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh process with EMOTION_DB_URL=`db_url` (and --faces `faces` when given)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_")}
    environment["EMOTION_DB_URL"] = db_url
    command = [sys.executable, "-m", "emotion_core"]
    if faces is not None:
        command += ["--faces", str(faces)]
    return subprocess.run(
        command + [str(a) for a in args], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(params=["file", "database"])
def store(request, tmp_path):
    """The registry kept by each backend: faces.pkl (with SQLite), the database (with PostgreSQL)."""
    if request.param == "file":
        yield FileRegistry(tmp_path / "faces.pkl")
        return
    database = DatabaseRegistry(request.getfixturevalue("pg_url"))
    yield database
    database.close()


def test_each_registry_store_adds_and_removes_people(store):
    ann, bob = encodings(2), encodings(1)
    add_person(store, "Ann", ann)
    add_person(store, "Bob", bob)
    assert store.load().people() == {"Ann": 2, "Bob": 1}
    np.testing.assert_array_equal(store.load().encodings_of("Ann"), ann)
    before = store.version()
    remove_person(store, "Ann")
    assert store.load().people() == {"Bob": 1} and store.version() != before
    with pytest.raises(EnrollmentError, match="no enrolled person"):
        remove_person(store, "Ann")


def test_each_registry_store_keeps_a_baseline_with_its_person(store):
    add_person(store, "Ann", encodings(2))
    add_person(store, "Bob", encodings(1))
    baseline = make_baseline(RNG.dirichlet(np.ones(8), size=12), "faceapi", recorded_at=1_700_000_000.25)
    set_baseline(store, "Ann", baseline)
    assert store.load().baselines == {"Ann": baseline}  # the same probabilities, frames, time and model
    replaced = make_baseline([np.eye(8)[1]], "human")
    set_baseline(store, "Ann", replaced)
    assert store.load().baselines == {"Ann": replaced}
    add_person(store, "Ann", encodings(1))  # enrolling more photos keeps the baseline
    assert store.load().baselines == {"Ann": replaced}
    set_baseline(store, "Ann", None)
    assert store.load().baselines == {}
    with pytest.raises(EnrollmentError, match="no enrolled person"):
        set_baseline(store, "Carl", baseline)
    set_baseline(store, "Bob", baseline)
    remove_person(store, "Bob")
    assert store.load().baselines == {}
    add_person(store, "Bob", encodings(1))  # enrolled again: no baseline comes back
    assert store.load().baselines == {}


def test_a_baseline_left_by_a_server_of_the_previous_build_never_comes_back(pg_url):
    """Servers before migration 0005 removed a person's encodings only: re-enrolling gets no baseline."""
    registry = DatabaseRegistry(pg_url)
    try:
        add_person(registry, "Ann", encodings(1))
        set_baseline(registry, "Ann", make_baseline([np.eye(8)[0]], "faceapi"))
        with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
            conn.execute("DELETE FROM enrolled_faces WHERE name = 'Ann'")  # what that build's forget did
        assert registry.load().baselines == {}
        add_person(registry, "Ann", encodings(1))
        assert registry.load().baselines == {}
        with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT count(*) FROM calibration_baselines").fetchone() == (0,)
    finally:
        registry.close()


def test_a_watcher_sees_changes_made_by_another_process_within_seconds(pg_url):
    writer, reader = DatabaseRegistry(pg_url), DatabaseRegistry(pg_url)
    watcher = RegistryWatcher(reader, period=0.5)
    try:
        assert len(watcher.current()) == 0
        add_person(writer, "Ann", encodings(1))
        deadline = time.monotonic() + 5.0
        while "Ann" not in watcher.current().people():
            assert time.monotonic() < deadline, "the enrollment was not seen within 5 s"
            time.sleep(0.1)
        same = watcher.current()
        assert watcher.current() is same  # unchanged: no reload
        baseline = make_baseline([np.eye(8)[0]], "faceapi")
        set_baseline(writer, "Ann", baseline)
        deadline = time.monotonic() + 5.0
        while watcher.current().baselines.get("Ann") != baseline:
            assert time.monotonic() < deadline, "the calibration was not seen within 5 s"
            time.sleep(0.1)
        remove_person(writer, "Ann")
        deadline = time.monotonic() + 5.0
        while watcher.current().people():
            assert time.monotonic() < deadline, "the deletion was not seen within 5 s"
            time.sleep(0.1)
    finally:
        writer.close()
        reader.close()


@pytest.mark.requires_data
def test_cli_processes_share_people_through_the_database(pg_url, tmp_path):
    """enroll in one process, identify --json in another with a different --faces path names the person."""
    done = cli("enroll", "Barack Obama", *photos("barack_obama")[:2], db_url=pg_url, faces=tmp_path / "a.pkl")
    assert done.returncode == 0, done.stderr
    assert "the database" in done.stdout and not (tmp_path / "a.pkl").exists()
    done = cli("identify", "--json", GROUPS / "fr__two_people.jpg", db_url=pg_url, faces=tmp_path / "b.pkl")
    assert done.returncode == 0, done.stderr
    names = [face["name"] for face in json.loads(done.stdout)[0]["faces"]]
    assert "Barack Obama" in names
    done = cli("identify", "--json", GROUPS / "fr__two_people.jpg", db_url=pg_url)  # no --faces at all
    assert "Barack Obama" in done.stdout

    # Export to a file and import into another database: the same people, with their baselines.
    baseline = make_baseline([np.eye(8)[0]], "faceapi")
    registry = DatabaseRegistry(pg_url)
    set_baseline(registry, "Barack Obama", baseline)
    registry.close()
    exported = tmp_path / "export.pkl"
    assert cli("faces", "export", exported, db_url=pg_url).returncode == 0
    assert load_registry(exported).people() == {"Barack Obama": 2}
    other = f"sqlite:///{tmp_path / 'other.db'}"
    done = cli("faces", "import", exported, db_url=other, faces=tmp_path / "c.pkl")
    assert done.returncode == 0, done.stderr
    assert load_registry(tmp_path / "c.pkl").people() == {"Barack Obama": 2}
    assert load_registry(tmp_path / "c.pkl").baselines == {"Barack Obama": baseline}
    tampered = tmp_path / "tampered.pkl"
    tampered.write_bytes(b"cos\nsystem\n(S'echo owned'\ntR.")
    done = cli("faces", "import", tampered, db_url=pg_url)
    assert done.returncode == 2 and "refusing to load" in done.stderr
    assert cli("people", "--json", db_url=pg_url).stdout.count('"name"') == 1


def test_forget_leaves_the_name_in_no_table_and_no_table_or_index_file(pg_url, postgres, tmp_path):
    name = "Zebulon Quetzalcoatl"  # unmistakable in a byte scan
    registry = DatabaseRegistry(pg_url)
    add_person(registry, name, encodings(2))
    set_baseline(registry, name, make_baseline([np.eye(8)[0]], "faceapi"))
    registry.close()
    log = EmotionLog(pg_url)
    try:
        session = log.start_session(time.time(), None, {})
        log.add_observations(session, [Observation(time.time(), name, "Happy", 0.9)] * 500)
        log.end_session(session, time.time(), {"people": {name: {"score": 50.0}}, "overall_score": 50.0})
        assert log.flush()
    finally:
        log.close()
    with postgres.admin(pg_url.rsplit("/", 1)[1]) as admin:
        admin.execute("ANALYZE observations")  # what autovacuum does: the name among the common values
        admin.execute("CHECKPOINT")
        files = [admin.execute("SELECT pg_relation_filepath(%s)", (relation,)).fetchone()[0] for relation in RELATIONS]
    needle = name.encode()
    held = {relation: needle in (postgres.data_dir / f).read_bytes() for relation, f in zip(RELATIONS, files)}
    assert held == {relation: relation != "pg_statistic" for relation in RELATIONS}  # the scan can find it

    done = cli("--faces", tmp_path / "none.pkl", "forget", name, db_url=pg_url)
    assert done.returncode == 0, done.stderr
    assert "500 emotion record(s)" in done.stdout

    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        tables = [t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):
                assert name not in repr(row), table
    with postgres.admin(pg_url.rsplit("/", 1)[1]) as admin:
        admin.execute("CHECKPOINT")
        relations = [
            admin.execute("SELECT pg_relation_filepath(%s)", (relation,)).fetchone()[0] for relation in RELATIONS
        ]
        holding = [
            relation
            for relation in zip(RELATIONS, relations)
            if any(
                needle in path.read_bytes()
                for path in (postgres.data_dir / relation[1]).parent.glob(Path(relation[1]).name + "*")
            )
        ]
    print(f"\nerasure check: relation files still holding the name after forget: {holding or 'none'}")
    assert holding == []


def test_servers_starting_together_upgrade_the_schema_once(pg_url):
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "emotion_core", "db", "upgrade"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "EMOTION_DB_URL": pg_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(120), p.stdout.read(), p.stderr.read()) for p in processes]
    assert [code for code, _, _ in results] == [0, 0, 0, 0], results
    assert sum("upgraded to" in out for _, out, _ in results) == 1
    again = cli("db", "upgrade", db_url=pg_url)
    assert again.returncode == 0 and "already at" in again.stdout


def test_every_connection_has_the_configured_server_timeouts(pg_url):
    engine = make_engine(f"{pg_url}?options=-c%20work_mem%3D8MB", DbTimeouts(connect_s=3, lock_s=1.5, statement_s=4))
    try:
        with engine.connect() as conn:
            shown = [conn.exec_driver_sql(f"SHOW {name}").scalar() for name in ("lock_timeout", "statement_timeout")]
            assert conn.exec_driver_sql("SHOW work_mem").scalar() == "8MB"  # the URL's own options are kept
    finally:
        engine.dispose()
    assert shown == ["1500ms", "4s"]


def test_the_app_role_is_no_superuser(pg_url):
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (False,)


def test_an_unanswering_server_is_a_clear_error_within_seconds(tmp_path):
    """A port that accepts connections but never answers (a hung server): the CLI gives up quickly."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        began = time.monotonic()
        done = cli("sessions", db_url=f"postgresql+psycopg://app:pw@127.0.0.1:{port}/app")
        waited = time.monotonic() - began
    print(f"\n'sessions' against a silent server returned after {waited:.1f} s: {done.stderr.strip()}")
    assert done.returncode == 2 and "timeout" in done.stderr.lower()
    assert len(done.stderr.strip().splitlines()) == 1
